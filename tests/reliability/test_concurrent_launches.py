"""SPEC §3: exactly once across processes; locks of dead owners are taken over, live ones respected.

Real interpreters launch overlapping sets of experiments against one storage (while
another rebuilds the index); commit locks are held by processes that are then SIGKILLed,
or by a live owner on "another host" (a different hostname in the lock file).
"""

import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from machinable import Storage, get
from machinable.storage.claim import Claim

from .harness import REPRODUCE, SEED

JOB = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment


class Job(Experiment):
    @dataclass
    class Config:
        k: int = 0

    def on_execute(self):
        fd = os.open("executions.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"{self.config.k} {self.experiment_id} {os.getpid()}\\n".encode())
        os.close(fd)
        self.record().save(k=self.config.k)
        time.sleep(0.02)
'''

LAUNCHER = '''
import os, sys, time
from machinable import get
ks = [int(k) for k in sys.argv[1].split(",")]
while not os.path.exists("go"):
    time.sleep(0.005)
for k in ks:
    experiment = get("job", {"k": k}).launch()
    print(k, experiment.experiment_id, experiment.seed, experiment.is_finished(), flush=True)
'''

REBUILDER = '''
import os, time
from machinable import Storage
while not os.path.exists("go"):
    time.sleep(0.005)
while not os.path.exists("stop"):
    Storage.current().rebuild_index()
    time.sleep(0.05)
'''

EXPERIMENTS, PROCESSES, PER_PROCESS = 50, 8, 30


def overlapping_sets(rng: random.Random) -> list[list[int]]:
    sets = [rng.sample(range(EXPERIMENTS), PER_PROCESS) for _ in range(PROCESSES)]
    covered = set().union(*sets)
    for k in range(EXPERIMENTS):
        if k not in covered:
            rng.choice(sets).append(k)
    for chosen in sets:
        rng.shuffle(chosen)
    return sets


def index_rows(storage) -> set:
    with sqlite3.connect(os.path.join(storage, "index.sqlite")) as db:
        return set(db.execute("SELECT id, directory FROM experiments"))


def test_eight_processes_launch_overlapping_sets_of_fifty_experiments(project, capsys):
    project.write("job.py", JOB)
    sets = overlapping_sets(random.Random(SEED))
    popen = dict(cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    launchers = [subprocess.Popen([sys.executable, "-c", LAUNCHER, ",".join(map(str, ks))], **popen) for ks in sets]
    rebuilder = subprocess.Popen([sys.executable, "-c", REBUILDER], **popen)
    try:
        time.sleep(1.0)  # all are importing and polling for "go"
        started = time.time()
        open(os.path.join(project.path, "go"), "w").close()
        outputs = [p.communicate(timeout=240) for p in launchers]  # bounded: a deadlock fails here
        elapsed = time.time() - started
        open(os.path.join(project.path, "stop"), "w").close()
        rebuilder.communicate(timeout=60)
    finally:
        for process in [*launchers, rebuilder]:
            process.kill()
            process.wait()
    assert [p.returncode for p in launchers] == [0] * PROCESSES, [err[-2000:] for _, err in outputs]
    assert rebuilder.returncode == 0, rebuilder.stderr

    seen = collections.defaultdict(set)
    for (out, _), ks in zip(outputs, sets):
        lines = [line.split() for line in out.splitlines()]
        assert [int(line[0]) for line in lines] == ks, REPRODUCE
        for k, experiment_id, seed, finished in lines:
            assert finished == "True", REPRODUCE
            seen[int(k)].add((experiment_id, seed))
    assert all(len(found) == 1 for found in seen.values()), f"one config, several experiments: {seen}; {REPRODUCE}"
    with open(os.path.join(project.path, "executions.log")) as f:
        executions = [line.split() for line in f.read().splitlines()]
    assert sorted(int(k) for k, _, _ in executions) == list(range(EXPERIMENTS)), REPRODUCE  # each exactly once
    directories = project.experiment_dirs()
    assert len(directories) == EXPERIMENTS, REPRODUCE
    on_disk = {(os.path.basename(d), os.path.relpath(d, project.storage)) for d in directories}
    assert index_rows(project.storage) == on_disk, REPRODUCE  # no lost index rows
    assert [n for n in os.listdir(os.path.join(project.storage, ".locks")) if n.endswith(".lock")] == []
    for k in range(EXPERIMENTS):
        experiment = get("job", {"k": k})
        assert experiment.status == "finished" and experiment.records().pluck("k") == [k]
    launches = sum(map(len, sets))
    waited = sum(err.count("waiting for it to finish") for _, err in outputs)
    with capsys.disabled():
        print(f"\n[concurrency] seed {SEED}: {PROCESSES} processes, {launches} launches of {EXPERIMENTS} "
              f"experiments, {waited} waits, {len(executions)} executions, {elapsed:.1f}s")


# --- locks of dead and of live owners -------------------------------------------------------

HOLD_IN_COMMIT = '''
import sys, time
from machinable import get
from machinable.storage import filesystem, index

where = sys.argv[1]
if where == "before_directory":
    def hold(self, *args):
        print("holding", flush=True)
        time.sleep(600)
    filesystem.Filesystem._create = hold
else:  # after experiment.json is written, before its index row
    def hold(self, entry, *args):
        print("holding", entry.meta["experiment_id"], flush=True)
        time.sleep(600)
    index.Index.add = hold
get("estimate_gravity", {"time_dilation": 5}).commit()
'''


def start_holding(project, where: str) -> tuple[subprocess.Popen, list]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_COMMIT, where], cwd=project.path, stdout=subprocess.PIPE, text=True
    )
    line = child.stdout.readline().split()
    assert line and line[0] == "holding", "the child did not reach its commit"
    return child, line[1:]


def test_commit_lock_of_a_killed_process_is_taken_over_and_its_commit_finished(project):
    for where in ("before_directory", "before_index_row"):
        child, held = start_holding(project, where)
        try:
            lock_files = [n for n in os.listdir(os.path.join(project.storage, ".locks")) if n.endswith(".lock")]
            assert len(lock_files) == 1
            child.send_signal(signal.SIGKILL)
            child.wait()
        finally:
            child.kill()
            child.wait()
        started = time.time()
        experiment = get("estimate_gravity", {"time_dilation": 5}).commit()
        assert time.time() - started < 5
        if held:  # its experiment.json was written: the experiment is committed and is found, not duplicated
            assert experiment.experiment_id == held[0]
        assert len(project.experiment_dirs()) == 1
        assert [n for n in os.listdir(os.path.join(project.storage, ".locks")) if n.endswith(".lock")] == []
        for directory in project.experiment_dirs():  # start the next round afresh
            shutil.rmtree(directory)
        Storage.current().rebuild_index()


def write_foreign_claim(path: str) -> None:
    with open(path, "w") as f:
        json.dump({"host": "another-host", "pid": 1, "start": None, "token": "foreign", "since": time.time()}, f)


def keep_fresh(path: str, seconds: float) -> threading.Thread:
    """The other host's heartbeat: touch the claim for `seconds`."""

    def touch():
        until = time.time() + seconds
        while time.time() < until:
            os.utime(path)
            time.sleep(0.1)

    thread = threading.Thread(target=touch)
    thread.start()
    return thread


def test_commit_lock_of_a_live_owner_on_another_host_is_respected_until_its_heartbeat_is_stale(project, monkeypatch):
    monkeypatch.setenv("MACHINABLE_STALE_SECONDS", "1")
    experiment = get("estimate_gravity", {"time_dilation": 6})
    lock = os.path.join(project.storage, ".locks", experiment._request().identity + ".lock")
    os.makedirs(os.path.dirname(lock))
    write_foreign_claim(lock)
    assert Claim(lock).is_held()
    heartbeat = keep_fresh(lock, 2.5)
    started = time.time()
    experiment.commit()  # waits while the heartbeat is fresh, takes over 1 s after it stopped
    waited = time.time() - started
    heartbeat.join()
    assert 3.0 <= waited < 8, waited
    assert experiment.is_committed() and len(project.experiment_dirs()) == 1


def test_execution_claim_of_a_live_owner_on_another_host_is_respected_until_its_heartbeat_is_stale(project, monkeypatch):
    monkeypatch.setenv("MACHINABLE_STALE_SECONDS", "1")
    experiment = get("estimate_gravity", {"time_dilation": 7}).commit()
    claim = experiment.local_directory("claim.json")
    write_foreign_claim(claim)
    heartbeat = keep_fresh(claim, 2.5)
    assert experiment.status == "running"
    started = time.time()
    experiment.launch()
    waited = time.time() - started
    heartbeat.join()
    assert 3.0 <= waited < 8, waited
    assert experiment.status == "finished"


HOLD_EXECUTION = '''
import time
from dataclasses import dataclass
from machinable import Experiment


class Hold(Experiment):
    @dataclass
    class Config:
        seconds: float = 600

    def on_execute(self):
        print("running", flush=True)
        time.sleep(self.config.seconds)
'''


def test_a_live_local_owner_is_waited_for_and_a_killed_one_taken_over_at_once(project):
    project.write("hold.py", HOLD_EXECUTION)
    env = {**os.environ, "MACHINABLE_HEARTBEAT_SECONDS": "0.2", "MACHINABLE_STALE_SECONDS": "1"}
    code = "import sys\nfrom machinable import get\nget('hold', {'seconds': float(sys.argv[1])}).launch()"
    # live: the owner runs 3 s, heartbeating; the waiter gets it only when it is finished
    live = subprocess.Popen([sys.executable, "-c", code, "3"], cwd=project.path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout.readline().strip() == "running"
        started = time.time()
        waiter = subprocess.run([sys.executable, "-c", code, "3"], cwd=project.path, env=env, capture_output=True,
                                text=True, timeout=60)
        assert waiter.returncode == 0 and "waiting for it to finish" in waiter.stderr
        assert time.time() - started >= 2 and "running" not in waiter.stdout  # never ran it itself
        assert live.wait(timeout=30) == 0
    finally:
        live.kill()
        live.wait()
    # dead: kill -9 the owner; the next launch takes over without waiting for staleness
    dead = subprocess.Popen([sys.executable, "-c", code, "600"], cwd=project.path, stdout=subprocess.PIPE, text=True)
    try:
        assert dead.stdout.readline().strip() == "running"
        dead.send_signal(signal.SIGKILL)
        dead.wait()
    finally:
        dead.kill()
        dead.wait()
    experiment = get("hold", {"seconds": 600})
    assert experiment.status == "died"
    started = time.time()
    resumed = project.run(
        "from machinable import get\nfrom machinable.storage.claim import Claim\n"
        "e = get('hold', {'seconds': 600})\nclaim = e._claim()\nclaim.acquire()\nprint('took', e.experiment_id)"
    )
    assert time.time() - started < 5
    assert resumed.stdout.split() == ["took", experiment.experiment_id]


def test_an_empty_claim_is_abandoned_after_the_write_grace(project):
    """An owner killed between creating its claim file and writing it leaves it empty."""
    from machinable.storage.claim import WRITE_GRACE

    path = os.path.join(project.path, "empty.lock")
    open(path, "w").close()
    assert Claim(path).is_held() and not Claim(path).try_acquire()  # maybe still being written
    past = time.time() - WRITE_GRACE - 1
    os.utime(path, (past, past))
    assert not Claim(path).is_held()
    claim = Claim(path)
    assert claim.try_acquire() and claim.check()
    claim.release()
    assert not os.path.exists(path)



FIRST_WRITER = """
import os, sys, time
while not os.path.exists("go"):
    time.sleep(0.0005)
from machinable import get
with get("machinable.storage.filesystem", {"directory": sys.argv[1]}):
    for k in range(3):
        get("job", {"k": k}).commit()
"""

FIRST_READER = """
import os, sys, time
from machinable import get
while not os.path.exists("go"):
    time.sleep(0.0005)
deadline = time.time() + 20
with get("machinable.storage.filesystem", {"directory": sys.argv[1]}):
    while not get("job", {"k": 2}).is_committed():  # polls from before the storage exists
        if time.time() > deadline:
            sys.exit("never saw the committed experiment")
"""


def test_a_reader_and_a_writer_creating_a_new_storage_at_once_lose_nothing(project):
    """The first users of a fresh storage race to create its index; no one's view may break.

    Creating the index drops the WAL files a deleted index left. Done unlocked, a process could
    drop the WAL of the index another process had just created; that process then never saw
    (or, as a writer, lost) the commits made after it.
    """
    project.write("job.py", JOB)
    go = os.path.join(project.path, "go")
    for round_ in range(10):
        storage = os.path.join(project.path, f"storage-{round_}")
        children = [
            subprocess.Popen([sys.executable, "-c", code, storage], cwd=project.path, stderr=subprocess.PIPE, text=True)
            for code in (FIRST_READER, FIRST_READER, FIRST_WRITER)
        ]
        time.sleep(0.3)  # all are polling for "go"
        open(go, "w").close()
        outcomes = [(child.wait(timeout=60), child.stderr.read()) for child in children]
        os.unlink(go)
        with sqlite3.connect(os.path.join(storage, "index.sqlite")) as db:  # as the processes left it
            rows = db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]
        assert [code for code, _ in outcomes] == [0, 0, 0] and rows == 3, (
            f"round {round_}: {rows} index rows, exits and stderr {outcomes}, files {sorted(os.listdir(storage))}"
        )
