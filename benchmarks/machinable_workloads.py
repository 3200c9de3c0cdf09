#!/usr/bin/env python
"""machinable's side of the benchmark: one workload per invocation, one JSON line out.

usage: python benchmarks/machinable_workloads.py WORKLOAD --base DIR [options]

  run_overhead  --n 500 [--api get|make]
                N experiments with 5 config values, each saving data/data.json and
                finishing: `get("bench_run", config).launch()` (api=get, the documented
                get-or-run path: a lookup, then commit + execute) or
                `Experiment.make("bench_run", config).launch()` (api=make: always new).
                Fresh storage; one warm-up run (first-use imports, git probe, package scan)
                is reported separately and excluded. Figure: median ms per run.
  logging       --rows 100000 [--style kwargs|setitem]
                one committed experiment, `record.save(step=i, loss=.., accuracy=..)`
                (kwargs) or `r["step"]=..; ...; r.save()` (setitem) per row; timed from
                the first save to the record being closed; rows verified afterwards.
                Reports peak RSS of the process.
  durability    --trials 3 --rows-before-kill 20000 50000 80000
                a child saves rows forever and reports (on a pipe, every --report-every
                rows, *after* save() returned) how many saves returned; the parent sends
                SIGKILL after the given count and checks that every reported row is in
                records/default.jsonl.
  lookup        --n 1000 10000 100000 [--lookups 200] [--find-lookups 5]
                grows one storage through the sizes (populated through the public API,
                `Experiment.make(...).commit()` in a separate process, untimed), then per
                size a *fresh* process times `get("bench_run", config)` returning the
                stored experiment (random targets, each checked), plus `find(where=...)`.
                Reports the lookup process's peak RSS.
  dispatch      --n 12
                N experiments dispatched by `machinable.execution.multiprocess` with 2
                processes; each imports a module that takes 0.3 s to import (a stand-in
                for torch or scikit-learn). Figure: seconds for the whole dispatch, which
                shows whether worker processes (and their imports) are reused.
  cli           --runs 10
                `python -m machinable get bench_run lr=.. seed=.. ... --launch` in a fresh
                process (new config each time): wall time from spawning the process to
                the experiment's on_execute (marker file) and to process exit. Skipped,
                with the reason, when the CLI is not available.

internal (spawned by the above): populate, lookup-only, durability-child.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (exec_peak_rss_mb, accuracy_at, emit, fresh_dir, fs_probe, loss_at, maxrss_mb, params_for,  # noqa: E402
                     perf, progress, r, run_workload, summarize)

TOOL = "machinable"
MODULE = "bench_run"
MODULE_SOURCE = '''\
import os
import time
from dataclasses import dataclass

from machinable import Experiment

_MARKER = os.environ.get("MACHINABLE_BENCH_MARKER")


class BenchRun(Experiment):
    @dataclass
    class Config:
        lr: float = 0.001
        seed: int = 0
        batch_size: int = 32
        epochs: int = 10
        optimizer: str = "adam"

    def on_execute(self):
        if _MARKER:
            with open(_MARKER, "a") as f:
                f.write(repr(time.time()) + "\\n")
        self.save_data("data.json", dict(self.config))
'''


def make_project(directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, MODULE + ".py"), "w") as f:
        f.write(MODULE_SOURCE)
    return directory


def open_storage(store: str):
    from machinable import get

    return get("machinable.storage.filesystem", {"directory": store})


# --- workload 2: per-run overhead ------------------------------------------------------


def w_run_overhead(args) -> dict:
    root = fresh_dir(os.path.join(args.base, f"machinable-run_overhead-{args.api}"))
    project = make_project(os.path.join(root, "project"))
    store = os.path.join(root, "storage")
    os.chdir(project)
    t_import = perf()
    from machinable import Experiment, get

    import_s = perf() - t_import
    if args.api == "get":
        def one(i):
            e = get(MODULE, params_for(i)).launch()
            return e
    else:
        def one(i):
            return Experiment.make(MODULE, params_for(i)).launch()

    fs_start = fs_probe(args.base)
    times = []
    with open_storage(store):
        t = perf()
        first = one(10**6)
        first_s = perf() - t
        t_all = perf()
        for i in range(args.n):
            t = perf()
            last = one(i)
            times.append(perf() - t)
        total = perf() - t_all
        assert first.is_finished() and last.is_finished()
        assert last.load_data("data.json") == params_for(args.n - 1)
        # the get path must find what was just run (and not run it again)
        again = get(MODULE, params_for(args.n - 1))
        assert again.experiment_id == last.experiment_id
    n_data = sum(1 for _, _, files in os.walk(store) if "data.json" in files)
    assert n_data == args.n + 1, n_data
    res = {
        "api": args.api,
        "ms_per_run": summarize(times),
        "ms_per_run_total_over_n": r(total / args.n * 1e3),
        "first_run_ms": r(first_s * 1e3),
        "import_machinable_ms": r(import_s * 1e3),
        "fs_create_us_start_end": [fs_start, fs_probe(args.base)],
    }
    return res


# --- workload 3: logging ---------------------------------------------------------------


def w_logging(args) -> dict:
    root = fresh_dir(os.path.join(args.base, f"machinable-logging-{args.style}"))
    project = make_project(os.path.join(root, "project"))
    os.chdir(project)
    from machinable import Experiment

    rows = args.rows
    with open_storage(os.path.join(root, "storage")):
        e = Experiment.make(MODULE, params_for(0)).commit()
        rec = e.record()
        if args.style == "kwargs":
            t = perf()
            for i in range(rows):
                rec.save(step=i, loss=loss_at(i), accuracy=accuracy_at(i))
            loop = perf() - t
        else:
            t = perf()
            for i in range(rows):
                rec["step"] = i
                rec["loss"] = loss_at(i)
                rec["accuracy"] = accuracy_at(i)
                rec.save()
            loop = perf() - t
        rec.close()
        total = perf() - t
        rss_logging = exec_peak_rss_mb()  # before the verification below reads the rows back
        path = e.local_directory("records", "default.jsonl")
        with open(path, "rb") as f:
            lines = f.read().splitlines()
        assert len(lines) == rows, (len(lines), rows)
        last = json.loads(lines[-1])
        assert last["step"] == rows - 1 and "loss" in last and "accuracy" in last
        # the reader API sees the same rows
        t = perf()
        n_read = len(e.records())
        read_s = perf() - t
        assert n_read == rows
    return {
        "style": args.style,
        "rows": rows,
        "rows_per_s": r(rows / total, 1),
        "us_per_row": r(total / rows * 1e6),
        "loop_only_s": r(loop),
        "total_s": r(total),
        "read_back_s": r(read_s),
        "file_mb": r(os.path.getsize(path) / 1e6, 2),
        "peak_rss_mb": rss_logging,
        "peak_rss_after_read_back_mb": maxrss_mb(),
    }


def w_durability_child(args) -> None:
    os.chdir(args.project)
    from machinable import Experiment

    with open_storage(args.store):
        e = Experiment.make(MODULE, params_for(0)).commit()
        rec = e.record()
        path = e.local_directory("records", "default.jsonl")
        os.write(1, (path + "\n").encode())
        k = args.report_every
        i = 0
        while True:  # until killed
            rec.save(step=i, loss=loss_at(i), accuracy=accuracy_at(i))
            i += 1
            if i % k == 0:
                os.write(1, b"%d\n" % i)  # i saves have returned


def w_durability(args) -> dict:
    root = fresh_dir(os.path.join(args.base, "machinable-durability"))
    project = make_project(os.path.join(root, "project"))
    trials = []
    for trial, kill_after in enumerate(args.rows_before_kill[: args.trials]):
        store = os.path.join(root, f"storage-{trial}")
        p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "durability-child", "--store", store,
             "--project", project, "--report-every", str(args.report_every), "--base", args.base],
            stdout=subprocess.PIPE,
        )
        path = p.stdout.readline().decode().strip()
        reported = 0
        t0 = perf()
        while reported < kill_after:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"durability child exited early (code {p.wait()})")
            reported = int(line)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        p.stdout.close()
        elapsed = perf() - t0
        with open(path, "rb") as f:
            raw = f.read()
        lines = raw.split(b"\n")
        tail_partial = lines[-1] != b""  # a row cut mid-write (not a returned save)
        complete = lines[:-1]
        steps = []
        bad = 0
        for line in complete:
            try:
                steps.append(json.loads(line)["step"])
            except ValueError:
                bad += 1
        present = set(steps)
        missing = [s for s in range(reported) if s not in present]
        trials.append({
            "kill_after_reported_saves": kill_after,
            "reported_saves_at_kill": reported,
            "rows_in_file": len(steps),
            "missing_reported_rows": len(missing),
            "corrupt_complete_lines": bad,
            "partial_last_line": tail_partial,
            "duplicates": len(steps) - len(present),
            "rows_per_s_incl_reporting": r(len(steps) / elapsed, 1),
            "ok": not missing and bad == 0 and len(steps) == len(present),
        })
        progress("durability trial", trial, trials[-1])
    return {"trials": trials, "all_ok": all(t["ok"] for t in trials),
            "signal": "SIGKILL", "report_every": args.report_every}


# --- workload 4: lookup ----------------------------------------------------------------


def w_populate(args) -> None:
    os.chdir(args.project)
    from machinable import Experiment

    from machinable.errors import StorageError

    t = perf()
    last = []
    collisions = []
    with open_storage(args.store):
        for i in range(args.start, args.stop):
            t1 = perf()
            for attempt in range(5):
                try:
                    Experiment.make(MODULE, params_for(i)).commit()
                    break
                except StorageError as e:
                    # 6-character ids collide within one group directory (birthday bound: ~9 %
                    # chance over 100k experiments); commit() raises instead of drawing a new id
                    if "already exists" not in str(e) or attempt == 4:
                        raise
                    collisions.append(str(e).split(";")[0])
            if args.stop - i <= 1000:
                last.append(perf() - t1)
    total = perf() - t
    n = args.stop - args.start
    emit(TOOL, "populate", args, {
        "created": n, "create_s": r(total, 2), "id_collisions": len(collisions),
        "id_collision_examples": collisions[:3],
        "create_ms_per_experiment": r(total / max(n, 1) * 1e3),
        "create_ms_per_experiment_last1000": r(sum(last) / max(len(last), 1) * 1e3),
        "method": "public API: Experiment.make(module, config).commit()",
    })


def w_lookup_only(args) -> None:
    t_proc = perf()
    os.chdir(args.project)
    from machinable import find, get

    n = args.n
    rng = random.Random(n)
    res = {"n": n}
    with open_storage(args.store):
        # first lookup of the process: opens the index, imports pydantic, builds the model
        q = params_for(rng.randrange(n))
        t = perf()
        e = get(MODULE, q)
        res["first_lookup_ms"] = r((perf() - t) * 1e3)
        assert e.is_committed() and dict(e.config) == q
        times = []
        for _ in range(args.lookups):
            q = params_for(rng.randrange(n))
            t = perf()
            e = get(MODULE, q)
            times.append(perf() - t)
            assert e.is_committed() and dict(e.config) == q, (q, e)
        res["get_ms"] = summarize(times, digits=5)
        # a miss (config never stored) costs a lookup too: get() before the first run
        miss = []
        for j in range(min(args.lookups, 50)):
            q = params_for(n + 10 + j)
            t = perf()
            e = get(MODULE, q)
            miss.append(perf() - t)
            assert not e.is_committed()
        res["get_miss_ms"] = summarize(miss, digits=5)
        if args.find_lookups:
            ftimes = []
            budget_end = perf() + args.find_budget_s
            for _ in range(args.find_lookups):
                q = params_for(rng.randrange(n))
                t = perf()
                found = find(MODULE, where=q)
                ftimes.append(perf() - t)
                assert len(found) == 1 and dict(found[0].config) == q
                if perf() > budget_end:
                    break
            res["find_where_ms"] = summarize(ftimes, digits=3)
        if args.find_lookups:
            res["query"] = query_times(n, rng, args.find_lookups * 4)
    res["process_total_s"] = r(perf() - t_proc, 3)
    res["peak_rss_mb"] = maxrss_mb()
    res["exec_peak_rss_mb"] = exec_peak_rss_mb()  # VmHWM (ru_maxrss carries the spawning process's peak over exec)
    emit(TOOL, "lookup-only", args, res)


def query_times(n: int, rng, rounds: int) -> dict:
    """The condition language on one key among n experiments: equality (`seed = k`, one match) and
    a range (`lr` over 1 % of them), in the SQLite index alone (`Index.select`: the ids and directories)
    and through `find()` (which also opens every match, ~30 µs each)."""
    from machinable import find
    from machinable.conditions import where
    from machinable.storage import Storage

    storage = Storage.current()
    span = max(n // 100, 1)

    def equality():
        k = rng.randrange(n)
        return {"seed": k}, 1

    def ranged():
        start = rng.randrange(n - span + 1)
        return {"lr": {">=": (start - 0.5) * 1e-4, "<": (start + span - 0.5) * 1e-4}}, span

    out = {"range_rows": span}
    for name, make in (("eq", equality), ("range", ranged)):
        for how in ("index", "find"):
            times = []
            for _ in range(rounds if how == "index" else max(rounds // 4, 3)):
                spec, expected = make()
                condition = where(spec)
                t = perf()
                found = storage.index.select(condition)[0] if how == "index" else find(MODULE, where=condition)
                times.append(perf() - t)
                assert len(found) == expected, (spec, len(found), expected)
            out[f"{name}_{how}_ms"] = summarize(times, digits=4)
    return out


def _child(args, *argv, timeout=1800) -> dict:
    p = subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--base", args.base],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({p.returncode}): {p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def w_lookup(args) -> dict:
    root = fresh_dir(os.path.join(args.base, "machinable-lookup"))
    project = make_project(os.path.join(root, "project"))
    store = os.path.join(root, "storage")
    out = {}
    have = 0
    for n in sorted(args.n):
        pop = _child(args, "populate", "--project", project, "--store", store,
                     "--start", str(have), "--stop", str(n))["results"]
        have = n
        progress("machinable populated", n, pop["create_s"], "s")
        look = _child(args, "lookup-only", "--project", project, "--store", store, "--n", str(n),
                      "--lookups", str(args.lookups), "--find-lookups", str(args.find_lookups),
                      "--find-budget-s", str(args.find_budget_s))
        res = look["results"]
        res["populate"] = pop
        res["store_mb"] = round(sum(os.path.getsize(os.path.join(d, f))
                                    for d, _, fs in os.walk(store) for f in fs) / 1e6, 1)
        out[str(n)] = res
        progress("machinable lookup", n, res["get_ms"]["median"], "ms")
    return {"sizes": out}


# --- workload 5: CLI -------------------------------------------------------------------


def w_cli(args) -> dict:
    root = fresh_dir(os.path.join(args.base, "machinable-cli"))
    project = make_project(os.path.join(root, "project"))
    marker = os.path.join(root, "marker.txt")
    env = dict(os.environ, MACHINABLE_BENCH_MARKER=marker)

    def argv_for(i):
        p = params_for(i)
        return [sys.executable, "-m", "machinable", "get", MODULE, *(f"{k}={v}" for k, v in p.items()), "--launch"]

    def api_argv_for(i):
        code = (f"from machinable import get; get({MODULE!r}, {params_for(i)!r}).launch()")
        return [sys.executable, "-c", code]

    def run(argv):
        before = os.path.getsize(marker) if os.path.exists(marker) else 0
        t_wall = time.time()
        t = perf()
        p = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True)
        total = perf() - t
        if p.returncode != 0:
            return None, total, p
        with open(marker) as f:
            f.seek(before)
            stamps = [float(x) for x in f.read().split()]
        if len(stamps) != 1:
            raise RuntimeError(f"expected exactly one execution, got {len(stamps)}: {argv}")
        return stamps[0] - t_wall, total, p

    results = {"command": "python -m machinable get bench_run lr=.. seed=.. batch_size=32 epochs=10 "
                          "optimizer=adam --launch (cwd = project directory, ./storage)"}
    # warm-up (also the availability check): creates ./storage and its index
    first, first_total, p = run(argv_for(10**6))
    if first is None:
        err = (p.stderr or p.stdout).strip().splitlines()
        reason = err[-1] if err else f"exit code {p.returncode}"
        absent = "No module named machinable.cli" in p.stderr or "No module named 'machinable.cli'" in p.stderr
        results.update({"status": "skipped" if absent else "error", "reason": reason,
                        "stderr_tail": p.stderr[-1500:]})
    else:
        to_exec, totals = [], []
        for i in range(args.runs):
            x, tot, p = run(argv_for(i))
            if x is None:
                raise RuntimeError(f"CLI run failed: {p.stderr[-2000:]}")
            to_exec.append(x)
            totals.append(tot)
        # repeat: the same config again must not execute again (found, already finished)
        t = perf()
        p = subprocess.run(argv_for(0), cwd=project, env=env, capture_output=True, text=True)
        again = perf() - t
        with open(marker) as f:
            n_exec = len(f.read().split())
        results.update({
            "status": "ok",
            "to_first_execute_ms": summarize(to_exec),
            "process_total_ms": summarize(totals),
            "warmup_first_process_ms": r(first_total * 1e3),
            "rerun_same_config_ms": r(again * 1e3),
            "rerun_executed_again": n_exec != args.runs + 1,
        })
    # the same through the Python API in a fresh interpreter (no CLI layer)
    to_exec, totals = [], []
    for i in range(args.runs):
        x, tot, p = run(api_argv_for(2 * 10**6 + i))
        if x is None:
            raise RuntimeError(f"python -c get().launch() failed: {p.stderr[-2000:]}")
        to_exec.append(x)
        totals.append(tot)
    results["python_c_api"] = {"to_first_execute_ms": summarize(to_exec), "process_total_ms": summarize(totals)}
    return results


DISPATCH_SOURCE = '''\
from dataclasses import dataclass

from machinable import Experiment


class SweepPoint(Experiment):
    @dataclass
    class Config:
        n: int = 0

    def on_execute(self):
        import slow_import  # noqa: F401  (0.3 s, once per process)
'''


def w_dispatch(args) -> dict:
    root = fresh_dir(os.path.join(args.base, "machinable-dispatch"))
    project = os.path.join(root, "project")
    os.makedirs(project)
    with open(os.path.join(project, "sweep_point.py"), "w") as f:
        f.write(DISPATCH_SOURCE)
    with open(os.path.join(project, "slow_import.py"), "w") as f:
        f.write("import time\n\ntime.sleep(0.3)\n")
    os.chdir(project)
    from machinable import get

    with open_storage(os.path.join(root, "storage")):
        experiments = [get("sweep_point", {"n": n}) for n in range(args.n)]
        t = perf()
        with get("machinable.execution.multiprocess", {"processes": 2}):
            for experiment in experiments:
                experiment.launch()
        seconds = perf() - t
        assert all(experiment.is_finished() for experiment in experiments)
    return {"experiments": args.n, "dispatch_s": r(seconds)}


WORKLOADS = {"run_overhead": w_run_overhead, "logging": w_logging, "durability": w_durability,
             "lookup": w_lookup, "cli": w_cli, "dispatch": w_dispatch}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=[*WORKLOADS, "populate", "lookup-only", "durability-child"])
    ap.add_argument("--base", required=True, help="scratch directory for stores (wiped per workload)")
    ap.add_argument("--n", type=int, nargs="+", default=None)
    ap.add_argument("--api", choices=["get", "make"], default="get")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--style", choices=["kwargs", "setitem"], default="kwargs")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--rows-before-kill", type=int, nargs="+", default=[20_000, 50_000, 80_000])
    ap.add_argument("--report-every", type=int, default=100)
    ap.add_argument("--lookups", type=int, default=200)
    ap.add_argument("--find-lookups", type=int, default=5)
    ap.add_argument("--find-budget-s", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=10)
    # internal
    ap.add_argument("--project")
    ap.add_argument("--store")
    ap.add_argument("--start", type=int)
    ap.add_argument("--stop", type=int)
    args = ap.parse_args()
    os.makedirs(args.base, exist_ok=True)
    if args.workload == "populate":
        return w_populate(args)
    if args.workload == "lookup-only":
        args.n = args.n[0]
        return w_lookup_only(args)
    if args.workload == "durability-child":
        return w_durability_child(args)
    run_workload(TOOL, args, WORKLOADS)


if __name__ == "__main__":
    main()
