"""Shared machinery of the reliability suites: seeds, a fork server to kill, and the checks
that a storage lost nothing after a crash.

Everything random derives from one number, MACHINABLE_RELIABILITY_SEED (a fresh one per
run unless set); every failure message repeats it, so `MACHINABLE_RELIABILITY_SEED=<n>
python3 -m pytest tests/reliability` replays the same plans, kill points and delays.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from machinable.storage.claim import WRITE_GRACE

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "crash_worker.py")

SEED = int(os.environ.get("MACHINABLE_RELIABILITY_SEED") or random.SystemRandom().randrange(10**9))
REPRODUCE = f"reproduce with MACHINABLE_RELIABILITY_SEED={SEED}"

# the leftovers of write_atomic and of claim creation cut short by a kill: .<name>.<pid>.<n>.tmp
TEMPORARY = re.compile(r"^\..+\.\d+\.[0-9a-f]+\.tmp$")

WORK = '''
import os
import random
from dataclasses import dataclass

from machinable import Experiment

ACKS = None  # set by the crash worker
_open, _write, _close = os.open, os.write, os.close  # the real ones, before the worker counts writes


def ack(line):
    fd = _open(ACKS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _write(fd, (line + "\\n").encode())
    finally:
        _close(fd)


class Work(Experiment):
    """Saves `rows` records (resuming after the rows already saved) and a progress file."""

    @dataclass
    class Config:
        n: int = 0
        rows: int = 3
        tag: str = ""

    def on_execute(self):
        draw = random.random()  # the same on every (re)run: seeded with self.seed
        record = self.record()
        start = len(self.records())
        for step in range(start, self.config.rows):
            record.save(step=step, draw=draw)
            ack(f"rec {self.experiment_id} {step}")
            if step % 4 == 3:
                self.save_data("progress.json", {"step": step})
                ack(f"prog {self.experiment_id} {step}")
'''


def rows_of(n: int) -> int:
    return (2, 6, 13)[n % 3]


class ForkServer:
    """crash_worker.py running in `project`: forks one worker per command, kills it as told."""

    def __init__(self, project: str, timeout: float = 120.0):
        self.project = project
        self.timeout = timeout
        with open(os.path.join(project, "work.py"), "w") as f:
            f.write(WORK)
        self.stderr = open(os.path.join(project, "fork-server.err"), "w")
        self.process = subprocess.Popen(
            [sys.executable, WORKER], cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, start_new_session=True,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
        if not ready:
            self.close()
            raise AssertionError(f"crash worker gave no answer within {self.timeout}s (deadlock?); {REPRODUCE}")
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise AssertionError(f"crash worker died: {self._errors()}; {REPRODUCE}")
        return line.strip()

    def _errors(self) -> str:
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()[-3000:]

    def run(self, storage: str, ops: list, kill_at: int = 0, delay: float | None = None) -> dict:
        errors = os.path.join(self.project, "worker-errors.log")
        command = {
            "storage": storage, "acks": os.path.join(storage + ".acks"), "errors": errors,
            "ops": ops, "kill_at": kill_at, "delay": delay,
        }
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        outcome = json.loads(self._read())
        if outcome["code"] not in (0, None):
            with open(errors) as f:
                raise AssertionError(f"crash worker failed (exit {outcome['code']}):\n{f.read()[-5000:]}\n{REPRODUCE}")
        return outcome

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the server and any worker it forked
            except ProcessLookupError:
                pass
        self.process.wait()
        self.stderr.close()


# --- what a storage must look like after a crash -------------------------------------------


class Acks:
    """What the workers acknowledged: machinable returned from these calls before the kill."""

    def __init__(self, path: str):
        self.commits: dict = {}  # n -> (id, seed)
        self.done: dict = {}  # n -> (id, seed)
        self.direct: set = set()  # ids
        self.records = collections.defaultdict(set)  # (id, scope) -> steps
        self.data = collections.defaultdict(int)  # id -> highest blob version
        self.progress = collections.defaultdict(lambda: -1)  # id -> highest progress step
        self.ios: list = []
        self.read: dict = {}  # id -> status, as the API reads it
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            kind, *rest = line.split()
            if kind in ("commit", "done"):
                n, experiment_id, seed = rest
                target = self.commits if kind == "commit" else self.done
                previous = target.setdefault(int(n), (experiment_id, int(seed)))
                assert previous == (experiment_id, int(seed)), f"config n={n} changed id/seed: {previous} -> {rest}; {REPRODUCE}"
            elif kind == "direct":
                self.direct.add(rest[1])
            elif kind in ("rec", "xrec"):
                self.records[rest[0], "default" if kind == "rec" else "extra"].add(int(rest[1]))
            elif kind == "data":
                self.data[rest[0]] = max(self.data[rest[0]], int(rest[1]))
            elif kind == "prog":
                self.progress[rest[0]] = max(self.progress[rest[0]], int(rest[1]))
            elif kind == "read":
                self.read[rest[0]] = rest[1]
            elif kind == "ios":
                self.ios.append(int(rest[0]))
            elif kind != "op":
                raise AssertionError(f"unknown acknowledgement {line!r}")


def read_rows(path: str) -> tuple[list, int]:
    """The parsed rows of a records file and the number of lines cut short (skipped by readers)."""
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return [], 0
    rows, torn = [], 0
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            torn += 1
    return rows, torn


def scope_rows(records: str, scope: str) -> list:
    """The rows of `scope` in a records directory: `<scope>.jsonl`, then each later attempt's
    segment `<scope>.jsonl.<attempt>` in the order of the attempts."""
    try:
        names = os.listdir(records)
    except FileNotFoundError:
        return []
    base = scope + ".jsonl"
    attempts = sorted(int(n[len(base) + 1 :]) for n in names if n.startswith(base + ".") and n[len(base) + 1 :].isdigit())
    paths = [base] * (base in names) + [f"{base}.{attempt}" for attempt in attempts]
    return [row for path in paths for row in read_rows(os.path.join(records, path))[0]]


def load_json(path: str, what: str):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw)
    except ValueError as e:
        raise AssertionError(f"{what} {path} is not valid JSON ({e}): {raw[:200]!r}; {REPRODUCE}") from None


def scan(storage: str) -> tuple[dict, list]:
    """Experiments on disk {id: (directory relative to storage, metadata)} and directories
    in a group that hold no experiment.json."""
    experiments, orphans = {}, []
    if not os.path.isdir(storage):
        return experiments, orphans
    for group in sorted(os.listdir(storage)):
        group_path = os.path.join(storage, group)
        if group.startswith(".") or not os.path.isdir(group_path):
            continue
        for name in sorted(os.listdir(group_path)):
            path = os.path.join(group_path, name)
            if TEMPORARY.match(name):
                continue
            if not os.path.exists(os.path.join(path, "experiment.json")):
                orphans.append(os.path.relpath(path, storage))
                continue
            meta = load_json(os.path.join(path, "experiment.json"), "metadata")
            experiments[meta["experiment_id"]] = (os.path.relpath(path, storage), meta)
    return experiments, orphans


def index_rows(storage: str) -> set | None:
    """(id, directory) rows of the index, read with plain sqlite3; None if there is no usable index."""
    path = os.path.join(storage, "index.sqlite")
    if not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect(path, timeout=30)
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] < 1:
                return None
            return set(db.execute("SELECT id, directory FROM experiments").fetchall())
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return None


def check_files(storage: str) -> dict:
    """No metadata file is cut short; records files hold only whole rows or skipped torn lines."""
    stats = collections.Counter()
    for current, dirs, files in os.walk(storage):
        for name in files:
            path = os.path.join(current, name)
            if TEMPORARY.match(name):
                stats["temporary files"] += 1
            elif name.endswith((".lock", ".break")) or name == "claim.json":
                if os.path.getsize(path):  # or empty: see let_write_grace_pass
                    load_json(path, "claim")
                stats["claim files"] += 1
            elif name.endswith(".json"):
                load_json(path, "file")
                stats["json files"] += 1
            elif name.endswith(".jsonl") or re.search(r"\.jsonl\.\d+$", name):
                stats["torn record lines"] += read_rows(path)[1]
    return stats


def let_write_grace_pass(storage: str) -> None:
    """Age empty claim files as if WRITE_GRACE had passed.

    A claim is created empty, then written (O_EXCL); one whose owner was killed in
    between reads as held for WRITE_GRACE seconds, then as abandoned.
    """
    past = time.time() - WRITE_GRACE - 1
    for current, _, files in os.walk(storage):
        for name in files:
            path = os.path.join(current, name)
            if (name.endswith((".lock", ".break")) or name == "claim.json") and os.path.getsize(path) == 0:
                os.utime(path, (past, past))


def verify(storage: str, state: dict, final: bool = False) -> collections.Counter:
    """Every promise of SPEC §6/§7/§12 after a kill; returns counts for the report.

    `state` carries what was seen before (id and seed of each config) across kill points.
    """
    from machinable.storage.claim import Claim
    from machinable.storage.filesystem import Filesystem

    leftovers = check_files(storage)
    let_write_grace_pass(storage)
    stats = collections.Counter({"torn lines seen": leftovers["torn record lines"]})
    acks = Acks(storage + ".acks")
    experiments, orphans = scan(storage)
    # the index agrees with the files, or is repaired when the storage is next opened
    on_disk = {(experiment_id, directory) for experiment_id, (directory, _) in experiments.items()}
    if index_rows(storage) != on_disk or orphans:
        stats["repaired on open"] += 1
    Filesystem({"directory": storage}).index.close()  # opening repairs what a dead process left unfinished
    experiments, orphans = scan(storage)
    on_disk = {(experiment_id, directory) for experiment_id, (directory, _) in experiments.items()}
    indexed = index_rows(storage)
    assert indexed == on_disk, (
        f"index disagrees with the files after reopening: only indexed {sorted((indexed or set()) - on_disk)}, "
        f"only on disk {sorted(on_disk - (indexed or set()))}; {REPRODUCE}"
    )
    assert not orphans, f"experiment directories without experiment.json: {orphans}; {REPRODUCE}"
    locks = os.path.join(storage, ".locks")
    leftover = [n for n in os.listdir(locks) if n.endswith(".lock")] if os.path.isdir(locks) else []
    assert not leftover, f"commit locks of dead processes were not cleared on open: {leftover}; {REPRODUCE}"

    # one experiment per config: a crash never leads to a duplicate
    by_identity = collections.defaultdict(list)
    for experiment_id, (directory, meta) in experiments.items():
        if meta["config"]["tag"] == "":
            by_identity[meta["identity"]].append(experiment_id)
    duplicates = {i: ids for i, ids in by_identity.items() if len(ids) > 1}
    assert not duplicates, f"duplicate experiments for one config: {duplicates}; {REPRODUCE}"

    known = state.setdefault("known", {})
    for experiment_id, (directory, meta) in experiments.items():
        config = meta["config"]
        if config["tag"] == "":
            first = known.setdefault(config["n"], (experiment_id, meta["seed"]))
            assert first == (experiment_id, meta["seed"]), (
                f"config n={config['n']} was {first}, now {(experiment_id, meta['seed'])}; {REPRODUCE}"
            )
        path = os.path.join(storage, directory)
        status = load_json(os.path.join(path, "status.json"), "status") if os.path.exists(os.path.join(path, "status.json")) else {}
        claim = os.path.join(path, "claim.json")
        assert not Claim(claim).is_held(), f"a dead run reads as running: {claim}; {REPRODUCE}"
        rows = scope_rows(os.path.join(path, "records"), "default")
        steps = [row["step"] for row in rows]
        assert steps == list(range(len(steps))), f"records of {experiment_id} are {steps}; {REPRODUCE}"
        draws = {row["draw"] for row in rows}
        assert draws <= {random.Random(meta["seed"]).random()}, f"{experiment_id} ran with another seed; {REPRODUCE}"
        extra = [row["i"] for row in scope_rows(os.path.join(path, "records"), "extra")]
        assert extra == list(range(len(extra))), f"extra records of {experiment_id} are {extra}; {REPRODUCE}"
        if "finished_at" in status:
            assert len(rows) == config["rows"], f"{experiment_id} finished with {len(rows)} rows; {REPRODUCE}"
        if final:
            stats["experiments"] += 1
            stats["records"] += len(rows) + len(extra)
        if final and config["tag"] == "":
            assert "finished_at" in status, f"{experiment_id} did not finish after relaunch: {status}; {REPRODUCE}"

    # everything machinable returned from is there
    for n, (experiment_id, seed) in {**acks.commits, **acks.done}.items():
        assert experiment_id in experiments, f"committed experiment {experiment_id} (n={n}) is gone; {REPRODUCE}"
        assert known[n] == (experiment_id, seed), f"n={n}: acknowledged {experiment_id}/{seed}, stored {known[n]}; {REPRODUCE}"
    for n, (experiment_id, _) in acks.done.items():
        status = load_json(os.path.join(storage, experiments[experiment_id][0], "status.json"), "status")
        assert "finished_at" in status, f"launch() returned for {experiment_id} but it is not finished; {REPRODUCE}"
    for experiment_id in acks.direct:
        assert experiment_id in experiments, f"committed experiment {experiment_id} is gone; {REPRODUCE}"
    for (experiment_id, scope), steps in acks.records.items():
        key = "step" if scope == "default" else "i"
        path = os.path.join(storage, experiments[experiment_id][0], "records")
        saved = {row[key] for row in scope_rows(path, scope)}
        assert steps <= saved, f"saved records lost from {path}: {sorted(steps - saved)}; {REPRODUCE}"
    for experiment_id, version in acks.data.items():
        blob = load_json(os.path.join(storage, experiments[experiment_id][0], "data", "blob.json"), "data")
        assert version <= blob["v"] <= version + 1, f"blob.json of {experiment_id}: saved {version}, found {blob['v']}; {REPRODUCE}"
    for experiment_id, step in acks.progress.items():
        progress = load_json(os.path.join(storage, experiments[experiment_id][0], "data", "progress.json"), "data")
        assert progress["step"] >= step, f"progress.json of {experiment_id} went back; {REPRODUCE}"
    stats["acknowledgements checked"] += (
        len(acks.commits) + len(acks.done) + len(acks.direct) + sum(map(len, acks.records.values()))
        + len(acks.data) + len(acks.progress)
    )
    state["done"] = set(acks.done)
    return stats


def executions_of_finished(storage: str) -> dict:
    """{id: number of execution records} of the finished experiments."""
    found = {}
    for experiment_id, (directory, _) in scan(storage)[0].items():
        path = os.path.join(storage, directory)
        if os.path.exists(os.path.join(path, "status.json")) and "finished_at" in load_json(os.path.join(path, "status.json"), "status"):
            found[experiment_id] = len([n for n in os.listdir(os.path.join(path, "executions")) if n.endswith(".json") and not n.startswith(".")])
    return found


def inject_torn_row(storage: str, rng: random.Random) -> bool:
    """Simulate a kill in the middle of writing a records row of an unfinished experiment."""
    experiments, _ = scan(storage)
    candidates = []
    for experiment_id, (directory, meta) in sorted(experiments.items()):
        path = os.path.join(storage, directory)
        status = path + "/status.json"
        if os.path.exists(path + "/records/default.jsonl") and (
            not os.path.exists(status) or "finished_at" not in load_json(status, "status")
        ):
            candidates.append(path + "/records/default.jsonl")
    if not candidates:
        return False
    with open(rng.choice(candidates), "ab") as f:
        f.write(b'{"step": 99999, "dr')
    return True


class Lane:
    """One storage, killed again and again at seeded random points, checked after every kill."""

    def __init__(self, server: ForkServer, storage: str, seed: int):
        self.server = server
        self.storage = storage
        self.rng = random.Random(seed)
        self.state: dict = {}
        self.pending: set = set()  # configs to (re)launch
        self.next_n = 0
        self.next_direct = 0
        self.stats = collections.Counter()

    def plan(self) -> list:
        rng = self.rng
        ops = [["launch", n, rows_of(n)] for n in sorted(self.pending)]
        known = sorted(self.state.get("known", {}))
        for _ in range(rng.randint(1, 3)):
            choice = rng.random()
            if choice < 0.45 or not known:
                n, self.next_n = self.next_n, self.next_n + 1
                self.pending.add(n)
                ops.append(["launch" if choice < 0.35 or not known else "commit", n, rows_of(n)])
            elif choice < 0.55:
                ops.append(["direct", self.next_direct])
                self.next_direct += 1
            else:
                n = rng.choice(known)
                kind = "data" if choice < 0.7 else "records" if choice < 0.85 else "rebuild" if choice < 0.93 else "drop_index"
                ops.append([kind, n, rows_of(n)])
        return ops

    @staticmethod
    def _cost(ops) -> tuple[int, float]:
        """Rough write-operation count and seconds of `ops` (where kill points are drawn from)."""
        ios = seconds = 0
        for op in ops:
            if op[0] == "launch":
                ios, seconds = ios + 40 + 3 * op[2], seconds + 0.012
            else:
                ios, seconds = ios + 14, seconds + 0.004
        return ios, seconds

    def kill_once(self) -> bool:
        """Run one plan, killed at a random point; True if the kill landed."""
        ops = self.plan()
        ios, seconds = self._cost(ops)
        acks = self.storage + ".acks"
        seen = os.path.getsize(acks) if os.path.exists(acks) else 0
        if self.rng.random() < 0.5:
            outcome = self.server.run(self.storage, ops, kill_at=self.rng.randint(1, ios))
            self.stats["kills at a write operation" if outcome["killed"] else "plans finished first"] += 1
        else:
            outcome = self.server.run(self.storage, ops, delay=self.rng.uniform(0, seconds))
            self.stats["kills after a delay" if outcome["killed"] else "plans finished first"] += 1
        if outcome["killed"]:
            phases = []
            if os.path.exists(acks):
                with open(acks) as f:
                    f.seek(seen)
                    phases = [line.split()[1] for line in f.read().splitlines() if line.startswith("op ")]
            self.stats[f"killed in {phases[-1] if phases else 'start'}"] += 1
        if outcome["killed"] and self.rng.random() < 0.25 and inject_torn_row(self.storage, self.rng):
            self.stats["torn rows injected"] += 1
        self.stats.update(verify(self.storage, self.state))
        self.pending -= self.state["done"]
        return outcome["killed"]

    def finish(self) -> None:
        """Relaunch everything without a kill: all of it finishes, with its first id and seed."""
        every = sorted(set(self.state.get("known", {})) | self.pending)
        finished_before = executions_of_finished(self.storage)
        self.server.run(self.storage, [["launch", n, rows_of(n)] for n in every] + [["read_all"]])
        self.stats.update(verify(self.storage, self.state, final=True))
        acks = Acks(self.storage + ".acks")
        for n in every:
            assert acks.done[n] == self.state["known"][n], f"n={n} finished as {acks.done[n]}; {REPRODUCE}"
        finished_after = executions_of_finished(self.storage)
        assert {i: finished_after[i] for i in finished_before} == finished_before, f"a finished experiment ran again; {REPRODUCE}"
        experiments, _ = scan(self.storage)
        assert sorted(acks.read) == sorted(experiments), REPRODUCE
        for experiment_id, (_, meta) in experiments.items():
            expected = "finished" if meta["config"]["tag"] == "" else "committed"
            assert acks.read[experiment_id] == expected, f"{experiment_id} reads {acks.read[experiment_id]}; {REPRODUCE}"
        self.stats["temporary files left"] += check_files(self.storage)["temporary files"]


def run_lanes(root: str, lanes: int, kills_per_lane: int, parallel: int = 2) -> collections.Counter:
    """`lanes` storages, each killed `kills_per_lane` times, `parallel` at once; summed stats."""
    total = collections.Counter()
    lock = threading.Lock()
    failures: list = []
    queue = list(range(lanes))

    def lane_worker(slot: int):
        project = os.path.join(root, f"slot{slot}")
        os.makedirs(project)
        server = ForkServer(project)
        try:
            while not failures:
                with lock:
                    if not queue:
                        return
                    number = queue.pop(0)
                lane = Lane(server, os.path.join(project, f"storage{number}"), SEED * 1000 + number)
                attempts = 0
                while lane.stats["kills at a write operation"] + lane.stats["kills after a delay"] < kills_per_lane:
                    attempts += 1
                    assert attempts < kills_per_lane * 4, f"kills do not land: {lane.stats}; {REPRODUCE}"
                    lane.kill_once()
                lane.finish()
                with lock:
                    total.update(lane.stats)
                    total["lanes"] += 1
        except BaseException as e:  # reported by the main thread
            failures.append(e)
        finally:
            server.close()

    threads = [threading.Thread(target=lane_worker, args=(slot,)) for slot in range(parallel)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    total["seconds"] = round(time.time() - started)
    return total
