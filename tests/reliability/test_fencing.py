"""SPEC §3, issue 7: a superseded run never writes again; a live owner is never taken over.

Real processes and real signals. A runner is paused (SIGSTOP) at a seeded random point:
before a `record.save()`, or inside a write of its execution record, a data file or its
final status: once before the fence check (the temporary file is written), once after it,
just before the rename. A second
runner takes the stale claim over and finishes. Then the first is resumed (SIGCONT): it
must raise ClaimLost and change nothing in the experiment's directory, and every row,
data file and the status of the second must be intact. Half the scenarios put the two
runners on different (simulated) hosts, where only the heartbeat tells.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from click.testing import CliRunner

from machinable import get
from machinable.cli import cli
from machinable.ui import stored
from machinable.storage.claim import Claim, process_state

from .harness import REPRODUCE, SEED, TEMPORARY

TICKER = '''
import os
import signal
import time
from dataclasses import dataclass

from machinable import Experiment

PAUSE_AT = int(os.environ.get("PAUSE_AT", "0"))
_events = 0


def event(kind):
    """Count the points where the test may pause this runner; stop at the chosen one."""
    global _events
    _events += 1
    if _events == PAUSE_AT:
        with open(os.environ["PAUSE_LOG"], "w") as f:
            f.write(kind)
        os.kill(os.getpid(), signal.SIGSTOP)


_fdopen = os.fdopen


def pausing_fdopen(fd, *args, **kwargs):
    """write_atomic's temporary files of the run: an event after the file exists, before the rename."""
    target = os.readlink(f"/proc/self/fd/{fd}")
    name = os.path.basename(target)
    if name.endswith(".tmp") and ("/executions/" in target or "/data/" in target or name.startswith(".status.json.")):
        event("write execution record" if "/executions/" in target else "write " + name.split(".")[1])
    return _fdopen(fd, *args, **kwargs)


os.fdopen = pausing_fdopen
_replace = os.replace


def pausing_replace(source, target, *args, **kwargs):
    """The same writes after their fence check, just before the rename: the new runner removes
    the paused runner's temporary file, so the rename fails instead of replacing its file."""
    if source.endswith(".tmp") and ("/executions/" in source or "/data/" in source or "/.status.json." in source):
        event("rename execution record" if "/executions/" in source else "rename " + os.path.basename(target).split(".")[0])
    return _replace(source, target, *args, **kwargs)


os.replace = pausing_replace


class Ticker(Experiment):
    @dataclass
    class Config:
        n: int = 0
        rows: int = 9
        sleep: float = 0.01

    def on_execute(self):
        record = self.record()
        for step in range(len(self.records()), self.config.rows):
            event("record")
            record.save(step=step, pid=os.getpid())
            if step % 3 == 2:
                self.save_data("progress.json", {"step": step, "pid": os.getpid()})
            print(f"step {step} by {os.getpid()}", flush=True)
            time.sleep(self.config.sleep)
'''

EVENTS = 9 + 2 * (3 + 2)  # rows; progress writes, the execution record and the final status, each twice
FAST = {"MACHINABLE_HEARTBEAT_SECONDS": "0.1", "MACHINABLE_STALE_SECONDS": "0.5"}
LAUNCH = "import sys\nfrom machinable import get\nget('ticker', {'n': int(sys.argv[1])}).launch()"


def launch(project, n: int, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(n)], cwd=project.path, env={**os.environ, **FAST, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {REPRODUCE}")
        time.sleep(0.02)


def snapshot(directory: str) -> dict:
    """Every file of an experiment (but write_atomic's temporary files) with its bytes."""
    files = {}
    for current, _, names in os.walk(directory):
        for name in names:
            if not TEMPORARY.match(name):
                path = os.path.join(current, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, directory)] = f.read()
    return files


def finish(process: subprocess.Popen, timeout: float = 60.0) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"process {process.pid} hung:\n{err[-3000:]}\n{REPRODUCE}") from None
    return process.returncode, out, err


def kill_all(processes) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_scenarios(project, scenarios: list) -> list:
    """Pause each first runner at its point, let a second one take over, resume the first."""
    first, second = [], []
    try:
        for n, pause_at, other_host in scenarios:
            env = {"PAUSE_AT": str(pause_at), "PAUSE_LOG": os.path.join(project.path, f"pause-{n}")}
            first.append(launch(project, n, **env, **({"MACHINABLE_HOST": "host-a"} if other_host else {})))
        for process in first:
            wait_until(lambda: process.poll() is not None or process_state(process.pid) == "T", "a runner to pause")
            assert process.poll() is None, f"runner exited before its pause point: {finish(process)}; {REPRODUCE}"
        time.sleep(float(FAST["MACHINABLE_STALE_SECONDS"]) + 0.3)
        for n, _, other_host in scenarios:
            second.append(launch(project, n, **({"MACHINABLE_HOST": "host-b"} if other_host else {})))
        outcomes = []
        for (n, pause_at, _), process in zip(scenarios, second):
            code, out, err = finish(process)
            assert code == 0, f"the runner that took over n={n} failed:\n{err[-3000:]}\n{REPRODUCE}"
            experiment = get("ticker", {"n": n})
            outcomes.append({"experiment": experiment, "before": snapshot(experiment.local_directory()), "second": process.pid})
        for process in first:
            os.kill(process.pid, signal.SIGCONT)
        for outcome, process in zip(outcomes, first):
            outcome["first"] = process.pid
            outcome["code"], _, outcome["stderr"] = finish(process)
        return outcomes
    finally:
        kill_all(first + second)


def test_a_paused_runner_never_overwrites_the_runner_that_took_over(project):
    """At least 50 seeded pause points per run: before a row, in a data, execution or status write."""
    project.write("ticker.py", TICKER)
    rng = random.Random(SEED)
    scenarios = [(n, rng.randint(1, EVENTS), n % 2 == 1) for n in range(50)]
    kinds, rows_checked = {}, 0
    for batch in range(0, len(scenarios), 10):
        for (n, pause_at, other_host), outcome in zip(scenarios[batch:batch + 10], run_scenarios(project, scenarios[batch:batch + 10])):
            with open(os.path.join(project.path, f"pause-{n}")) as f:
                kind = f.read()
            kinds[kind] = kinds.get(kind, 0) + 1
            where = f"n={n} paused at {kind!r} (event {pause_at}, other host: {other_host}); {REPRODUCE}"
            experiment = outcome["experiment"]
            assert outcome["code"] != 0 and "ClaimLost" in outcome["stderr"], f"{where}\n{outcome['stderr'][-3000:]}"
            assert f"taken over by process {outcome['second']} on " in outcome["stderr"], f"{where}\n{outcome['stderr'][-3000:]}"
            after = snapshot(experiment.local_directory())
            changed = sorted(name for name in set(after) | set(outcome["before"]) if after.get(name) != outcome["before"].get(name))
            assert not changed, f"the superseded runner wrote {changed} after it resumed: {where}"
            # nothing of the runner that took over is lost, and nothing is there twice
            rows = experiment.records()
            assert rows.pluck("step") == list(range(9)), f"{rows.pluck('step')}: {where}"
            assert set(rows.pluck("pid")) <= {outcome["first"], outcome["second"]}, where
            rows_checked += len(rows)
            assert experiment.status == "finished", where
            theirs = [row["step"] for row in rows if row["pid"] == outcome["second"] and row["step"] % 3 == 2]
            if theirs:  # the data file of the runner that took over wins
                assert experiment.load_data("progress.json") == {"step": theirs[-1], "pid": outcome["second"]}, where
            executions = experiment.executions
            assert executions[-1].record["host"]["pid"] == outcome["second"], where
            assert [e.superseded for e in executions] == [True] * (len(executions) - 1) + [False], where
            if n % 10 == 0:  # the CLI and the dashboard show the same
                shown = CliRunner().invoke(cli, ["show", experiment.experiment_id]).output
                assert "status:    finished" in shown and shown.count("superseded") == len(executions) - 1, shown
                assert [e["superseded"] for e in stored.executions(experiment)] == [e.superseded for e in executions]
            status = json.loads(outcome["before"]["status.json"])
            assert status["execution"] == os.path.basename(sorted(n for n in after if n.startswith("executions/") and n.endswith(".json"))[-1]), where
    print(f"\n[fencing] seed {SEED}: {len(scenarios)} pause points {kinds}; {rows_checked} rows checked, 0 lost")
    assert len(kinds) >= 3, f"the pause points covered only {kinds}; {REPRODUCE}"


HOG = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment


class Hog(Experiment):
    """Holds the GIL in one C call (the heartbeat thread cannot run) for `seconds`."""

    @dataclass
    class Config:
        seconds: float = 4.0

    def on_execute(self):
        started = time.monotonic()
        sum(range(10**6))
        n = int(self.config.seconds / (time.monotonic() - started) * 10**6)  # as fast as this machine is
        open("hogging", "w").close()
        started = time.monotonic()
        sum(range(n))  # one C call, no bytecode: no other thread runs until it returns
        self.save_data("hog.json", {"pid": os.getpid(), "held": time.monotonic() - started})
'''


def test_a_live_owner_whose_heartbeat_thread_is_starved_is_not_taken_over(project):
    project.write("hog.py", HOG)
    code = "from machinable import get\nget('hog').launch()"
    env = {**os.environ, **FAST}
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=project.path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.exists(os.path.join(project.path, "hogging")), "the owner to start its C call")
        claim = Claim(get("hog").local_directory("claim.json"))

        def stale() -> bool:
            holder = claim.holder()
            assert holder is not None, "the owner finished before its heartbeat went stale: nothing was tested"
            return time.time() - holder[1] > 1.0

        wait_until(stale, "the owner's heartbeat to go stale", timeout=10)
        second = subprocess.run(
            [sys.executable, "-c", code], cwd=project.path, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        owner.wait(timeout=120)
    assert owner.returncode == 0 and second.returncode == 0, (owner.stderr.read(), second.stderr)
    assert "waiting for it to finish" in second.stderr
    experiment = get("hog")
    assert experiment.is_finished() and len(experiment.executions) == 1
    assert experiment.load_data("hog.json")["pid"] == owner.pid and experiment.load_data("hog.json")["held"] > 1.0


SLEEPER = '''
import time
from dataclasses import dataclass

from machinable import Experiment


class Sleeper(Experiment):
    @dataclass
    class Config:
        seconds: float = 3.0

    def on_execute(self):
        open("sleeping", "w").close()
        time.sleep(self.config.seconds)
        self.save_data("ran.txt", "once")
'''


def test_a_claim_is_judged_by_its_owners_heartbeat_settings(project):
    """A slow-heartbeat owner on one host is not taken over by a fast-heartbeat launcher on another."""
    project.write("sleeper.py", SLEEPER)
    code = "from machinable import get\nget('sleeper').launch()"
    slow = {"MACHINABLE_HOST": "host-a", "MACHINABLE_HEARTBEAT_SECONDS": "1", "MACHINABLE_STALE_SECONDS": "6"}
    fast = {"MACHINABLE_HOST": "host-b", "MACHINABLE_HEARTBEAT_SECONDS": "0.05", "MACHINABLE_STALE_SECONDS": "0.3"}
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=project.path, env={**os.environ, **slow},
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.exists(os.path.join(project.path, "sleeping")), "the owner to start")
        time.sleep(0.8)  # its claim is older than the fast launcher's own stale window
        second = subprocess.run([sys.executable, "-c", code], cwd=project.path, env={**os.environ, **fast},
                                capture_output=True, text=True, timeout=120)
    finally:
        owner.wait(timeout=120)
    assert owner.returncode == 0 and second.returncode == 0, (owner.stderr.read(), second.stderr)
    assert "waiting for it to finish" in second.stderr
    experiment = get("sleeper")
    assert experiment.is_finished() and len(experiment.executions) == 1


PRINTER = '''
from machinable import Experiment


class Printer(Experiment):
    def on_execute(self):
        for i in range(20000):
            print(f"line {i}")
'''


@pytest.mark.parametrize("command", ["-m machinable get printer --launch", "-c \"import machinable; machinable.get('printer').launch()\""])
def test_a_closed_terminal_does_not_change_the_outcome(project, command):
    """`machinable get printer --launch | head -1`: the pipe closes while the experiment prints."""
    project.write("printer.py", PRINTER)
    result = subprocess.run(
        f"{sys.executable} {command} | head -1", shell=True, cwd=project.path,
        capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.count("\n") == 1
    experiment = get("printer")
    assert experiment.status == "finished", result.stderr
    assert experiment.output().splitlines() == [f"line {i}" for i in range(20000)]


@pytest.mark.parametrize("where", ["record", "data", "output", "partial line"])
def test_every_write_of_a_lost_claim_raises_claim_lost(project, where):
    """In one process: once the claim file names another owner, each kind of write refuses."""
    from machinable import Experiment
    from machinable.errors import ClaimLost

    outcome = {}

    class Stolen(Experiment):
        def on_execute(self):
            if where == "partial line":
                print("no newline yet", end="")  # buffered: must not reach the log once the claim is lost
            claim = self._attempt.claim
            with open(claim.path, "w") as f:  # another process took it over
                json.dump({"host": "elsewhere", "pid": 4242, "token": "theirs", "since": time.time()}, f)
            claim.confirmed -= 3600  # as after a long pause
            try:
                if where in ("record", "partial line"):
                    self.record().save(x=1)
                elif where == "data":
                    self.save_data("x.json", 1)
                else:
                    print("hello")
            except ClaimLost as error:
                outcome["error"] = str(error)
                raise

    experiment = Stolen()
    with pytest.raises(ClaimLost, match="taken over by process 4242 on elsewhere"):
        experiment.launch()
    assert "taken over by process 4242 on elsewhere" in outcome["error"]
    assert not os.path.exists(experiment.local_directory("status.json"))
    assert experiment.records() == [] and experiment.load_data("x.json") is None
    assert not experiment.output()


@pytest.mark.parametrize("wakes", ["before", "after"])
def test_an_owner_waking_while_its_claim_is_broken_keeps_it_or_finds_it_lost(tmp_path, monkeypatch, wakes):
    """The owner confirms just before or just after the taker renames its claim aside: one owner, never two."""
    path = str(tmp_path / "claim.json")
    owner = Claim(path)
    assert owner.try_acquire()
    with open(path) as f:
        info = json.load(f)
    with open(path, "w") as f:
        json.dump({**info, "host": "elsewhere"}, f)  # an owner on another host ...
    past = time.time() - 3600
    os.utime(path, (past, past))  # ... whose heartbeat went silent
    rename = os.rename

    def waking_rename(source, target):
        if wakes == "before":
            owner.confirm()
        rename(source, target)
        if wakes == "after":
            owner.confirm()

    monkeypatch.setattr(os, "rename", waking_rename)
    taker = Claim(path)
    took = taker.try_acquire()
    monkeypatch.undo()
    assert took == (wakes == "after") and owner.check() == (wakes == "before")
    owner.release()  # never removes the taker's claim
    if took:
        assert taker.check() and json.load(open(path))["token"] == taker.token
    else:
        assert not os.path.exists(path)


def test_experiment_call_raises_again_after_a_failed_launch(project):
    project.write("failing.py", """
        from machinable import Experiment


        class Failing(Experiment):
            def on_execute(self):
                raise RuntimeError("diverged")
    """)
    from machinable.errors import ExecutionFailed

    experiment = get("failing")
    with pytest.raises(ExecutionFailed, match="diverged"):
        experiment.launch()
    with pytest.raises(ExecutionFailed, match="diverged"):
        experiment()


def test_a_stale_window_that_does_not_fit_the_heartbeat_is_refused_before_anything_is_written(project, monkeypatch):
    from machinable.errors import ValidationError

    monkeypatch.setenv("MACHINABLE_HEARTBEAT_SECONDS", "10")
    monkeypatch.setenv("MACHINABLE_STALE_SECONDS", "5")
    experiment = get("estimate_gravity")
    with pytest.raises(ValidationError, match=r"MACHINABLE_STALE_SECONDS \(5\) must be more than twice"):
        experiment.launch()
    assert not experiment.is_committed() and project.experiment_dirs() == []
