#!/usr/bin/env python
"""The peers' side of the benchmark (MLflow, Sacred): the same work as machinable_workloads.py.

Runs in the peers' venv (benchmarks/requirements-peers.txt), one workload of one tool per
invocation, one JSON line out.

usage: python benchmarks/peer_workloads.py WORKLOAD --tool mlflow-file|mlflow-sqlite|sacred --base DIR [options]

  run_overhead  --n 500: per run MLflow `with start_run(): log_params(5 values);
                log_dict(values, "data.json")` (file store / SQLite store), Sacred
                `ex.run(config_updates=5 values)` with a FileStorageObserver whose main writes
                data.json and add_artifact()s it (stdout capture `sys`, the Python-level tee
                machinable also uses; `save_git_info=False`). Fresh store; store init and
                one warm-up run excluded. Figure: median ms per run.
  logging       --rows 100000 --method per-row|batch [--budget-s 25]: rows (step, loss,
                accuracy). MLflow per-row: `mlflow.log_metrics({loss, accuracy}, step=i)`;
                batch: `MlflowClient.log_batch` with 500 rows (1000 metrics, MLflow's
                per-request maximum) per call. Sacred: two `_run.log_scalar` calls per row
                (Sacred buffers them in memory and writes metrics.json at heartbeats and at
                the end; it has no batch API). Timed from the first call to the run being
                finished; rows verified. A method that would exceed --budget-s stops there
                and reports the rows it reached (rows/s is then from those rows).
  lookup        --n 1000 10000 100000: the run whose params equal a config, among N runs.
                MLflow: `MlflowClient.search_runs(filter_string="params.lr = '..' and ...")`;
                Sacred (no query API for its file observer): listdir + json.load of every
                config.json, compare. Stores: the first --api-runs runs through the tool's
                API, the rest cloned from an API-made run (MLflow SQLite: its rows copied in
                SQL; MLflow file store: its directory copied; Sacred: its run directory
                files copied) -- creating stores is not timed, lookups go through the
                tool. Sizes whose population or lookups would not fit the budgets are
                skipped with the reason.
  cli           --runs 10: the tool's command line in a fresh process. Sacred:
                `python sacred_cli.py with lr=.. seed=.. ... --capture=sys`; MLflow (no
                get-or-run CLI): `python mlflow_cli.py lr=.. ...` (start_run, log_params,
                log_dict). Wall time spawn -> main/run body entered (marker file), and exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (exec_peak_rss_mb, accuracy_at, fresh_dir, fs_probe, loss_at, maxrss_mb, median, params_for,  # noqa: E402
                     perf, progress, r, run_workload, summarize)


def quiet():
    for name in ("mlflow", "alembic", "sacred", "bench_sacred"):
        logging.getLogger(name).setLevel(logging.WARNING)


def mlflow_uri(kind, root):
    if kind == "file":
        return "file:" + os.path.join(root, "mlruns")
    return "sqlite:///" + os.path.join(root, "mlflow.db")


def mlflow_setup(kind, root):
    import mlflow

    quiet()  # mlflow resets its logger level on import
    uri = mlflow_uri(kind, root)
    t = perf()
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("bench", artifact_location="file:" + os.path.join(root, "artifacts"))
    return mlflow, exp, perf() - t


def sacred_experiment(root, with_artifact=True):
    from sacred import Experiment
    from sacred.observers import FileStorageObserver

    ex = Experiment("bench", save_git_info=False)
    ex.observers.append(FileStorageObserver(os.path.join(root, "runs")))
    log = logging.getLogger("bench_sacred")
    log.setLevel(logging.WARNING)
    log.addHandler(logging.NullHandler())
    log.propagate = False
    ex.logger = log
    ex.add_config(params_for(0))
    tmp = fresh_dir(os.path.join(root, "tmpfiles"))

    if with_artifact:
        @ex.main
        def main(_run, _config):
            path = os.path.join(tmp, "data.json")
            with open(path, "w") as f:
                json.dump(dict(_config), f)
            _run.add_artifact(path, "data.json")
    else:
        @ex.main
        def main():
            pass

    return ex


# --- workload 2 -----------------------------------------------------------------------


def w_run_overhead(args):
    root = fresh_dir(os.path.join(args.base, f"{args.tool}-run_overhead"))
    fs_start = fs_probe(args.base)
    if args.tool.startswith("mlflow"):
        mlflow, exp, init = mlflow_setup(args.tool.split("-")[1], root)

        def one(i):
            p = params_for(i)
            with mlflow.start_run(experiment_id=exp):
                mlflow.log_params(p)
                mlflow.log_dict(p, "data.json")
    else:
        t = perf()
        ex = sacred_experiment(root)
        init = perf() - t
        opts = {"--capture": args.sacred_capture}

        def one(i):
            run = ex.run(config_updates=params_for(i), options=opts)
            assert run.status == "COMPLETED", run.status

    t = perf()
    one(10**6)
    first = perf() - t
    times = []
    for i in range(args.n):
        t = perf()
        one(i)
        times.append(perf() - t)
    return {"ms_per_run": summarize(times), "store_init_ms": r(init * 1e3), "first_run_ms": r(first * 1e3),
            "sacred_capture": args.sacred_capture if args.tool == "sacred" else None,
            "fs_create_us_start_end": [fs_start, fs_probe(args.base)]}


# --- workload 3 -----------------------------------------------------------------------


def w_logging(args):
    root = fresh_dir(os.path.join(args.base, f"{args.tool}-logging-{args.method}"))
    rows, budget = args.rows, args.budget_s
    if args.tool.startswith("mlflow"):
        mlflow, exp, _ = mlflow_setup(args.tool.split("-")[1], root)
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        run = mlflow.start_run(experiment_id=exp)
        rid = run.info.run_id
        client = MlflowClient()
        done = 0
        t = perf()
        end = t + budget
        if args.method == "per-row":
            for i in range(rows):
                mlflow.log_metrics({"loss": loss_at(i), "accuracy": accuracy_at(i)}, step=i)
                done = i + 1
                if (done & 63) == 0 and perf() > end:
                    break
        else:
            chunk = 500
            for s in range(0, rows, chunk):
                ts = int(time.time() * 1000)
                batch = []
                for i in range(s, min(rows, s + chunk)):
                    batch.append(Metric("loss", loss_at(i), ts, i))
                    batch.append(Metric("accuracy", accuracy_at(i), ts, i))
                client.log_batch(rid, metrics=batch)
                done = min(rows, s + chunk)
                if perf() > end:
                    break
        loop = perf() - t
        mlflow.end_run()
        total = perf() - t
        rss = exec_peak_rss_mb()
        n_loss = len(client.get_metric_history(rid, "loss"))
        n_acc = len(client.get_metric_history(rid, "accuracy"))
        assert n_loss == done and n_acc == done, (n_loss, n_acc, done)
    else:
        from sacred import Experiment
        from sacred.observers import FileStorageObserver

        ex = Experiment("bench", save_git_info=False)
        ex.observers.append(FileStorageObserver(os.path.join(root, "runs")))
        log = logging.getLogger("bench_sacred")
        log.setLevel(logging.WARNING)
        log.propagate = False
        ex.logger = log
        box = {}

        @ex.main
        def main(_run):
            box["t0"] = perf()
            for i in range(rows):
                _run.log_scalar("loss", loss_at(i), i)
                _run.log_scalar("accuracy", accuracy_at(i), i)
            box["loop"] = perf() - box["t0"]

        res = ex.run(options={"--capture": "no"})
        total = perf() - box["t0"]
        loop = box["loop"]
        rss = exec_peak_rss_mb()
        done = rows
        assert res.status == "COMPLETED"
        with open(os.path.join(root, "runs", "1", "metrics.json")) as f:
            m = json.load(f)
        assert len(m["loss"]["steps"]) == rows and len(m["accuracy"]["steps"]) == rows
    shutil.rmtree(root, ignore_errors=True)
    return {"method": args.method, "rows_requested": rows, "rows": done, "budget_s": budget,
            "stopped_by_budget": done < rows, "rows_per_s": r(done / total, 1),
            "us_per_row": r(total / done * 1e6), "loop_only_s": r(loop), "total_s": r(total),
            "peak_rss_mb": rss}


# --- workload 4 -----------------------------------------------------------------------


class MlflowStore:
    def __init__(self, kind, root):
        self.kind = kind
        self.root = root
        self.mlflow, self.exp, _ = mlflow_setup(kind, root)
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(mlflow_uri(kind, root))
        self.template = None

    def create_api(self, i):
        with self.mlflow.start_run(experiment_id=self.exp) as run:
            self.mlflow.log_params(params_for(i))
        if self.template is None:
            self.template = run.info.run_id

    def clone(self, start, stop):
        if self.kind == "sqlite":
            return self._clone_sql(start, stop)
        exp_dir = os.path.join(self.root, "mlruns", self.exp)
        tid = self.template
        with open(os.path.join(exp_dir, tid, "meta.yaml")) as f:
            meta = f.read()
        for i in range(start, stop):
            rid = uuid.uuid4().hex
            d = os.path.join(exp_dir, rid)
            shutil.copytree(os.path.join(exp_dir, tid), d)
            with open(os.path.join(d, "meta.yaml"), "w") as f:
                f.write(meta.replace(tid, rid))
            for k, v in params_for(i).items():
                with open(os.path.join(d, "params", k), "w") as f:
                    f.write(str(v))

    def _clone_sql(self, start, stop):
        db = sqlite3.connect(os.path.join(self.root, "mlflow.db"), timeout=60)
        tid = self.template
        tables = {}
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            cols = [c[1] for c in db.execute(f"PRAGMA table_info({t})")]
            if "run_uuid" in cols:
                rows = db.execute(f"SELECT * FROM {t} WHERE run_uuid = ?", (tid,)).fetchall()
                if rows:
                    tables[t] = (cols, rows)
        batches = {t: [] for t in tables}
        for i in range(start, stop):
            rid = uuid.uuid4().hex
            p = {k: str(v) for k, v in params_for(i).items()}
            for t, (cols, rows) in tables.items():
                ui = cols.index("run_uuid")
                for row in rows:
                    row = [rid if c == "run_uuid" else (v.replace(tid, rid) if isinstance(v, str) else v)
                           for c, v in zip(cols, row)]
                    if t == "params":
                        row[cols.index("value")] = p[row[cols.index("key")]]
                    row[ui] = rid
                    batches[t].append(tuple(row))
        with db:
            for t, rows in batches.items():
                cols = tables[t][0]
                db.executemany(f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        db.close()

    def find(self, q):
        flt = " and ".join(f"params.{k} = '{v}'" for k, v in q.items())
        runs = self.client.search_runs([self.exp], flt, max_results=10)
        return [x for x in runs if x.data.params == {k: str(v) for k, v in q.items()}]


class SacredStore:
    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "runs")
        self.ex = sacred_experiment(root, with_artifact=False)
        self.count = 0

    def create_api(self, i):
        run = self.ex.run(config_updates=params_for(i), options={"--capture": "no"})
        assert run.status == "COMPLETED"
        self.count += 1

    def clone(self, start, stop):
        tdir = os.path.join(self.dir, "1")
        files = {}
        # only config.json is cloned: the scan never opens run.json, cout.txt or metrics.json,
        # and 3 fewer files per run keep populating 100k runs affordable
        for name in ():
            if os.path.isfile(os.path.join(tdir, name)):
                with open(os.path.join(tdir, name), "rb") as f:
                    files[name] = f.read()
        with open(os.path.join(tdir, "config.json")) as f:
            template_cfg = json.load(f)
        for i in range(start, stop):
            self.count += 1
            d = os.path.join(self.dir, str(self.count))
            os.mkdir(d)
            cfg = dict(template_cfg, **params_for(i))
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f, indent=2, sort_keys=True)
            for name, data in files.items():
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)

    def find(self, q):
        hits = []
        for d in os.listdir(self.dir):
            if not d.isdigit():
                continue
            try:
                with open(os.path.join(self.dir, d, "config.json")) as f:
                    cfg = json.load(f)
            except FileNotFoundError:
                continue
            if cfg == q:
                hits.append(d)
        return hits


def w_lookup(args):
    root = fresh_dir(os.path.join(args.base, f"{args.tool}-lookup"))
    quiet()
    store = SacredStore(root) if args.tool == "sacred" else MlflowStore(args.tool.split("-")[1], root)
    out, skipped = {}, {}
    have = 0
    clone_rate = None  # seconds per cloned run, measured
    lookup_s = None  # seconds per lookup at the previous size
    prev_n = None
    for n in sorted(args.n):
        if args.tool == "mlflow-file" and n > args.mlflow_file_max_n:
            skipped[str(n)] = (f"not attempted: MLflow's file store scans every run directory per search "
                               f"(~{lookup_s * n / prev_n:.0f} s per lookup extrapolated from N={prev_n})"
                               if lookup_s else "not attempted (--mlflow-file-max-n)")
            continue
        if clone_rate is not None and clone_rate * (n - have) > args.populate_budget_s:
            skipped[str(n)] = (f"not reached: populating {n - have} more runs would take "
                               f"~{clone_rate * (n - have):.0f} s (> populate budget {args.populate_budget_s:.0f} s)")
            continue
        if lookup_s is not None and lookup_s * n / prev_n * 3 > args.lookup_budget_s * 2:
            skipped[str(n)] = (f"not attempted: ~{lookup_s * n / prev_n:.1f} s per lookup extrapolated from "
                               f"N={prev_n}; 3 lookups would exceed the lookup budget")
            continue
        t = perf()
        api_t = []
        while have < min(n, args.api_runs):
            t1 = perf()
            store.create_api(have)
            api_t.append(perf() - t1)
            have += 1
        t_clone = perf()
        cloned = n - have
        if cloned:
            store.clone(have, n)
            clone_rate = (perf() - t_clone) / cloned
        have = n
        create_s = perf() - t
        rng = random.Random(n)
        t = perf()
        assert len(store.find(params_for(rng.randrange(n)))) == 1
        first = perf() - t
        t = perf()
        assert len(store.find(params_for(rng.randrange(n)))) == 1
        probe = perf() - t
        lookups = max(3, min(args.lookups, int(args.lookup_budget_s / max(probe, 1e-9))))
        times = []
        for _ in range(lookups):
            q = params_for(rng.randrange(n))
            t = perf()
            hits = store.find(q)
            times.append(perf() - t)
            assert len(hits) == 1, (q, hits)
        lookup_s = median(times)
        prev_n = n
        out[str(n)] = {
            "n": n, "ms_per_lookup": summarize(times, digits=3), "first_lookup_ms": r(first * 1e3, 2),
            "lookups": lookups, "populate_s": r(create_s, 2), "api_runs": len(api_t) if api_t else 0,
            "api_create_ms_per_run": r(sum(api_t) / len(api_t) * 1e3, 3) if api_t else None,
            "cloned_runs": cloned,
        }
        progress(args.tool, "lookup", n, out[str(n)]["ms_per_lookup"]["median"], "ms")
    peak = maxrss_mb()
    only = None
    if prev_n:  # memory like machinable's: a fresh lookup-only process on the largest store populated above
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "lookup-only", "--tool", args.tool,
                            "--base", args.base, "--root", root, "--n", str(prev_n),
                            "--lookups", str(out[str(prev_n)]["lookups"])],
                           capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"lookup-only failed ({p.returncode}): {p.stderr[-3000:]}")
        only = json.loads(p.stdout.strip().splitlines()[-1])["results"]
    shutil.rmtree(root, ignore_errors=True)
    return {"sizes": out, "skipped": skipped, "peak_rss_mb": peak, "lookup_only": only,
            "populate": {"mlflow-sqlite": "API runs, then the API-made run's rows copied in SQL (runs, params, tags)",
                         "mlflow-file": "API runs, then the API-made run directory copied (meta.yaml, params/, tags/)",
                         "sacred": "ex.run() runs, then run directories holding only a config.json like "
                                   "the API-made ones (the scan opens nothing else)"}
            [args.tool]}


# --- workload 5 -----------------------------------------------------------------------

SACRED_CLI = '''\
import json, os, time
from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("bench", save_git_info=False)
ex.observers.append(FileStorageObserver("runs"))


@ex.config
def config():
    lr = 0.001
    seed = 0
    batch_size = 32
    epochs = 10
    optimizer = "adam"


@ex.automain
def main(_run, _config):
    with open(os.environ["BENCH_MARKER"], "a") as f:
        f.write(repr(time.time()) + "\\n")
    with open("data.json", "w") as f:
        json.dump(dict(_config), f)
    _run.add_artifact("data.json", "data.json")
'''

MLFLOW_CLI = '''\
import json, os, sys, time
import mlflow

mlflow.set_tracking_uri(os.environ["BENCH_URI"])
mlflow.set_experiment("bench")
params = {}
for arg in sys.argv[1:]:
    k, v = arg.split("=", 1)
    try:
        v = json.loads(v)
    except ValueError:
        pass
    params[k] = v
with mlflow.start_run():
    with open(os.environ["BENCH_MARKER"], "a") as f:
        f.write(repr(time.time()) + "\\n")
    mlflow.log_params(params)
    mlflow.log_dict(params, "data.json")
'''


def w_cli(args):
    root = fresh_dir(os.path.join(args.base, f"{args.tool}-cli"))
    marker = os.path.join(root, "marker.txt")
    env = dict(os.environ, BENCH_MARKER=marker)
    if args.tool == "sacred":
        script = os.path.join(root, "sacred_cli.py")
        src = SACRED_CLI

        def argv_for(i):
            return [sys.executable, script, "with", *(f"{k}={v}" if not isinstance(v, str) else f"{k}='{v}'"
                                                       for k, v in params_for(i).items()), "--capture=sys"]
        command = "python sacred_cli.py with lr=.. seed=.. batch_size=32 epochs=10 optimizer='adam' --capture=sys"
    else:
        kind = args.tool.split("-")[1]
        env["BENCH_URI"] = mlflow_uri(kind, root)
        script = os.path.join(root, "mlflow_cli.py")
        src = MLFLOW_CLI

        def argv_for(i):
            return [sys.executable, script, *(f"{k}={v}" for k, v in params_for(i).items())]
        command = f"python mlflow_cli.py lr=.. seed=.. ... (start_run + log_params + log_dict, {kind} store)"
    with open(script, "w") as f:
        f.write(src)
    to_exec, totals = [], []
    first_total = None
    for i in [10**6, *range(args.runs)]:
        before = os.path.getsize(marker) if os.path.exists(marker) else 0
        t_wall = time.time()
        t = perf()
        p = subprocess.run(argv_for(i), cwd=root, env=env, capture_output=True, text=True)
        total = perf() - t
        if p.returncode != 0:
            raise RuntimeError(f"{args.tool} CLI failed: {p.stderr[-2000:]}")
        with open(marker) as f:
            f.seek(before)
            (stamp,) = [float(x) for x in f.read().split()]
        if i == 10**6:
            first_total = total  # creates the store (MLflow SQLite: schema migrations)
            continue
        to_exec.append(stamp - t_wall)
        totals.append(total)
    return {"status": "ok", "command": command, "to_first_execute_ms": summarize(to_exec),
            "process_total_ms": summarize(totals), "warmup_first_process_ms": r(first_total * 1e3)}


def w_lookup_only(args):
    """Internal: look configs up in the store `lookup` populated, in a fresh process that only opens it."""
    quiet()
    n = args.n[0]
    if args.tool == "sacred":
        store = SacredStore.__new__(SacredStore)  # the scan needs no Experiment; importing sacred like a user would
        import sacred  # noqa: F401

        store.dir = os.path.join(args.root, "runs")
    else:
        import mlflow
        from mlflow.tracking import MlflowClient

        quiet()
        kind = args.tool.split("-")[1]
        mlflow.set_tracking_uri(mlflow_uri(kind, args.root))
        store = MlflowStore.__new__(MlflowStore)
        store.client = MlflowClient(mlflow_uri(kind, args.root))
        store.exp = store.client.get_experiment_by_name("bench").experiment_id
    rng = random.Random(n + 1)
    times = []
    for _ in range(args.lookups):
        q = params_for(rng.randrange(n))
        t = perf()
        hits = store.find(q)
        times.append(perf() - t)
        assert len(hits) == 1, (q, hits)
    return {"n": n, "ms_per_lookup": summarize(times, digits=3), "peak_rss_mb": exec_peak_rss_mb(), "rss_source": "VmHWM"}


WORKLOADS = {"run_overhead": w_run_overhead, "logging": w_logging, "lookup": w_lookup, "cli": w_cli,
             "lookup-only": w_lookup_only}  # lookup-only: internal, spawned by lookup


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=list(WORKLOADS))
    ap.add_argument("--tool", required=True, choices=["mlflow-file", "mlflow-sqlite", "sacred"])
    ap.add_argument("--base", required=True)
    ap.add_argument("--n", type=int, nargs="+", default=None)
    ap.add_argument("--sacred-capture", default="sys", choices=["sys", "fd", "no"])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--method", choices=["per-row", "batch"], default="per-row")
    ap.add_argument("--budget-s", type=float, default=25.0)
    ap.add_argument("--lookups", type=int, default=50)
    ap.add_argument("--lookup-budget-s", type=float, default=30.0)
    ap.add_argument("--populate-budget-s", type=float, default=150.0)
    ap.add_argument("--api-runs", type=int, default=100)
    ap.add_argument("--mlflow-file-max-n", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--root", help="lookup-only: the store lookup populated")
    args = ap.parse_args()
    run_workload(args.tool, args, WORKLOADS)


if __name__ == "__main__":
    main()
