"""SPEC §3: exactly once across processes; killed runs read as died and resume."""

import json
import os
import signal
import subprocess
import sys
import time


from machinable import get
from machinable.storage.claim import Claim

SLOW = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment


class Slow(Experiment):
    @dataclass
    class Config:
        seconds: float = 1.0

    def on_execute(self):
        with open("executions.log", "a") as f:
            f.write(f"{os.getpid()} {self.experiment_id}\\n")
        time.sleep(self.config.seconds)
'''

COUNTING = '''
import time
from dataclasses import dataclass

from machinable import Experiment


class Counting(Experiment):
    @dataclass
    class Config:
        rows: int = 100000

    def on_execute(self):
        record = self.record()
        start = len(self.records())
        for step in range(start, self.config.rows):
            record.save(step=step, seed=self.seed)
            if step % 100 == 0 and step < 50000:
                time.sleep(0.001)  # slow enough to be killed mid-run
'''

LAUNCHER = '''
import os, sys, time
while not os.path.exists("go"):
    time.sleep(0.001)
from machinable import get
experiment = get("slow", {"seconds": 1.5}).launch()
print("RESULT", experiment.experiment_id, experiment.is_finished())
'''


def test_three_processes_launch_one_experiment_once(project):
    project.write("slow.py", SLOW)
    launchers = [
        subprocess.Popen([sys.executable, "-c", LAUNCHER], cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    time.sleep(0.5)  # all three are importing and polling for "go"
    open(os.path.join(project.path, "go"), "w").close()
    outputs = [p.communicate(timeout=60) for p in launchers]
    assert [p.returncode for p in launchers] == [0, 0, 0], outputs
    results = {line for out, _ in outputs for line in out.splitlines() if line.startswith("RESULT")}
    assert len(results) == 1 and results.pop().endswith("True")
    with open(os.path.join(project.path, "executions.log")) as f:
        assert len(f.read().splitlines()) == 1  # executed exactly once
    assert len(project.experiment_dirs()) == 1  # created exactly once
    waiting = [err for _, err in outputs if "waiting for it to finish" in err]
    assert len(waiting) >= 1, outputs  # the others said they were waiting


def wait_for(predicate, timeout=30.0, child=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    if child is not None and child.poll() is not None:
        raise AssertionError(f"condition not reached; the child exited {child.returncode}:\n{child.stderr.read()}")
    raise AssertionError("condition not reached in time")


def test_sigkill_mid_run_reads_as_died_and_resumes_with_records_kept(project):
    project.write("counting.py", COUNTING)
    child = subprocess.Popen(
        [sys.executable, "-c", "from machinable import get\nget('counting', {'rows': 100000}).launch()"],
        cwd=project.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: get("counting", {"rows": 100000}).is_committed())
        experiment = get("counting", {"rows": 100000})
        # count saved rows, not bytes: the records file is preallocated ahead of its rows
        wait_for(lambda: len(experiment.records()) > 1000)
        assert experiment.is_active() and experiment.status == "running"
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
    saved = experiment.records()
    assert len(saved) > 1000
    assert saved.pluck("step") == list(range(len(saved)))
    assert experiment.status == "died"
    assert not experiment.is_active() and not experiment.is_finished() and not experiment.is_failed()
    assert experiment.is_incomplete()
    seed, directory = experiment.seed, experiment.local_directory()

    finished = project.run(
        "from machinable import get\n"
        "e = get('counting', {'rows': %d}).launch()\n"
        "print(e.experiment_id, e.seed, e.local_directory(), e.status)" % 100000,
        timeout=300,
    ).stdout.split()
    assert finished == [experiment.experiment_id, str(seed), directory, "finished"]
    rows = experiment.records()
    assert rows.pluck("step") == list(range(100000))
    assert set(rows.pluck("seed")) == {seed}
    assert len(experiment.executions) == 2


def test_live_claim_of_another_host_is_respected_until_its_heartbeat_is_stale(project, monkeypatch):
    monkeypatch.setenv("MACHINABLE_STALE_SECONDS", "2")
    experiment = get("estimate_gravity").commit()
    claim = experiment.local_directory("claim.json")
    with open(claim, "w") as f:
        json.dump({"host": "another-host", "pid": 1, "start": None, "token": "x", "since": time.time()}, f)
    assert experiment.is_active() and experiment.status == "running"
    assert Claim(claim).is_held()
    started = time.time()
    experiment.launch()  # waits for the other host's heartbeat to go stale (2 s), then takes over
    assert time.time() - started >= 1.5
    assert experiment.is_finished()
    assert not os.path.exists(claim)


def test_claim_of_a_dead_local_process_is_taken_over_at_once(project):
    experiment = get("estimate_gravity").commit()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(experiment.local_directory("claim.json"), "w") as f:
        json.dump({"host": os.uname().nodename, "pid": dead.pid, "start": None, "token": "x", "since": time.time()}, f)
    assert not experiment.is_active()
    started = time.time()
    experiment.launch()
    assert time.time() - started < 5
    assert experiment.is_finished()


def test_heartbeat_is_written_while_running(project, monkeypatch):
    project.write("slow.py", SLOW)
    child = subprocess.Popen(
        [sys.executable, "-c", "from machinable import get\nget('slow', {'seconds': 3}).launch()"],
        cwd=project.path, env={**os.environ, "MACHINABLE_HEARTBEAT_SECONDS": "0.2"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: os.path.exists(os.path.join(project.path, "executions.log")), child=child)  # it runs
        wait_for(lambda: get("slow", {"seconds": 3}).is_active(), child=child)
        experiment = get("slow", {"seconds": 3})
        first = experiment.heartbeat_at()
        wait_for(lambda: experiment.heartbeat_at() > first, timeout=5)
        assert experiment.status == "running"
    finally:
        child.wait(timeout=30)
    assert experiment.status == "finished"
    assert experiment.heartbeat_at() >= experiment.started_at()
