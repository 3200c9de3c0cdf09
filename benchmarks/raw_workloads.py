#!/usr/bin/env python
"""The no-framework floor: the same work done with the Python standard library only.

usage: python benchmarks/raw_workloads.py WORKLOAD --base DIR [options]

  run_overhead  --n 500: per run mkdir <uuid>/ + config.json (5 values + seed) +
                data.json (the small file) + status.json (started/finished), no fsync
                (machinable does not fsync either); also a variant that fsyncs every
                file and both directories. Figure: median ms per run.
  logging       --rows 100000: rows {step, loss, accuracy, _timestamp} as JSON lines:
                os-write   one os.write per row on an O_APPEND fd (what survives SIGKILL,
                           the same guarantee machinable's record.save() gives)
                flush      buffered file, write + flush per row (also SIGKILL-safe)
                buffered   buffered file, one flush at the end (NOT SIGKILL-safe)
  lookup        --n 1000 10000 100000: N run dirs with config.json plus a SQLite table
                (config_hash -> path, indexed), populated untimed in one transaction.
                sqlite     sha256 of canonical JSON + SELECT on an open connection + read
                           the hit's config.json (the work a config index has to do)
                dict       in-memory {hash: path} built by scanning the store (build time
                           reported) + read the hit's config.json
                scan       listdir + json.load of every config.json (no index)
  cli           --runs 10: `python raw_cli.py lr=.. seed=..` (parse key=value, mkdir,
                3 JSON files) in a fresh interpreter: spawn -> "execute" marker, and exit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (exec_peak_rss_mb, accuracy_at, fresh_dir, fs_probe, loss_at, maxrss_mb, params_for, perf,  # noqa: E402
                     progress, r, run_workload, summarize)

TOOL = "raw"


def _write_json(path, obj, sync):
    with open(path, "w") as f:
        json.dump(obj, f)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_run(store, i, sync=False, data=True):
    cfg = params_for(i)
    d = os.path.join(store, uuid.uuid4().hex)
    os.mkdir(d)
    _write_json(os.path.join(d, "config.json"), {"config": cfg, "seed": i}, sync)
    if data:
        started = time.time()
        _write_json(os.path.join(d, "data.json"), cfg, sync)
        _write_json(os.path.join(d, "status.json"), {"started_at": started, "finished_at": time.time()}, sync)
    if sync:
        _fsync_dir(d)
        _fsync_dir(store)
    return d


def w_run_overhead(args):
    root = fresh_dir(os.path.join(args.base, "raw-run_overhead"))
    fs_start = fs_probe(args.base)
    res = {}
    for sync in (False, True):
        store = fresh_dir(os.path.join(root, f"store-{sync}"))
        make_run(store, 10**6, sync)
        times = []
        for i in range(args.n):
            t = perf()
            make_run(store, i, sync)
            times.append(perf() - t)
        res["fsync" if sync else "nofsync"] = {"ms_per_run": summarize(times)}
    res["ms_per_run"] = res["nofsync"]["ms_per_run"]
    res["fs_create_us_start_end"] = [fs_start, fs_probe(args.base)]
    return res


def _logging_synced(path: str, rows: int, dumps) -> dict:
    """os.write + fdatasync per row: each row on disk when the call returns (what survives a power loss)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    t = perf()
    for i in range(rows):
        os.write(fd, (dumps({"step": i, "loss": loss_at(i), "accuracy": accuracy_at(i), "_timestamp": time.time()}) + "\n").encode())
        os.fdatasync(fd)
    total = perf() - t
    os.close(fd)
    return {"rows": rows, "rows_per_s": r(rows / total, 1), "us_per_row": r(total / rows * 1e6), "total_s": r(total)}


def w_logging(args):
    root = fresh_dir(os.path.join(args.base, "raw-logging"))
    rows = args.rows
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    res = {}
    for how in ("os-write", "flush", "buffered"):
        path = os.path.join(root, f"{how}.jsonl")
        t = perf()
        if how == "os-write":
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            for i in range(rows):
                os.write(fd, (dumps({"step": i, "loss": loss_at(i), "accuracy": accuracy_at(i),
                                     "_timestamp": time.time()}) + "\n").encode())
            os.close(fd)
        else:
            with open(path, "a") as f:
                for i in range(rows):
                    f.write(dumps({"step": i, "loss": loss_at(i), "accuracy": accuracy_at(i),
                                   "_timestamp": time.time()}) + "\n")
                    if how == "flush":
                        f.flush()
        total = perf() - t
        with open(path, "rb") as f:
            assert sum(1 for _ in f) == rows
        res[how] = {"rows_per_s": r(rows / total, 1), "us_per_row": r(total / rows * 1e6), "total_s": r(total)}
    res["fdatasync"] = _logging_synced(os.path.join(root, "fdatasync.jsonl"), min(rows, args.fsync_rows), dumps)
    res["rows"] = rows
    res["rows_per_s"] = res["os-write"]["rows_per_s"]
    res["us_per_row"] = res["os-write"]["us_per_row"]
    res["peak_rss_mb"] = exec_peak_rss_mb()  # VmHWM: ru_maxrss carries the spawning process's peak
    return res


def chash(cfg):
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _read_config(path):
    with open(os.path.join(path, "config.json"), "rb") as f:
        return json.loads(f.read())["config"]


def w_lookup(args):
    root = fresh_dir(os.path.join(args.base, "raw-lookup"))
    store = os.path.join(root, "runs")
    os.mkdir(store)
    dbp = os.path.join(root, "index.sqlite")
    db = sqlite3.connect(dbp)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE runs (config_hash TEXT NOT NULL, path TEXT NOT NULL)")
    db.execute("CREATE INDEX runs_config_hash ON runs (config_hash)")
    db.commit()
    out = {}
    have = 0
    for n in sorted(args.n):
        t = perf()
        rows = []
        for i in range(have, n):
            rows.append((chash(params_for(i)), make_run(store, i, data=False)))
        db.executemany("INSERT INTO runs VALUES (?, ?)", rows)
        db.commit()
        create_s = perf() - t
        have = n
        rng = random.Random(n)
        res = {"n": n, "populate_s": r(create_s, 2)}

        def f_sqlite(q):
            (path,), = db.execute("SELECT path FROM runs WHERE config_hash = ?", (chash(q),)).fetchall()
            return _read_config(path)

        t = perf()
        index = {}
        for name in os.listdir(store):
            path = os.path.join(store, name)
            index[chash(_read_config(path))] = path
        res["dict_build_ms"] = r((perf() - t) * 1e3, 2)

        def f_dict(q):
            return _read_config(index[chash(q)])

        def f_scan(q):
            hits = []
            for name in os.listdir(store):
                cfg = _read_config(os.path.join(store, name))
                if cfg == q:
                    hits.append(cfg)
            assert len(hits) == 1
            return hits[0]

        for name, fn, count in (("sqlite", f_sqlite, args.lookups), ("dict", f_dict, args.lookups),
                                ("scan", f_scan, args.scan_lookups)):
            times = []
            end = perf() + args.scan_budget_s
            for _ in range(count):
                q = params_for(rng.randrange(n))
                t = perf()
                got = fn(q)
                times.append(perf() - t)
                assert got == q
                if name == "scan" and perf() > end:
                    break
            res[name + "_ms"] = summarize(times, digits=5)
        res["ms_per_lookup"] = res["sqlite_ms"]["median"]
        out[str(n)] = res
        progress("raw lookup", n, res["sqlite_ms"]["median"], "ms")
    db.close()
    res_all = {"sizes": out, "peak_rss_mb": maxrss_mb()}
    # memory like machinable's: a fresh lookup-only process on the store populated above
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "lookup-only", "--base", args.base,
                        "--root", root, "--n", str(have), "--lookups", str(args.lookups)],
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"lookup-only failed ({p.returncode}): {p.stderr[-3000:]}")
    res_all["lookup_only"] = json.loads(p.stdout.strip().splitlines()[-1])["results"]
    return res_all


def w_lookup_only(args):
    """Internal: look configs up in the store `lookup` populated (index.sqlite + config.json), in a fresh process."""
    n = args.n[0]
    db = sqlite3.connect(os.path.join(args.root, "index.sqlite"))
    rng = random.Random(n + 1)
    times = []
    for _ in range(args.lookups):
        q = params_for(rng.randrange(n))
        t = perf()
        (path,), = db.execute("SELECT path FROM runs WHERE config_hash = ?", (chash(q),)).fetchall()
        got = _read_config(path)
        times.append(perf() - t)
        assert got == q
    db.close()
    return {"n": n, "ms_per_lookup": summarize(times, digits=5), "peak_rss_mb": exec_peak_rss_mb(), "rss_source": "VmHWM"}


CLI_SCRIPT = '''\
import json, os, sys, time, uuid
t_exec = time.time()
cfg = {}
for arg in sys.argv[1:]:
    k, v = arg.split("=", 1)
    try:
        v = json.loads(v)
    except ValueError:
        pass
    cfg[k] = v
store = os.path.abspath("runs")
os.makedirs(store, exist_ok=True)
d = os.path.join(store, uuid.uuid4().hex)
os.mkdir(d)
with open(os.path.join(d, "config.json"), "w") as f:
    json.dump({"config": cfg}, f)
with open(os.environ["BENCH_MARKER"], "a") as f:
    f.write(repr(t_exec) + "\\n")
with open(os.path.join(d, "data.json"), "w") as f:
    json.dump(cfg, f)
with open(os.path.join(d, "status.json"), "w") as f:
    json.dump({"started_at": t_exec, "finished_at": time.time()}, f)
'''


def w_cli(args):
    root = fresh_dir(os.path.join(args.base, "raw-cli"))
    script = os.path.join(root, "raw_cli.py")
    with open(script, "w") as f:
        f.write(CLI_SCRIPT)
    marker = os.path.join(root, "marker.txt")
    env = dict(os.environ, BENCH_MARKER=marker)
    to_exec, totals = [], []
    for i in [10**6, *range(args.runs)]:
        before = os.path.getsize(marker) if os.path.exists(marker) else 0
        argv = [sys.executable, script, *(f"{k}={v}" for k, v in params_for(i).items())]
        t_wall = time.time()
        t = perf()
        subprocess.run(argv, cwd=root, env=env, check=True)
        total = perf() - t
        with open(marker) as f:
            f.seek(before)
            (stamp,) = [float(x) for x in f.read().split()]
        if i != 10**6:
            to_exec.append(stamp - t_wall)
            totals.append(total)
    return {"status": "ok", "command": "python raw_cli.py lr=.. seed=.. ...",
            "to_first_execute_ms": summarize(to_exec), "process_total_ms": summarize(totals)}


WORKLOADS = {"run_overhead": w_run_overhead, "logging": w_logging, "lookup": w_lookup, "cli": w_cli,
             "lookup-only": w_lookup_only}  # lookup-only: internal, spawned by lookup


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=list(WORKLOADS))
    ap.add_argument("--base", required=True)
    ap.add_argument("--n", type=int, nargs="+", default=None)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=200)
    ap.add_argument("--scan-lookups", type=int, default=5)
    ap.add_argument("--fsync-rows", type=int, default=2000, help="rows of the fdatasync-per-row logging variant")
    ap.add_argument("--scan-budget-s", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--root", help="lookup-only: the store lookup populated")
    args = ap.parse_args()
    run_workload(TOOL, args, WORKLOADS)


if __name__ == "__main__":
    main()
