"""Sweeps: spaces, plans and stored membership in process; launches, killed drivers and concurrent
drivers with real processes (the multiprocess execution), each point executed once."""

import collections
import json
import os
import subprocess
import sys
import textwrap

import pytest

from machinable import find, get
from machinable.errors import ValidationError
from machinable.sweep import Space, Sweep, choice, loguniform, randint, uniform
from sweep_support import LOGGING, finish, kill_when, log_lines, start_driver

POINT = LOGGING + '''

class Point(Experiment):
    @dataclass
    class Config:
        a: int = 0
        b: int = 0
        c: str = "x"
        sleep: float = 0.0
        fail: bool = False

    def on_execute(self):
        log("start", self.config.a, self.config.b, self.config.c)
        time.sleep(self.config.sleep)
        if self.config.fail:
            raise RuntimeError("failing on purpose")
        self.record().save(value=self.config.a * 10 + self.config.b)
        log("done", self.config.a, self.config.b, self.config.c)
'''

DRIVER = '''
import sys

from machinable import get
from machinable.sweep import Sweep

sweep = Sweep("point", {"a": range(4), "b": range(3), "c": ["x", "y"]}, version={"sleep": float(sys.argv[1])})
with get("machinable.execution.multiprocess", {"processes": 2}):
    sweep.launch()
print("done", sweep.sweep_id)
'''


@pytest.fixture
def sweeps(project):
    project.write("point.py", POINT)
    project.write("driver.py", DRIVER)
    return project


def point_of(line) -> tuple:
    return line[3:]


def tree(directory: str) -> dict:
    out = {}
    for current, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(current, name)
            out[path] = os.stat(path).st_mtime_ns
    return out


# --- spaces ---------------------------------------------------------------------------


def test_grid_zip_and_samples_give_the_points_in_order():
    assert Space({"lr": [0.1, 0.01], "epochs": range(1, 3)}).points() == [
        {"lr": 0.1, "epochs": 1}, {"lr": 0.1, "epochs": 2}, {"lr": 0.01, "epochs": 1}, {"lr": 0.01, "epochs": 2}]
    zipped = Space({("depth", "width"): [(2, 64), (4, 128)], "lr": [1, 2]}).points()
    assert zipped == [{"depth": 2, "width": 64, "lr": 1}, {"depth": 2, "width": 64, "lr": 2},
                      {"depth": 4, "width": 128, "lr": 1}, {"depth": 4, "width": 128, "lr": 2}]
    sampled = Space({"opt": ["sgd", "adam"], "lr": loguniform(1e-4, 1e-1), "n": randint(1, 3)}, samples=5).points()
    assert len(sampled) == 10 and all(1e-4 <= p["lr"] <= 1e-1 and p["n"] in (1, 2, 3) for p in sampled)
    assert sampled == Space({"opt": ["sgd", "adam"], "lr": loguniform(1e-4, 1e-1), "n": randint(1, 3)}, samples=5).points()
    other = Space({"opt": ["sgd", "adam"], "lr": loguniform(1e-4, 1e-1), "n": randint(1, 3)}, samples=5, sampler_seed=1)
    assert other.points() != sampled
    assert Space.from_json(json.loads(json.dumps(other.to_json()))).points() == other.points()
    assert Space({"x": choice(["a"]), "y": [1, 1]}, samples=3).points() == [{"y": 1, "x": "a"}]  # each point once


@pytest.mark.parametrize("space, samples, words", [
    ({}, None, "non-empty"),
    ({"lr": []}, None, "'lr' has no values"),
    ({"lr": uniform(0, 1)}, -1, "samples must be a whole number 0 or more, got -1"),
    ({"lr": uniform(0, 1)}, None, "samples=N"),
    ({"lr": 0.1}, None, "'lr'"),
    ({("a", "b"): [(1,)]}, None, "zips 2 keys"),
])
def test_bad_spaces_are_named(space, samples, words):
    with pytest.raises(ValidationError, match=None) as error:
        Space(space, samples)
    assert words in str(error.value)


def test_bad_distributions_are_named():
    from machinable.sweep import Distribution

    with pytest.raises(ValidationError, match="Unknown distribution 'normal'"):
        Distribution("normal", 0, 1)
    with pytest.raises(ValidationError, match="loguniform"):
        loguniform(0, 1)
    with pytest.raises(ValidationError, match="choice"):
        choice([])


# --- plans and storage, in this process -----------------------------------------------


def test_an_unknown_key_gets_the_config_suggestion_before_anything_is_written(sweeps):
    with pytest.raises(ValidationError, match="did you mean 'sleep'"):
        Sweep("point", {"a": [1, 2], "sleeep": [0.1]})
    assert not os.path.exists(sweeps.storage)


def test_plan_writes_nothing_and_launch_runs_what_is_not_finished(sweeps):
    get("point", {"a": 9}).launch()  # the storage exists
    before = tree(sweeps.storage)
    sweep = Sweep("point", {"a": [1, 2], "fail": [False, True]})
    plan = sweep.plan()
    assert [row.status for row in plan] == ["new"] * 4 and plan.counts() == {"new": 4}
    assert "status" in plan.as_table() and tree(sweeps.storage) == before and sweep.sweep_id is None

    with pytest.raises(Exception, match="2 of 4 experiment"):
        sweep.launch()
    assert sorted(row.status for row in sweep.plan()) == ["failed", "failed", "finished", "finished"]
    starts = len(log_lines(sweeps))
    sweep.launch()  # failed points are not retried unless asked
    assert len(log_lines(sweeps)) == starts
    with pytest.raises(Exception, match="2 of 2 experiment"):
        sweep.launch(retry_failed=True)
    assert len(log_lines(sweeps)) == starts + 2

    assert sweep.sweep_id is not None
    assert sorted(e.config.a for e in find(sweep=sweep.sweep_id)) == [1, 1, 2, 2]
    assert find(sweep=sweep.sweep_id, where="fail=false").pluck("config.a") != []
    assert Sweep("point", {"a": [1, 2], "fail": [False, True]}).sweep_id == sweep.sweep_id  # same definition, same sweep


def test_a_point_belongs_to_every_sweep_that_contains_it(sweeps):
    first = Sweep("point", {"a": [1, 2]}).launch()
    second = Sweep("point", {"a": [2, 3]}, version={"b": 0}).launch()
    assert first.sweep_id != second.sweep_id
    assert sorted(find(sweep=first).pluck("config.a")) == [1, 2]
    assert sorted(find(sweep=second.sweep_id).pluck("config.a")) == [2, 3]
    assert len(find(sweep=first.record())) == 2 and len(first.find()) == 2  # the stored sweep itself, too
    assert len(find(sweep=Sweep("point", {"a": [1, 2, 3]}))) == 0  # never launched: no points of its own yet
    assert len(log_lines(sweeps)) == 3 * 2  # the shared point ran once (start and done)
    with pytest.raises(ValidationError, match="not of a sweep"):
        find(sweep=find("point").first().experiment_id)


def test_fixed_versions_and_dotted_keys(project):
    from test_readme import TRAIN  # a train module with a nested optimizer config and a ~fast version

    project.write("train.py", TRAIN)
    sweep = Sweep("train", {"optimizer.lr": [0.1, 0.01]}, version="~fast")
    experiments = sweep.experiments()
    assert [(e.config.epochs, e.config.optimizer.lr) for e in experiments] == [(1, 0.1), (1, 0.01)]
    with pytest.raises(ValidationError, match="did you mean 'optimizer.lr'"):
        Sweep("train", {"optimizer.lrr": [0.1]})


# --- real processes --------------------------------------------------------------------


def test_a_24_point_grid_runs_through_the_multiprocess_execution(sweeps):
    out = finish(start_driver(sweeps, "1", "0"))
    lines = log_lines(sweeps)
    done = collections.Counter(point_of(line) for line in lines if line[0] == "done")
    assert len(done) == 24 and set(done.values()) == {1}
    assert len({line[2] for line in lines}) == 2  # two worker processes ran them all
    sweep_id = out.split()[-1]
    assert len(find("point", sweep=sweep_id, status="finished")) == 24


def test_a_killed_driver_rerun_runs_only_the_remaining_points_once(sweeps):
    kill_when(sweeps, start_driver(sweeps, "1", "0.15"), done=10)
    plan = Sweep("point", {"a": range(4), "b": range(3), "c": ["x", "y"]}, version={"sleep": 0.15}).plan()
    finished = {(str(r.point["a"]), str(r.point["b"]), r.point["c"]) for r in plan if r.status == "finished"}
    assert 8 <= len(finished) < 24

    finish(start_driver(sweeps, "2", "0.15"))
    lines = log_lines(sweeps)
    rerun = collections.Counter(point_of(line) for line in lines if line[1] == "2" and line[0] == "start")
    assert not finished & set(rerun) and set(rerun.values()) == {1} and len(rerun) == 24 - len(finished)
    done = collections.Counter(point_of(line) for line in lines if line[0] == "done")
    assert len(done) == 24 and all(done[p] == 1 for p in finished)


def test_two_drivers_of_the_same_sweep_run_each_point_once(sweeps):
    drivers = [start_driver(sweeps, str(n), "0.05") for n in (1, 2)]
    ids = {finish(driver).split()[-1] for driver in drivers}
    assert len(ids) == 1  # one stored sweep
    starts = collections.Counter(point_of(line) for line in log_lines(sweeps) if line[0] == "start")
    assert len(starts) == 24 and set(starts.values()) == {1}
    assert len(find(sweep=ids.pop())) == 24


def test_random_points_are_the_same_in_every_process(project):
    code = textwrap.dedent('''
        import json
        from machinable.sweep import Space, loguniform, uniform, choice
        space = Space({"lr": loguniform(1e-5, 1), "m": uniform(0, 1), "o": choice(["a", "b", "c"]), "k": [1, 2]},
                      samples=20, sampler_seed=123)
        print(json.dumps(space.points()))
    ''')
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(n)}).stdout for n in (1, 2)]
    assert outputs[0] == outputs[1] and len(json.loads(outputs[0])) == 40

