"""Running the workloads: each in a fresh interpreter, every tool in turn round by round."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

from benchmarks.environment import (
    SNAPSHOT,
    child_env,
    ensure_venv,
    machinable_requirements,
    machine_info,
    peer_requirements,
    snapshot_source,
    versions_of,
)
from benchmarks.settings import FULL, HERE, PEERS, QUICK, REPO, SWEEP_PEERS, log


class Runner:
    def __init__(self, args, sizes):
        self.args = args
        self.sizes = sizes
        self.results: list[dict] = []  # every workload invocation: ok or error
        self.pythons: dict[str, str] = {}

    def run(self, tool, workload, script, argv, python, timeout=1500, base_root=None, tag=None, env=None):
        base = os.path.join(base_root or self.args.base, f"{tool}-{workload}-{len(self.results)}")
        os.makedirs(base, exist_ok=True)
        cmd = [python, os.path.join(HERE, script), workload, *argv, "--base", base]
        label = f"{tool} {workload} {' '.join(a for a in argv if not a.startswith('/'))}".strip()
        log(f"run {label}")
        t = time.time()
        if tag:
            label += f" [{tag}]"
        entry = {"tool": tool, "workload": workload, "argv": argv, "cmd": " ".join(map(shlex.quote, cmd)),
                 "tag": tag, "env": env or {}}
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**child_env(python), **(env or {})},
                               cwd=base)
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            if p.returncode != 0 or not lines:
                entry.update(status="error", error=f"exit {p.returncode}: {p.stderr.strip()[-2500:]}")
            else:
                entry.update(status="ok", out=json.loads(lines[-1]))
        except subprocess.TimeoutExpired:
            entry.update(status="error", error=f"timed out after {timeout} s")
        entry["wall_s"] = round(time.time() - t, 2)
        shutil.rmtree(base, ignore_errors=True)
        if entry["status"] != "ok":
            log(f"  ERROR {label}: {entry['error'][-600:]}")
        else:
            log(f"  done in {entry['wall_s']} s")
        self.results.append(entry)
        return entry

    # workload 1: import time, interleaved rounds of fresh interpreters
    def import_time(self, tools):
        codes = [("bare", "machinable", "pass"),
                 ("stdlib", "machinable", "import json, sqlite3, hashlib, pathlib"),
                 ("machinable", "machinable", "import machinable")]
        if "mlflow-file" in tools or "mlflow-sqlite" in tools:
            codes.append(("mlflow", "peers", "import mlflow"))
        if "sacred" in tools:
            codes.append(("sacred", "peers", "import sacred"))
        if "peers" in self.pythons:
            codes.insert(1, ("bare (peers venv)", "peers", "pass"))
        envs = {which: child_env(self.pythons[which]) for _, which, _ in codes}
        env = envs["machinable"]
        samples = {label: [] for label, _, _ in codes}
        errors = {}
        log(f"run import time: {self.sizes['import_rounds']} interleaved rounds of {len(codes)} interpreters")
        for _ in range(self.sizes["import_rounds"]):
            for label, which, code in codes:
                if label in errors:
                    continue
                t = time.perf_counter()
                p = subprocess.run([self.pythons[which], "-c", code], env=envs[which], capture_output=True, text=True)
                dt_s = time.perf_counter() - t
                if p.returncode != 0:
                    errors[label] = p.stderr.strip()[-1000:]
                samples[label].append(dt_s * 1e3)
        res = {label: {"median_ms": round(statistics.median(v), 2), "runs_ms": [round(x, 2) for x in v],
                       "python": self.pythons[which]}
               for (label, which, _), v in zip(codes, samples.values()) if v and label not in errors}
        # where machinable's import time goes
        p = subprocess.run([self.pythons["machinable"], "-X", "importtime", "-c", "import machinable"],
                           env=env, capture_output=True, text=True)
        rows = []
        for line in p.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, cum_us, name = line.split(":", 1)[1].split("|")
                rows.append((int(self_us), int(cum_us), name.rstrip()))
        prof = {"modules": len(rows),
                "top_cumulative_ms": [[n.strip(), round(c / 1e3, 2)] for s, c, n in
                                      sorted(rows, key=lambda x: -x[1])[:12]],
                "top_self_ms": [[n.strip(), round(s / 1e3, 2)] for s, c, n in sorted(rows, key=lambda x: -x[0])[:10]]}
        entry = {"tool": "all", "workload": "import", "status": "ok" if not errors else "partial",
                 "out": {"results": res, "importtime_machinable": prof}, "errors": errors}
        self.results.append(entry)
        for label, v in res.items():
            log(f"  import {label}: {v['median_ms']} ms")
        return entry


    # workload 6: the CLI's start-up at N stored experiments (benchmarks/cli_startup.py), against `import machinable`
    def cli_startup(self, python):
        n, rounds = self.sizes["cli_startup_n"], self.sizes["cli_startup_rounds"]
        cmd = [python, os.path.join(HERE, "cli_startup.py"), "--n", str(n), "--rounds", str(rounds), "--json",
               "--cache", os.path.join(self.args.base, f"cli-startup-{n}")]
        log(f"run machinable cli_startup --n {n} --rounds {rounds}")
        entry = {"tool": "machinable", "workload": "cli_startup", "cmd": " ".join(map(shlex.quote, cmd)), "tag": None}
        p = subprocess.run(cmd, capture_output=True, text=True, env=child_env(python), timeout=3600)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode != 0 or not lines:
            entry.update(status="error", error=f"exit {p.returncode}: {p.stderr.strip()[-2500:]}")
            log(f"  ERROR cli_startup: {entry['error'][-600:]}")
        else:
            entry.update(status="ok", out={"results": json.loads(lines[-1])})
        self.results.append(entry)
        return entry


def optuna_importable(python) -> bool:
    return subprocess.run([python, "-c", "import optuna"], capture_output=True, env=child_env(python)).returncode == 0


def run_all(args) -> dict:
    sizes = dict(QUICK if args.quick else FULL)
    with_peers = not (args.quick or args.no_peers)
    os.makedirs(args.base, exist_ok=True)
    info = {"machine": machine_info(args.base)}
    runner = Runner(args, sizes)
    notes = []

    # interpreters
    if args.python:
        runner.pythons["machinable"] = args.python
    elif args.quick or args.no_bench_venv:
        runner.pythons["machinable"] = sys.executable
    else:
        try:
            runner.pythons["machinable"] = ensure_venv(args.bench_venv, machinable_requirements(),
                                                       pth=os.path.join(REPO, "src"))
        except Exception as e:  # noqa: BLE001
            notes.append(f"could not create the clean machinable venv ({e}); used {sys.executable}")
            runner.pythons["machinable"] = sys.executable
    mpy = runner.pythons["machinable"]
    SNAPSHOT["python"] = mpy
    info["source"] = snapshot_source(args.base)
    chk = subprocess.run([mpy, "-c", "import machinable; print(machinable.__version__, machinable.__file__)"],
                         capture_output=True, text=True, env=child_env(mpy))
    m_version, _, m_file = chk.stdout.strip().partition(" ")
    if chk.returncode != 0 or not m_file.startswith(SNAPSHOT["path"]):
        notes.append(f"{mpy} imports machinable from {m_file or chk.stderr.strip()[-300:]}, "
                     f"not from this checkout's snapshot")
    tools = ["machinable", "raw"]
    if with_peers:
        try:
            runner.pythons["peers"] = ensure_venv(args.peers_venv, peer_requirements())
            tools += [*PEERS, *SWEEP_PEERS]
        except Exception as e:  # noqa: BLE001
            notes.append(f"peers skipped: could not set up their venv: {e}")
            log(f"peers skipped: {e}")
    info["interpreters"] = dict(runner.pythons)
    info["versions"] = {"machinable": {"machinable": m_version,
                                       **versions_of(mpy, ["pydantic", "click", "rich", "arrow", "optuna"])}}
    if "peers" in runner.pythons:
        info["versions"]["peers"] = versions_of(runner.pythons["peers"],
                                                ["mlflow", "mlflow-skinny", "sacred", "hydra-core", "optuna",
                                                 "SQLAlchemy", "numpy", "pandas"])
    only = set(args.only or ["import", "run_overhead", "logging", "lookup", "cli", "sweep"])
    ppy = runner.pythons.get("peers")
    S = sizes

    if "import" in only:
        runner.import_time(tools)
    if "run_overhead" in only:
        # every tool once per round, in turn (the disk's speed drifts; each run is a fresh process);
        # machinable and raw also with MACHINABLE_DURABILITY=fsync / fsync per file, beside MLflow's
        # SQLite store, which commits with fsync. The figure is the median of the round medians.
        def overhead_round(base_root=None, tag=None, durable=True):
            runner.run("raw", "run_overhead", "raw_workloads.py", ["--n", str(S["run_n"])], mpy, base_root=base_root, tag=tag)
            for api in ("get", "make"):
                runner.run("machinable", "run_overhead", "machinable_workloads.py",
                           ["--n", str(S["run_n"]), "--api", api], mpy, base_root=base_root, tag=tag)
            if durable:
                runner.run("machinable", "run_overhead", "machinable_workloads.py", ["--n", str(S["run_n"]), "--api", "get"],
                           mpy, base_root=base_root, tag="fsync", env={"MACHINABLE_DURABILITY": "fsync"})
            for t in PEERS if ppy else ():
                runner.run(t, "run_overhead", "peer_workloads.py", ["--tool", t, "--n", str(S["run_n"])], ppy,
                           base_root=base_root, tag=tag)

        for _ in range(S["run_rounds"]):
            overhead_round()
        if not args.quick and args.tmpfs and os.path.isdir(args.tmpfs) and os.access(args.tmpfs, os.W_OK):
            # the same on tmpfs: no disk I/O, i.e. the CPU cost (this VM's disk is noisy)
            troot = os.path.join(args.tmpfs, "machinable-bench")
            for _ in range(S["run_rounds"]):
                overhead_round(troot, "tmpfs", durable=False)
            shutil.rmtree(troot, ignore_errors=True)
    if "logging" in only:
        for style in ("kwargs", "setitem"):
            runner.run("machinable", "logging", "machinable_workloads.py", ["--rows", str(S["rows"]), "--style", style], mpy)
        kills = S["durability_kills"]
        runner.run("machinable", "durability", "machinable_workloads.py",
                   ["--trials", str(len(kills)), "--rows-before-kill", *map(str, kills)], mpy)
        runner.run("raw", "logging", "raw_workloads.py", ["--rows", str(S["rows"]), "--fsync-rows", str(S["fsync_rows"])], mpy)
        runner.run("machinable", "logging", "machinable_workloads.py", ["--rows", str(S["fsync_rows"]), "--style", "kwargs"],
                   mpy, tag="fsync", env={"MACHINABLE_DURABILITY": "fsync"})
        for t in PEERS if ppy else ():
            for method in (("per-row", "batch") if t.startswith("mlflow") else ("per-row",)):
                runner.run(t, "logging", "peer_workloads.py", ["--tool", t, "--method", method, "--rows", str(S["rows"]),
                                                                "--budget-s", str(S["peer_log_budget_s"])], ppy)
    if "lookup" in only:
        ns = [str(n) for n in S["lookup_n"]]
        runner.run("machinable", "lookup", "machinable_workloads.py", ["--n", *ns, "--lookups", str(S["lookups"])], mpy)
        runner.run("raw", "lookup", "raw_workloads.py", ["--n", *ns, "--lookups", str(S["lookups"])], mpy)
        for t in PEERS if ppy else ():
            runner.run(t, "lookup", "peer_workloads.py",
                       ["--tool", t, "--n", *ns, "--lookups", str(S["peer_lookups"]),
                        "--lookup-budget-s", str(S["peer_lookup_budget_s"]),
                        "--populate-budget-s", str(S["peer_populate_budget_s"]),
                        "--mlflow-file-max-n", str(S["mlflow_file_max_n"])], ppy)
    if "cli" in only:
        runner.cli_startup(mpy)
        runner.run("machinable", "cli", "machinable_workloads.py", ["--runs", str(S["cli_runs"])], mpy)
        runner.run("raw", "cli", "raw_workloads.py", ["--runs", str(S["cli_runs"])], mpy)
        for t in PEERS if ppy else ():
            runner.run(t, "cli", "peer_workloads.py", ["--tool", t, "--runs", str(S["peer_cli_runs"])], ppy)
    if "sweep" in only:
        # workload 6: per point of 1,000 trivial points, every tool in turn per round; machinable's grid run
        # also times a second driver on the finished sweep and the --dry-run plan of 10,000 points
        sizes_argv = ["--points", str(S["sweep_points"]), "--small", str(S["sweep_small"])]
        searches = ["machinable"] if optuna_importable(mpy) else []
        if not searches:
            notes.append(f"the search row needs Optuna in {mpy} (pip install 'machinable[optuna]'): not run")
        for _ in range(S["sweep_rounds"]):
            runner.run("machinable", "grid", "sweep_workloads.py",
                       ["--tool", "machinable", *sizes_argv, "--plan-points", str(S["sweep_plan_points"])], mpy)
            runner.run("raw", "grid", "sweep_workloads.py", ["--tool", "raw", *sizes_argv], mpy)
            if ppy:
                runner.run("hydra", "grid", "sweep_workloads.py", ["--tool", "hydra", *sizes_argv], ppy)
            for tool in searches:
                runner.run(tool, "search", "sweep_workloads.py", ["--tool", tool, *sizes_argv], mpy)
            for tool in ("optuna", "optuna-sqlite") if ppy else ():
                runner.run(tool, "search", "sweep_workloads.py", ["--tool", tool, *sizes_argv], ppy)

    info["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return {"info": info, "sizes": sizes, "tools": tools, "results": runner.results, "notes": notes}
