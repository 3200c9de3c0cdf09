"""Adaptive search with Optuna: every trial an experiment; a killed driver restarted rebuilds the study
from the stored experiments, and no trial is lost or executed twice."""

import collections
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

pytest.importorskip("optuna")

from machinable import find, get  # noqa: E402
from machinable.errors import ValidationError  # noqa: E402
from machinable.sweep import Search, uniform  # noqa: E402
from sweep_support import LOGGING, finish, kill_when, log_lines, start_driver  # noqa: E402

QUAD = LOGGING + '''

class Quad(Experiment):
    """A known minimum: loss 0 at x=2, y=-1, opt="b"."""

    @dataclass
    class Config:
        x: float = 0.0
        y: float = 0.0
        opt: str = "a"
        sleep: float = 0.0

    def on_execute(self):
        log("start", self.experiment_id)
        time.sleep(self.config.sleep)
        self.record().save(loss=(self.config.x - 2) ** 2 + (self.config.y + 1) ** 2 + (self.config.opt != "b"))
        log("done", self.experiment_id)
'''

DRIVER = '''
import optuna

from machinable import get
from machinable.sweep import Search, uniform

optuna.logging.set_verbosity(optuna.logging.WARNING)
search = Search("quad", {"x": uniform(-5, 5), "y": uniform(-5, 5), "opt": ["a", "b"]}, objective="loss",
                trials=30, parallel=2, version={"sleep": 0.1}, sampler_seed=3)
with get("machinable.execution.multiprocess", {"processes": 2}):
    search.run()
print("done", search.search_id, len(search.study().trials))
'''

SPACE = {"x": uniform(-5, 5), "y": uniform(-5, 5), "opt": ["a", "b"]}


@pytest.fixture
def quad(project):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    project.write("quad.py", QUAD)
    project.write("driver.py", DRIVER)
    return project


def test_30_trials_get_near_the_known_minimum_and_the_study_is_rebuilt(quad):
    search = Search("quad", SPACE, objective="loss", trials=30, parallel=3, sampler_seed=0)
    with get("machinable.execution.multiprocess", {"processes": 3}):
        search.run()
    best = search.best
    assert best["value"] < 0.5, best  # the stated tolerance: loss within 0.5 of the minimum 0
    assert best["params"]["opt"] == "b" and abs(best["params"]["x"] - 2) < 0.71 and abs(best["params"]["y"] + 1) < 0.71
    assert best["experiment"].summary()["loss"] == best["value"]
    assert len(find(sweep=search.search_id, status="finished")) == 30
    assert len(log_lines(quad)) == 60  # each trial started and finished once

    again = Search("quad", SPACE, objective="loss", trials=30, sampler_seed=0)  # e.g. in a later session
    assert again.search_id == search.search_id and len(again.study().trials) == 30
    assert again.best["value"] == best["value"]
    rows = again.results()
    assert len(rows) == 30 and {"trial", "x", "y", "opt", "loss", "state", "experiment"} <= set(rows[0])
    assert "loss" in again.as_table()
    assert set(again.importances()) == {"x", "y", "opt"}
    again.run()  # nothing left to do
    assert len(log_lines(quad)) == 60


def test_a_repeated_config_reuses_the_stored_result(quad):
    search = Search("quad", {"x": [0.0, 2.0], "opt": ["a", "b"]}, objective="loss", trials=4)
    search.run()
    assert len(find(sweep=search)) == 4 and len(log_lines(quad)) == 8
    more = Search("quad", {"x": [0.0, 2.0], "opt": ["a", "b"]}, objective="loss", trials=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        more.run()
    assert any("space exhausted" in str(w.message) for w in caught)
    assert len(find(sweep=more)) == 4 and len(log_lines(quad)) == 8  # asked again, never run again
    assert more.best["params"] == {"x": 2.0, "opt": "b"} and more.best["value"] == 1.0


def test_bad_searches_are_named_before_anything_is_written(quad):
    with pytest.raises(ValidationError, match="did you mean 'opt'"):
        Search("quad", {"opts": ["a"]}, objective="loss")
    with pytest.raises(ValidationError, match="direction"):
        Search("quad", SPACE, objective="loss", direction="down")
    with pytest.raises(ValidationError, match="trials"):
        Search("quad", SPACE, objective="loss", trials=-1)
    with pytest.raises(ValidationError, match="non-empty"):
        Search("quad", {}, objective="loss")
    with pytest.raises(ValidationError, match="'x'"):
        Search("quad", {"x": 1.0}, objective="loss")
    assert not os.path.exists(quad.storage)
    search = Search("quad", {"x": [1.0]}, objective="val_loss", trials=1)
    with pytest.raises(ValidationError, match="without the objective 'val_loss'"):
        search.run()
    quad.write("queue.py", """
        from machinable import Execution

        class Queue(Execution):
            asynchronous = True  # like a batch system: dispatch returns once submitted
    """)
    with pytest.raises(ValidationError, match="returns once the experiments are submitted"), get("queue"):
        Search("quad", {"x": [2.0]}, objective="loss", trials=1).run()
    assert not find("quad", where={"x": 2.0}) and len(find("machinable.sweep.stored")) == 1  # nothing written


def test_a_search_killed_at_trial_12_and_restarted_ends_with_30_distinct_trials_run_once(quad):
    kill_when(quad, start_driver(quad, "1"), done=12)
    finished = {e.experiment_id for e in find("quad", status="finished")}
    assert 10 <= len(finished) < 30  # 12 logged done; up to parallel=2 may not have stored their end yet

    search_id = finish(start_driver(quad, "2")).split()[1]
    members = find(sweep=search_id)
    assert len(members) == 30 and all(e.is_finished() for e in members)
    assert len({(e.config.x, e.config.y, e.config.opt) for e in members}) == 30  # distinct trials
    log = log_lines(quad)
    ran = {line[3] for line in log}
    assert ran <= {e.experiment_id for e in members}  # nothing ran outside the search's trials
    again = collections.Counter(line[3] for line in log if line[1] == "2" and line[0] == "start")
    assert not finished & set(again) and set(again.values()) <= {1}  # finished trials never ran again
    done = collections.Counter(line[3] for line in log if line[0] == "done")
    assert all(done[i] == 1 for i in finished) and set(done) == {e.experiment_id for e in members}


def test_two_drivers_of_one_search_at_once_run_30_distinct_trials_each_once(quad):
    quad.write("driver.py", DRIVER.replace('"sleep": 0.1', '"sleep": 0.3'))  # 30 trials, 2 at a time: 4.5 s
    drivers = [start_driver(quad, "1")]
    deadline = time.time() + 60
    while not log_lines(quad) and time.time() < deadline:
        time.sleep(0.02)
    drivers.append(start_driver(quad, "2"))  # while the first runs its first batch
    outputs = [finish(driver).split() for driver in drivers]
    assert outputs[0][1] == outputs[1][1] and outputs[0][2] == outputs[1][2] == "30"  # each waited for the other's

    members = find(sweep=outputs[0][1])
    assert len(members) == 30 and all(e.is_finished() for e in members)
    assert len({(e.config.x, e.config.y, e.config.opt) for e in members}) == 30
    starts = collections.Counter(line[3] for line in log_lines(quad) if line[0] == "start")
    assert set(starts) == {e.experiment_id for e in members} and set(starts.values()) == {1}
    assert {line[1] for line in log_lines(quad)} == {"1", "2"}  # both drivers ran trials


def test_when_one_of_two_drivers_is_killed_the_other_resumes_its_trials_and_ends_the_search(quad):
    quad.write("driver.py", DRIVER.replace('"sleep": 0.1', '"sleep": 0.3'))
    doomed = start_driver(quad, "1")
    deadline = time.time() + 60
    while not log_lines(quad) and time.time() < deadline:
        time.sleep(0.02)
    survivor = start_driver(quad, "2")
    kill_when(quad, doomed, done=8, started_by="1")  # SIGKILL driver 1 and its workers as a trial of it starts
    output = finish(survivor).split()
    assert output[2] == "30"

    members = find(sweep=output[1])
    assert len(members) == 30 and all(e.is_finished() for e in members)
    done = collections.Counter(line[3] for line in log_lines(quad) if line[0] == "done")
    assert set(done) == {e.experiment_id for e in members} and set(done.values()) == {1}  # each finished once
    killed = {line[3] for line in log_lines(quad) if line[1] == "1" and line[0] == "start"} - set(
        line[3] for line in log_lines(quad) if line[1] == "1" and line[0] == "done")
    assert killed and all(done[i] == 1 for i in killed)  # driver 1's cut-short trials were finished by driver 2


FLAKY = LOGGING + '''

class Flaky(Experiment):
    @dataclass
    class Config:
        x: float = 0.0

    def on_execute(self):
        log("start", self.experiment_id)
        time.sleep(0.1)
        if self.config.x > 1:
            raise ValueError("x is too large")
        self.record().save(loss=self.config.x ** 2)
        log("done", self.experiment_id)
'''

FLAKY_DRIVER = '''
import warnings

import optuna

from machinable.sweep import Search, uniform

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore")  # the failed trials
search = Search("flaky", {"x": uniform(-3, 3)}, objective="loss", trials=18, parallel=3, sampler_seed=1)
search.run()  # in this process: a batch's trials run one after another, after the batch claim is released
print("done", search.search_id, len(search.study().trials))
'''


def test_two_drivers_in_process_never_run_a_trial_the_other_listed_even_when_it_fails(project):
    """A trial listed by a live driver but not started yet is left to it: a failed one is not run again."""
    project.write("flaky.py", FLAKY)
    project.write("driver.py", FLAKY_DRIVER)
    drivers = [start_driver(project, "1"), start_driver(project, "2")]
    outputs = [finish(driver).split() for driver in drivers]
    assert outputs[0][1] == outputs[1][1] and outputs[0][2] == outputs[1][2] == "18"
    members = find(sweep=outputs[0][1])
    assert len(members) == 18 and any(e.is_failed() for e in members) and all(e.is_finished() or e.is_failed()
                                                                                for e in members)
    starts = collections.Counter(line[3] for line in log_lines(project) if line[0] == "start")
    assert set(starts) == {e.experiment_id for e in members} and set(starts.values()) == {1}, starts


@pytest.mark.parametrize("sampler_seed", range(6))
def test_a_search_of_a_finite_space_reaches_every_point(quad, sampler_seed):
    search = Search("quad", {"x": [0.0, 1.0, 2.0, 3.0], "opt": ["a", "b", "c"]}, objective="loss", trials=12,
                    sampler_seed=sampler_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "space exhausted" before all 12 are tried
        search.run()
    assert len(find(sweep=search)) == 12 and search.best["params"] == {"x": 2.0, "opt": "b"}


SLOW_LISTING = '''
import time

from machinable.sweep import stored

listing = stored.StoredSweep.add_members


def add_members(self, *args, **kwargs):  # the second batch: paused while it holds the batch claim
    add_members.calls = getattr(add_members, "calls", 0) + 1
    if add_members.calls == 2:
        print("listing", flush=True)
        time.sleep(3)
    return listing(self, *args, **kwargs)


stored.StoredSweep.add_members = add_members
'''


def test_a_driver_stopped_while_listing_a_batch_is_fenced_and_starts_again_from_what_is_stored(quad):
    """SIGSTOP a driver inside its batch claim (listing its second batch): another driver takes the claim over
    once the stopped one's heartbeat is stale and runs the search; the stopped one, continued, lists nothing
    (its claim is lost), rebuilds its study from the stored trials and ends with them."""
    env = {**os.environ, "MACHINABLE_STALE_SECONDS": "2", "PHASE": "1"}
    driver = DRIVER.replace("trials=30", "trials=8")
    quad.write("driver.py", driver)
    quad.write("stopped.py", SLOW_LISTING + driver)
    stopped = subprocess.Popen([sys.executable, "stopped.py"], cwd=quad.path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert stopped.stdout.readline().strip() == "listing"
        os.killpg(stopped.pid, signal.SIGSTOP)
        other = subprocess.Popen([sys.executable, "driver.py"], cwd=quad.path, env={**env, "PHASE": "2"},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        search_id = finish(other, timeout=90).split()[1]
    finally:
        os.killpg(stopped.pid, signal.SIGCONT)
    assert finish(stopped, timeout=90).split()[1:] == [search_id, "8"]

    members = find(sweep=search_id)
    assert len(members) == 8 and all(e.is_finished() for e in members)
    starts = collections.Counter(line[3] for line in log_lines(quad) if line[0] == "start")
    assert set(starts) == {e.experiment_id for e in members} and set(starts.values()) == {1}
    assert sum(line[1] == "1" for line in log_lines(quad) if line[0] == "start") == 2  # its first batch alone


HOLDER = """
import sys
from machinable.storage.claim import Claim

claim = Claim(sys.argv[1])
claim.acquire()
print("held", flush=True)
sys.stdin.readline()
print("still mine" if claim.check() else "taken over", flush=True)
"""


@pytest.mark.parametrize("fault", ["SIGKILL", "SIGSTOP"])
def test_a_driver_that_dies_or_stops_holding_the_search_claim_is_taken_over_and_fenced(quad, fault):
    """The driver claim of a search is held only while a batch is asked for and listed; a holder that was killed
    is taken over at once, a stopped one once its heartbeat is stale, and the stopped one, continued, finds
    it no longer holds it (so it lists nothing)."""
    from machinable.sweep.search import BATCH_CLAIM

    env = {**os.environ, "MACHINABLE_STALE_SECONDS": "2"}
    search = Search("quad", SPACE, objective="loss", trials=4, parallel=2, version={"sleep": 0.1}, sampler_seed=3)
    path = search.record().commit()._file(BATCH_CLAIM)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        quad.write("driver4.py", DRIVER.replace("trials=30", "trials=4"))
        driver = subprocess.Popen([sys.executable, "driver4.py"], cwd=quad.path, env={**env, "PHASE": "1"},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(3)  # longer than the stale window: a live holder is waited for whatever its heartbeat says
        assert driver.poll() is None and not log_lines(quad)
        os.kill(holder.pid, getattr(signal, fault))
        assert finish(driver, timeout=60).split()[2] == "4"
        assert len(find(sweep=search.search_id, status="finished")) == 4
        if fault == "SIGSTOP":
            os.kill(holder.pid, signal.SIGCONT)
            assert holder.communicate("\n", timeout=30)[0].strip() == "taken over"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def machinable_cli(project, *args):
    return subprocess.run([sys.executable, "-m", "machinable", *args], cwd=project.path, capture_output=True,
                          text=True, timeout=180)


CLI_SPACE = ["x=interval(-5,5)", "y=interval(-5,5)", "opt=a,b"]


def test_the_search_command_runs_resumes_and_shows_the_same_search_as_the_python_api(quad):
    args = ["search", "quad", *CLI_SPACE, "sleep=0", "--objective", "loss", "--trials", "12", "--parallel", "2"]
    nothing = machinable_cli(quad, *args, "--results")
    assert "search (new) of quad: no trials stored." in nothing.stdout and not os.path.exists(quad.storage)
    ran = machinable_cli(quad, *args, "machinable.execution.multiprocess", "processes=2")
    assert ran.returncode == 0 and "A new study created" not in ran.stderr, ran.stderr  # its table, no Optuna log
    search = Search("quad", SPACE, objective="loss", version={"sleep": 0}, trials=12)
    assert f"search {search.search_id} of quad" in ran.stdout  # the command line's search is the API's
    assert len(find(sweep=search.search_id, status="finished")) == 12 and len(log_lines(quad)) == 24
    best = search.best
    assert f"best: loss = {best['value']:g} at x={best['params']['x']}" in ran.stdout
    assert best["experiment"].experiment_id in ran.stdout

    again = machinable_cli(quad, *args)
    assert again.returncode == 0 and len(log_lines(quad)) == 24  # finished: nothing runs again
    shown = machinable_cli(quad, *args[:-4], "--trials", "20", "--results")
    assert shown.returncode == 0 and len(log_lines(quad)) == 24 and shown.stdout.count(" complete ") == 12
    more = machinable_cli(quad, *args[:-4], "--trials", "14")
    assert more.returncode == 0 and len(find(sweep=search.search_id)) == 14 and len(log_lines(quad)) == 28


@pytest.mark.parametrize("args, words", [
    (["opts=a,b"], "did you mean 'opt'"),
    (["x=interval(5)"], "interval"),
    (["x=1.0"], "Nothing to search"),
    (["x=interval(0,1)", "--trials", "-1"], "trials must be a whole number"),
    (["x=interval(0,1)", "--direction", "down"], "'down' is not one of"),
])
def test_the_search_command_names_bad_input_before_writing_anything(quad, args, words):
    result = machinable_cli(quad, "search", "quad", "--objective", "loss", *args)
    assert result.returncode != 0 and words in result.stderr, result.stderr
    assert not os.path.exists(quad.storage)
