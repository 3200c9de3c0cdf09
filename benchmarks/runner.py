"""`python -m benchmarks`: run every workload for every tool, each in a fresh interpreter,
then print and store a table of medians, the peers' ratios to machinable and our targets.

    python -m benchmarks            # full run (~10-15 min on 2 cores; creates the venvs once)
    python -m benchmarks --quick    # smoke run: small sizes, machinable + raw only (< 1 min)
    python -m benchmarks --no-peers # full sizes, machinable + raw only

Interpreters: machinable and the raw baseline run in a clean venv (default
/tmp/machinable-bench-venv: machinable's dependencies from pyproject.toml plus a .pth
pointing at this checkout's src/, i.e. what `pip install -e .` gives) so that import and
start-up times are not inflated by whatever the calling environment's site-packages load
at start-up; MLflow and Sacred run in their own venv (default /tmp/machinable-bench-peers,
benchmarks/requirements-peers.txt). `--quick` uses the calling interpreter and no venvs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = ("mlflow-file", "mlflow-sqlite", "sacred")
COLUMNS = ("machinable", "raw", "mlflow-file", "mlflow-sqlite", "sacred")
TITLES = {"machinable": "machinable", "raw": "raw Python", "mlflow-file": "MLflow (file store)",
          "mlflow-sqlite": "MLflow (SQLite)", "sacred": "Sacred (FileStorageObserver)"}
PEER_ENV = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet", "PYTHONDONTWRITEBYTECODE": None}

FULL = {
    "import_rounds": 11,
    "run_n": 500,
    "run_rounds": 3,
    "rows": 100_000,
    "durability_kills": [20_000, 50_000, 80_000],
    "lookup_n": [1_000, 10_000, 100_000],
    "lookups": 200,
    "peer_lookups": 30,
    "peer_lookup_budget_s": 12.0,
    "peer_populate_budget_s": 180.0,
    "mlflow_file_max_n": 10_000,
    "peer_log_budget_s": 15.0,
    "cli_runs": 10,
    "peer_cli_runs": 5,
    "fsync_rows": 2_000,
    "cli_startup_n": 10_000,
    "cli_startup_rounds": 15,
}
QUICK = {
    "import_rounds": 5,
    "run_n": 50,
    "run_rounds": 1,
    "rows": 10_000,
    "durability_kills": [2_000],
    "lookup_n": [200, 1_000],
    "lookups": 50,
    "peer_lookups": 10,
    "peer_lookup_budget_s": 5.0,
    "peer_populate_budget_s": 20.0,
    "mlflow_file_max_n": 1_000,
    "peer_log_budget_s": 3.0,
    "cli_runs": 3,
    "peer_cli_runs": 2,
    "fsync_rows": 200,
    "cli_startup_n": 200,
    "cli_startup_rounds": 3,
}

T0 = time.time()


def log(*parts):
    m, s = divmod(int(time.time() - T0), 60)
    print(f"[{m:02d}:{s:02d}]", *parts, file=sys.stderr, flush=True)


# --- environments ----------------------------------------------------------------------


def _venv_python(path):
    return os.path.join(path, "bin", "python")


def ensure_venv(path: str, requirements: list[str], pth: str | None = None) -> str:
    """A venv at `path` with `requirements` installed (cached by a hash marker)."""
    py = _venv_python(path)
    want = hashlib.sha256(json.dumps([sys.version, requirements, pth]).encode()).hexdigest()
    marker = os.path.join(path, ".machinable-bench")
    if os.path.exists(py) and os.path.exists(marker) and open(marker).read() == want:
        return py
    if not os.path.exists(py):
        log(f"creating venv {path}")
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    if requirements:
        log(f"pip install into {path}: {' '.join(requirements)}")
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore")
        p = subprocess.run([py, "-m", "pip", "install", "-q", *requirements], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"pip install failed in {path}: {p.stderr[-2000:]}")
    if pth:
        purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(purelib, "machinable-bench-src.pth"), "w") as f:
            f.write(pth + "\n")
    with open(marker, "w") as f:
        f.write(want)
    return py


def machinable_requirements() -> list[str]:
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        try:
            import tomllib

            return list(tomllib.load(f)["project"]["dependencies"])
        except ImportError:  # Python 3.10
            text = f.read().decode()
            block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M).group(1)
            return re.findall(r"\"([^\"]+)\"", block)


def peer_requirements() -> list[str]:
    with open(os.path.join(HERE, "requirements-peers.txt")) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


SNAPSHOT = {"path": None}  # copy of src/ taken at start: one code version for the whole run


def child_env(python=None):
    env = dict(os.environ)
    for k, v in PEER_ENV.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env.pop("PYTHONPATH", None)  # venv interpreters must see only their own packages
    if SNAPSHOT["path"] and python is not None and python == SNAPSHOT.get("python"):
        env["PYTHONPATH"] = SNAPSHOT["path"]
    return env


def snapshot_source(base) -> dict:
    """Copy src/machinable so that edits made while the benchmark runs do not mix code versions."""
    src = os.path.join(REPO, "src", "machinable")
    dest = os.path.join(base, "_src")
    shutil.copytree(src, os.path.join(dest, "machinable"), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(os.path.join(dest, "machinable"))):
        dirs.sort()
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                h.update(os.path.relpath(os.path.join(root, name), dest).encode() + b"\0" + f.read())
    SNAPSHOT["path"] = dest
    return {"path": dest, "sha256": h.hexdigest()[:16]}


# --- machine info -----------------------------------------------------------------------


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _mount_of(path):
    path = os.path.realpath(path)
    best = ("?", "?", "?")
    for line in _read("/proc/mounts").splitlines():
        dev, mnt, fstype = line.split()[:3]
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[1]):
            best = (dev, mnt, fstype)
    return {"device": best[0], "mount": best[1], "fstype": best[2]}


def machine_info(base):
    cpu = re.search(r"^model name\s*:\s*(.*)$", _read("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+)", _read("/proc/meminfo"), re.M)
    osr = re.search(r'^PRETTY_NAME="?(.*?)"?$', _read("/etc/os-release"), re.M)
    git = {}
    try:
        git["commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                       text=True).stdout.strip()
        git["dirty"] = bool(subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src"],
                                           capture_output=True, text=True).stdout.strip())
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "kernel": platform.release(),
        "os": osr.group(1) if osr else platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "base_dir": base,
        "base_filesystem": _mount_of(base),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "git": git,
    }


def versions_of(py, packages):
    code = ("import json, importlib.metadata as m\nout = {}\nfor p in %r:\n    try: out[p] = m.version(p)\n"
            "    except Exception: out[p] = None\nprint(json.dumps(out))") % (list(packages),)
    p = subprocess.run([py, "-c", code], capture_output=True, text=True, env=child_env(py))
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}


# --- running workloads ------------------------------------------------------------------


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
            tools += list(PEERS)
        except Exception as e:  # noqa: BLE001
            notes.append(f"peers skipped: could not set up their venv: {e}")
            log(f"peers skipped: {e}")
    info["interpreters"] = dict(runner.pythons)
    info["versions"] = {"machinable": {"machinable": m_version,
                                       **versions_of(mpy, ["pydantic", "click", "rich", "arrow"])}}
    if "peers" in runner.pythons:
        info["versions"]["peers"] = versions_of(runner.pythons["peers"],
                                                ["mlflow", "mlflow-skinny", "sacred", "SQLAlchemy", "numpy", "pandas"])
    only = set(args.only or ["import", "run_overhead", "logging", "lookup", "cli"])
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
            for t in tools[2:]:
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
        for t in tools[2:]:
            for method in (("per-row", "batch") if t.startswith("mlflow") else ("per-row",)):
                runner.run(t, "logging", "peer_workloads.py", ["--tool", t, "--method", method, "--rows", str(S["rows"]),
                                                                "--budget-s", str(S["peer_log_budget_s"])], ppy)
    if "lookup" in only:
        ns = [str(n) for n in S["lookup_n"]]
        runner.run("machinable", "lookup", "machinable_workloads.py", ["--n", *ns, "--lookups", str(S["lookups"])], mpy)
        runner.run("raw", "lookup", "raw_workloads.py", ["--n", *ns, "--lookups", str(S["lookups"])], mpy)
        for t in tools[2:]:
            runner.run(t, "lookup", "peer_workloads.py",
                       ["--tool", t, "--n", *ns, "--lookups", str(S["peer_lookups"]),
                        "--lookup-budget-s", str(S["peer_lookup_budget_s"]),
                        "--populate-budget-s", str(S["peer_populate_budget_s"]),
                        "--mlflow-file-max-n", str(S["mlflow_file_max_n"])], ppy)
    if "cli" in only:
        runner.cli_startup(mpy)
        runner.run("machinable", "cli", "machinable_workloads.py", ["--runs", str(S["cli_runs"])], mpy)
        runner.run("raw", "cli", "raw_workloads.py", ["--runs", str(S["cli_runs"])], mpy)
        for t in tools[2:]:
            runner.run(t, "cli", "peer_workloads.py", ["--tool", t, "--runs", str(S["peer_cli_runs"])], ppy)

    info["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return {"info": info, "sizes": sizes, "tools": tools, "results": runner.results, "notes": notes}


# --- summarising --------------------------------------------------------------------------


def _find(results, tool, workload, pred=lambda out: True, tag=None):
    for e in results:
        if (e["tool"] == tool and e["workload"] == workload and e["status"] == "ok" and e.get("tag") == tag
                and pred(e["out"])):
            return e["out"]["results"]
    return None


def _round_median(results, tool, workload, pred=lambda out: True, tag=None):
    """Median over rounds of the per-round median ms/run, and the round medians."""
    meds = [e["out"]["results"]["ms_per_run"]["median"] for e in results
            if e["tool"] == tool and e["workload"] == workload and e["status"] == "ok" and e.get("tag") == tag
            and pred(e["out"])]
    return (statistics.median(meds) if meds else None), meds


def _err(results, tool, workload):
    for e in results:
        if e["tool"] == tool and e["workload"] == workload and e["status"] == "error":
            return e["error"]
    return None


def build_rows(run) -> list[dict]:
    """Table rows: {key, label, unit, lower_better, values: {tool: number|None}, notes: {tool: str}}."""
    res = run["results"]
    rows = []

    def row(key, label, unit, values, notes=None, lower_better=True, compare=True):
        rows.append({"key": key, "label": label, "unit": unit, "values": values, "notes": notes or {},
                     "lower_better": lower_better, "compare": compare})

    imp = next((e["out"]["results"] for e in res if e["workload"] == "import"), None)
    if imp:
        g = lambda k: imp.get(k, {}).get("median_ms")  # noqa: E731
        row("import", "1 import time (fresh `python -c`)", "ms",
            {"machinable": g("machinable"), "raw": g("stdlib"), "mlflow-file": g("mlflow"),
             "mlflow-sqlite": g("mlflow"), "sacred": g("sacred")},
            {"raw": "json+sqlite3+hashlib+pathlib"})
        row("import_bare", "1 bare interpreter (`pass`)", "ms",
            {"machinable": g("bare"), "raw": g("bare"), "mlflow-file": g("bare (peers venv)"),
             "mlflow-sqlite": g("bare (peers venv)"), "sacred": g("bare (peers venv)")}, compare=False)

    def med(x, *path):
        for p in path:
            if x is None:
                return None
            x = x.get(p)
        return x

    is_get = lambda o: o["results"].get("api") == "get"  # noqa: E731
    is_make = lambda o: o["results"].get("api") == "make"  # noqa: E731
    for tag, key, where in ((None, "run", "disk"), ("tmpfs", "run_tmpfs", "tmpfs (CPU cost)")):
        g, gr = _round_median(res, "machinable", "run_overhead", is_get, tag)
        m, mr = _round_median(res, "machinable", "run_overhead", is_make, tag)
        w, wr = _round_median(res, "raw", "run_overhead", tag=tag)
        pvals = {t: _round_median(res, t, "run_overhead", tag=tag)[0] for t in PEERS}
        rounds = {"machinable": f"rounds {', '.join(fmt(x) for x in gr)}", "raw": f"rounds {', '.join(fmt(x) for x in wr)}"}
        if tag is None:
            rounds["raw"] = "mkdir + 3 JSON files; " + rounds["raw"]
            rounds["sacred"] = "capture=sys"
        row(key.replace("run", "run_get"), f"2 per-run overhead, {where}, page cache: `get(m, cfg).launch()` + 1 JSON file",
            "ms/run", {"machinable": g, "raw": w, **pvals}, rounds if len(gr) > 1 else {})
        row(key.replace("run", "run_make"), f"2 per-run overhead, {where}: `Experiment.make(m, cfg).launch()`",
            "ms/run", {"machinable": m, "raw": w, **pvals},
            {"machinable": f"rounds {', '.join(fmt(x) for x in mr)}"} if len(mr) > 1 else {})

    f, fr = _round_median(res, "machinable", "run_overhead", is_get, "fsync")
    raw_fsync = [e["out"]["results"]["fsync"]["ms_per_run"]["median"] for e in res
                 if e["tool"] == "raw" and e["workload"] == "run_overhead" and e["status"] == "ok" and e.get("tag") is None]
    row("run_fsync", "2 per-run overhead, disk, fsync (survives power loss): `get(m, cfg).launch()` + 1 JSON file",
        "ms/run", {"machinable": f, "raw": statistics.median(raw_fsync) if raw_fsync else None,
                   "mlflow-sqlite": _round_median(res, "mlflow-sqlite", "run_overhead")[0]},
        {"machinable": "MACHINABLE_DURABILITY=fsync", "raw": "fsync per file + directories",
         "mlflow-sqlite": "SQLite commits with fsync"})

    kw = _find(res, "machinable", "logging", lambda o: o["results"].get("style") == "kwargs")
    si = _find(res, "machinable", "logging", lambda o: o["results"].get("style") == "setitem")
    rawl = _find(res, "raw", "logging")
    per = {t: _find(res, t, "logging", lambda o: o["results"].get("method") == "per-row") for t in PEERS}
    bat = {t: _find(res, t, "logging", lambda o: o["results"].get("method") == "batch") for t in PEERS}
    notes = {t: f"{per[t]['rows']:,} rows (budget)" for t in PEERS if per[t] and per[t]["stopped_by_budget"]}
    notes["raw"] = "os.write per row"
    notes["sacred"] = "2× log_scalar per row, buffered"
    row("log_row", "3 logging, per-row calls, page cache (survives SIGKILL): `record.save(...)`", "µs/row",
        {"machinable": med(kw, "us_per_row"), "raw": med(rawl, "os-write", "us_per_row"),
         **{t: med(per[t], "us_per_row") for t in PEERS}}, notes)
    row("log_row_setitem", "3 logging, per-row: `r[k] = v; r.save()`", "µs/row",
        {"machinable": med(si, "us_per_row"), "raw": med(rawl, "os-write", "us_per_row")}, compare=False)
    bnotes = {t: f"{bat[t]['rows']:,} rows (budget)" for t in PEERS if bat[t] and bat[t]["stopped_by_budget"]}
    bnotes.update({"machinable": "no batch API: per-row figure", "raw": "buffered file, 1 flush (not kill-safe)",
                   "sacred": "no batch API"})
    row("log_batch", "3 logging, batch API (500 rows per call)", "µs/row",
        {"machinable": med(kw, "us_per_row"), "raw": med(rawl, "buffered", "us_per_row"),
         **{t: med(bat[t], "us_per_row") for t in ("mlflow-file", "mlflow-sqlite")}}, bnotes)
    kf = _find(res, "machinable", "logging", tag="fsync")
    row("log_fsync", f"3 logging per-row, fsync (survives power loss; {run['sizes'].get('fsync_rows', 0):,} rows)",
        "µs/row", {"machinable": med(kf, "us_per_row"), "raw": med(rawl, "fdatasync", "us_per_row"),
                   "mlflow-sqlite": med(per["mlflow-sqlite"], "us_per_row")},
        {"machinable": "MACHINABLE_DURABILITY=fsync", "raw": "os.write + fdatasync per row",
         "mlflow-sqlite": "SQLite commit per call"})
    nrows = run["sizes"]["rows"]
    row("log_rss", f"3 peak RSS, {nrows:,}-row logging process", "MB",
        {"machinable": med(kw, "peak_rss_mb"), "raw": med(rawl, "peak_rss_mb"),
         **{t: med(per[t], "peak_rss_mb") for t in PEERS}}, compare=False)

    ml = _find(res, "machinable", "lookup")
    rl = _find(res, "raw", "lookup")
    pl = {t: _find(res, t, "lookup") for t in PEERS}
    for n in run["sizes"]["lookup_n"]:
        k = str(n)
        vals = {"machinable": med(ml, "sizes", k, "get_ms", "median"),
                "raw": med(rl, "sizes", k, "sqlite_ms", "median")}
        lnotes = {"raw": "SQLite index + read config.json"}
        for t in PEERS:
            vals[t] = med(pl[t], "sizes", k, "ms_per_lookup", "median")
            if pl[t] and k in pl[t].get("skipped", {}):
                lnotes[t] = "not reached (see notes)"
            elif pl[t] and k in pl[t]["sizes"] and pl[t]["sizes"][k]["lookups"] < 10:
                lnotes[t] = f"{pl[t]['sizes'][k]['lookups']} lookups (budget)"
        row(f"lookup_{n}", f"4 lookup by config among N = {n:,}: `get(m, cfg)`", "ms", vals, lnotes)
    big = str(run["sizes"]["lookup_n"][-1])
    # machinable's lookups run in a fresh lookup-only process; raw and the peers look up in the process
    # that populated their store, so their peak includes populating: not comparable, not shown beside it
    row("lookup_rss", f"4 peak RSS, a fresh lookup-only process at N = {int(big):,}", "MB",
        {"machinable": med(ml, "sizes", big, "peak_rss_mb")}, compare=False)
    row("find_where", f"4 `find(m, where=cfg)` query at N = {int(big):,}", "ms",
        {"machinable": med(ml, "sizes", big, "find_where_ms", "median"),
         "raw": med(rl, "sizes", big, "scan_ms", "median")}, {"raw": "scan of all config.json"}, compare=False)

    for n in run["sizes"]["lookup_n"]:
        k = str(n)
        q = med(ml, "sizes", k, "query")
        raw_scan = med(rl, "sizes", k, "scan_ms", "median")
        mlflow = {t: med(pl[t], "sizes", k, "ms_per_lookup", "median") for t in ("mlflow-file", "mlflow-sqlite")}
        qnotes = {"machinable": f"index {fmt(med(q, 'eq_index_ms', 'median'))} ms (find opens the match)",
                  "raw": "scan of every config.json", "mlflow-file": "search_runs, 5 params", "mlflow-sqlite": "search_runs, 5 params"}
        row(f"query_eq_{n}", f"4 query, equality on one key among N = {n:,}: `find(m, where=\"seed=k\")`", "ms",
            {"machinable": med(q, "eq_find_ms", "median"), "raw": raw_scan, **mlflow}, qnotes)
        rnotes = {"machinable": f"index {fmt(med(q, 'range_index_ms', 'median'))} ms; find opens the "
                                f"{med(q, 'range_rows') or 0:,} matches", "raw": "scan of every config.json",
                  "mlflow-file": "no range on params (strings)", "mlflow-sqlite": "no range on params (strings)"}
        row(f"query_range_{n}", f"4 query, 1 % range on one key among N = {n:,}: `find(m, where=\"lr>=a lr<b\")`", "ms",
            {"machinable": med(q, "range_find_ms", "median"), "raw": raw_scan}, rnotes)

    cs = _find(res, "machinable", "cli_startup")
    if cs:
        base = cs["results"]["import"]["median_ms"]
        for name in ("list", "show", "get --launch"):
            got = cs["results"].get(name)
            if got:
                row(f"cli_{name.split()[0]}", f"5 `machinable {name}` at {cs['experiments']:,} experiments, spawn → "
                    f"{'executing' if 'launch' in name else 'exit'} (× `import machinable` = {fmt(base)} ms)", "ms",
                    {"machinable": got["median_ms"]}, {"machinable": f"×{got['ratio']} (target ≤ {got['target']})"},
                    compare=False)

    mc = _find(res, "machinable", "cli")
    rc = _find(res, "raw", "cli")
    pc = {t: _find(res, t, "cli") for t in PEERS}
    cnotes = {"mlflow-file": "script (no CLI)", "mlflow-sqlite": "script (no CLI)", "sacred": "`script.py with ...`"}
    m_exec = med(mc, "to_first_execute_ms", "median") if mc and mc.get("status") == "ok" else None
    m_total = med(mc, "process_total_ms", "median") if mc and mc.get("status") == "ok" else None
    if mc and mc.get("status") != "ok":
        cnotes["machinable"] = f"CLI {mc.get('status')}: {mc.get('reason', '')[:80]}"
    row("cli_exec", "5 `machinable get m k=v --launch`: spawn → experiment executing", "ms",
        {"machinable": m_exec, "raw": med(rc, "to_first_execute_ms", "median"),
         **{t: med(pc[t], "to_first_execute_ms", "median") for t in PEERS}}, cnotes)
    row("cli_total", "5 same, spawn → process exit", "ms",
        {"machinable": m_total, "raw": med(rc, "process_total_ms", "median"),
         **{t: med(pc[t], "process_total_ms", "median") for t in PEERS}})
    row("cli_api", "5 `python -c \"get(m, cfg).launch()\"`: spawn → executing", "ms",
        {"machinable": med(mc, "python_c_api", "to_first_execute_ms", "median")}, compare=False)
    return rows


def fmt(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def cell(row, tool):
    v = row["values"].get(tool)
    note = row["notes"].get(tool)
    m = row["values"].get("machinable")
    s = fmt(v)
    if v is not None and m and tool != "machinable" and row["compare"]:
        ratio = v / m if row["lower_better"] else m / v
        s += f" (×{ratio:.2g})" if ratio < 10 else f" (×{ratio:,.0f})"
    if note:
        s += f" [{note}]"
    return s


def markdown_table(rows, tools) -> str:
    cols = [t for t in COLUMNS if t in tools]
    out = ["| workload | unit | " + " | ".join(TITLES[t] for t in cols) + " |",
           "|---|---|" + "---:|" * len(cols)]
    for row in rows:
        if all(row["values"].get(t) is None for t in cols):
            continue
        out.append(f"| {row['label']} | {row['unit']} | " + " | ".join(cell(row, t) for t in cols) + " |")
    return "\n".join(out)


def check_targets(run, rows) -> list[dict]:
    res = run["results"]
    by = {r["key"]: r["values"] for r in rows}
    out = []

    def target(name, value, limit, ok, detail):
        out.append({"target": name, "value": value, "limit": limit,
                    "status": "N/A" if ok is None else ("PASS" if ok else "MISS"), "detail": detail})

    imp_m, imp_s = by.get("import", {}).get("machinable"), by.get("import", {}).get("raw")
    if imp_m and imp_s:
        target("import <= 1.5x json+sqlite3+hashlib+pathlib", round(imp_m / imp_s, 2), 1.5, imp_m <= 1.5 * imp_s,
               f"{imp_m:.1f} ms vs {imp_s:.1f} ms = ×{imp_m / imp_s:.2f}")
    for key, what in (("run_get", "get().launch()"), ("run_make", "make().launch()"),
                      ("run_get_tmpfs", "get().launch(), tmpfs"), ("run_make_tmpfs", "make().launch(), tmpfs")):
        v, raw = by.get(key, {}).get("machinable"), by.get(key, {}).get("raw")
        if v is not None:
            target(f"per-run overhead <= 2 ms ({what})", v, 2.0, v <= 2.0, f"{v:.2f} ms/run")
            if raw:
                target(f"per-run overhead <= 3x raw ({what})", round(v / raw, 2), 3.0, v <= 3 * raw,
                       f"{v:.2f} ms vs raw {raw:.3f} ms = ×{v / raw:.1f}")
    v = by.get("log_row", {}).get("machinable")
    if v:
        target(">= 200,000 rows/s per-row logging", round(1e6 / v), 200_000, 1e6 / v >= 200_000,
               f"{1e6 / v:,.0f} rows/s ({v:.2f} µs/row)")
    dur = _find(res, "machinable", "durability")
    if dur:
        n = sum(t["reported_saves_at_kill"] for t in dur["trials"])
        miss = sum(t["missing_reported_rows"] for t in dur["trials"])
        target("every returned save() survives SIGKILL", miss, 0, dur["all_ok"],
               f"{len(dur['trials'])} kills, {n:,} reported saves, {miss} missing, "
               f"{sum(t['corrupt_complete_lines'] for t in dur['trials'])} corrupt lines")
    elif _err(res, "machinable", "durability"):
        target("every returned save() survives SIGKILL", None, 0, False, _err(res, "machinable", "durability")[-300:])
    for n, limit in ((10_000, 0.5), (100_000, 1.0)):
        v = by.get(f"lookup_{n}", {}).get("machinable")
        target(f"lookup <= {limit} ms at {n:,}", v, limit, None if v is None else v <= limit,
               "size not run" if v is None else f"{v:.3f} ms")
    big = run["sizes"]["lookup_n"][-1]
    query = (_find(res, "machinable", "lookup") or {}).get("sizes", {}).get(str(big), {}).get("query") or {}
    for name, limit in (("eq", 2.0), ("range", 10.0)):
        v = (query.get(f"{name}_index_ms") or {}).get("median")
        if big >= 100_000 and v is not None:
            target(f"{'equality' if name == 'eq' else '1 % range'} on one key in the index <= {limit:g} ms at {big:,}",
                   v, limit, v <= limit, f"{v:.3f} ms (find() with opening the matches: "
                   f"{(query.get(f'{name}_find_ms') or {}).get('median')} ms)")
    cs = _find(res, "machinable", "cli_startup")
    for name, got in ((cs or {}).get("results") or {}).items():
        if got.get("target"):
            target(f"`machinable {name}` <= {got['target']}x import machinable", got["ratio"], got["target"],
                   got["ratio"] <= got["target"], f"{got['median_ms']} ms = ×{got['ratio']}")
    for key, what in (("log_rss", f"{run['sizes']['rows']:,}-row logging"),
                      ("lookup_rss", f"lookup process at N = {run['sizes']['lookup_n'][-1]:,}")):
        v = by.get(key, {}).get("machinable")
        if v is None:
            continue
        target(f"peak RSS < 150 MB: {what}", v, 150, None if v is None else v < 150,
               "not measured" if v is None else f"{v:.1f} MB")
    # faster than every peer on every compared workload
    peers_present = [t for t in PEERS if t in run["tools"]]
    if peers_present:
        losses, compared = [], 0
        for r_ in rows:
            m = r_["values"].get("machinable")
            if not r_["compare"] or m is None:
                continue
            for t in peers_present:
                v = r_["values"].get(t)
                if v is None:
                    continue
                compared += 1
                if (v <= m) if r_["lower_better"] else (v >= m):
                    losses.append(f"{r_['key']}: {TITLES[t]} {fmt(v)} vs ours {fmt(m)} {r_['unit']}")
        target("faster than MLflow and Sacred on every workload", len(losses), 0, not losses,
               f"{compared} comparisons, lost {len(losses)}" + (": " + "; ".join(losses) if losses else ""))
    return out


def render_markdown(run, rows, targets) -> str:
    info = run["info"]
    m = info["machine"]
    lines = [f"# machinable benchmark — {run['started']}", "",
             f"Command: `{run['command']}` (cwd: repository root; {run['duration_s']:.0f} s"
             f"{', QUICK smoke sizes: not representative' if run['quick'] else ''})", "",
             f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, {m['os']}, "
             f"kernel {m['kernel']}, Python {m['python']}, SQLite {m['sqlite']}; stores under "
             f"`{m['base_dir']}` ({m['base_filesystem']['fstype']} on {m['base_filesystem']['device']}); "
             f"load average {m['loadavg_start'][0]} at start, {m['loadavg_end'][0]} at end; "
             f"git {m['git'].get('commit', '?')}{' + uncommitted changes in src/' if m['git'].get('dirty') else ''} "
             f"(src/machinable snapshot sha256 {info.get('source', {}).get('sha256', '?')}, taken at the start "
             f"and used by every machinable process).",
             "", "Versions: " + ", ".join(f"{k} {v}" for group in info["versions"].values()
                                          for k, v in group.items() if v and "source" not in k), "",
             "Figures are medians (per-operation timings within one fresh process per tool and workload; "
             "import: interleaved fresh interpreters). `(×r)` = that tool's time ÷ machinable's time, "
             "so ×10 means machinable is 10 times faster; for raw Python, ×0.2 means the no-framework "
             "floor takes 0.2 of our time.", "",
             markdown_table(rows, run["tools"]), "", "## Targets", "",
             "| target | status | measured |", "|---|---|---|"]
    for t in targets:
        lines.append(f"| {t['target']} | **{t['status']}** | {t['detail']} |")
    lines += ["", "## Notes", ""]
    for n in run_notes(run):
        lines.append(f"- {n}")
    return "\n".join(lines) + "\n"


def run_notes(run) -> list[str]:
    res = run["results"]
    notes = list(run["notes"])
    notes.append("Interpreters: " + ", ".join(f"{k}: `{v}`" for k, v in run["info"]["interpreters"].items()))
    for e in res:
        if e["status"] == "error":
            notes.append(f"ERROR {e['tool']} {e['workload']} {' '.join(e['argv'])}: {e['error'][-400:]}")
        if e["workload"] == "import" and e.get("errors"):
            notes.append(f"import errors: {e['errors']}")
    ml = _find(res, "machinable", "lookup")
    if ml:
        pops = [f"{k}: {v['populate']['create_s']} s ({v['populate']['create_ms_per_experiment']:.2f} ms each"
                + (f", {v['populate']['id_collisions']} experiment-id collision(s) retried"
                   if v['populate'].get('id_collisions') else "") + ")"
                for k, v in ml["sizes"].items()]
        notes.append("machinable lookup stores populated through the public API "
                     "(`Experiment.make(m, cfg).commit()`, untimed for the lookup figure): " + "; ".join(pops)
                     + ". First lookup of each fresh process (opens the index, builds the config model): "
                     + ", ".join(f"{k}: {v['first_lookup_ms']:.1f} ms" for k, v in ml["sizes"].items()))
    for t in PEERS:
        pl = _find(res, t, "lookup")
        if pl:
            notes.append(f"{TITLES[t]} lookup stores: {pl['populate']}. "
                         + "; ".join(f"N={k}: {v['lookups']} lookups, first {v['first_lookup_ms']} ms"
                                     for k, v in pl["sizes"].items())
                         + ("; " + "; ".join(f"N={k}: {why}" for k, why in pl["skipped"].items())
                            if pl["skipped"] else ""))
        pr = [x for x in res if x["tool"] == t and x["workload"] == "logging" and x["status"] == "ok"]
        for x in pr:
            o = x["out"]["results"]
            if o["stopped_by_budget"]:
                notes.append(f"{TITLES[t]} logging {o['method']}: stopped by the {o['budget_s']:.0f} s budget at "
                             f"{o['rows']:,} of {o['rows_requested']:,} rows (figure from those rows).")
    mc = _find(res, "machinable", "cli")
    if mc:
        if mc.get("status") == "ok":
            notes.append(f"machinable CLI: {mc['command']}; first process (creates the storage) "
                         f"{mc['warmup_first_process_ms']:.0f} ms; rerunning a finished config "
                         f"{mc['rerun_same_config_ms']:.0f} ms and executed again: {mc['rerun_executed_again']}.")
        else:
            notes.append(f"machinable CLI {mc['status']}: {mc.get('reason')}")
    dur = _find(res, "machinable", "durability")
    if dur:
        notes.append("SIGKILL check: " + "; ".join(
            f"killed after {t['reported_saves_at_kill']:,} reported saves → {t['rows_in_file']:,} rows in file, "
            f"{t['missing_reported_rows']} missing, partial last line: {t['partial_last_line']}"
            for t in dur["trials"]))
    imp = next((e for e in res if e["workload"] == "import"), None)
    if imp:
        prof = imp["out"]["importtime_machinable"]
        notes.append(f"`-X importtime` of `import machinable`: {prof['modules']} modules; largest cumulative: "
                     + ", ".join(f"{n} {ms} ms" for n, ms in prof["top_cumulative_ms"][:6]))
    fs = []
    for e in res:
        if e["status"] == "ok" and e["workload"] == "run_overhead" and not e.get("tag"):
            p = e["out"]["results"].get("fs_create_us_start_end")
            if p:
                fs.append(f"{e['tool']}{' ' + e['out']['results'].get('api') if e['out']['results'].get('api') else ''} "
                          f"{p[0]:.0f}/{p[1]:.0f}")
    if fs:
        notes.append("Disk probe (µs per 1-byte file create, start/end of each per-run workload on disk, in "
                     "run order; this VM's disk swings 50–850 µs; tmpfs ~17 µs): " + ", ".join(fs))
    return notes


def print_console(rows, targets, tools, md_path):
    print()
    print(markdown_table(rows, tools))
    print()
    for t in targets:
        print(f"  {t['status']:4s}  {t['target']}: {t['detail']}")
    print(f"\nwritten: {md_path} (+ .json)")


# --- main -----------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, machinable + raw only, no venvs (CI smoke run)")
    ap.add_argument("--no-peers", action="store_true", help="skip MLflow and Sacred")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory (default benchmarks/results)")
    ap.add_argument("--base", default=None, help="scratch directory for the stores (default /tmp/machinable-bench)")
    ap.add_argument("--peers-venv", default="/tmp/machinable-bench-peers")
    ap.add_argument("--bench-venv", default="/tmp/machinable-bench-venv",
                    help="clean venv in which machinable and the raw baseline run")
    ap.add_argument("--no-bench-venv", action="store_true", help="run machinable in the calling interpreter")
    ap.add_argument("--python", help="interpreter for machinable and raw (overrides --bench-venv)")
    ap.add_argument("--only", nargs="+", choices=["import", "run_overhead", "logging", "lookup", "cli"])
    ap.add_argument("--tmpfs", default="/dev/shm",
                    help="also run the per-run workload with stores on this tmpfs ('' to skip)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    args.base = os.path.abspath(args.base or os.path.join("/tmp", "machinable-bench-quick" if args.quick
                                                          else "machinable-bench"))
    started = dt.datetime.now(dt.timezone.utc)
    command = "python -m benchmarks" + ("" if argv is None and len(sys.argv) <= 1 else
                                        " " + " ".join(map(shlex.quote, sys.argv[1:] if argv is None else argv)))
    shutil.rmtree(args.base, ignore_errors=True)
    try:
        run = run_all(args)
    finally:
        if not args.keep:
            shutil.rmtree(args.base, ignore_errors=True)
    run.update(started=started.strftime("%Y-%m-%d %H:%M UTC"), command=command, quick=args.quick,
               duration_s=round(time.time() - T0, 1))
    rows = build_rows(run)
    targets = check_targets(run, rows)
    run["table"] = rows
    run["targets"] = targets
    md = render_markdown(run, rows, targets)
    os.makedirs(args.out, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    names = ([f"quick-{stamp}", "quick-latest"] if args.quick else [stamp, "latest"])
    for name in names:
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(run, f, indent=1)
        with open(os.path.join(args.out, name + ".md"), "w") as f:
            f.write(md)
    print_console(rows, targets, run["tools"], os.path.join(args.out, names[0] + ".md"))
    failed = [e for e in run["results"] if e["status"] == "error" and e["tool"] in ("machinable", "raw")]
    mc = _find(run["results"], "machinable", "cli")
    if mc and mc.get("status") == "error":
        failed.append(mc)
    if failed:
        print(f"\n{len(failed)} machinable/raw workload(s) failed", file=sys.stderr)
        return 1
    if args.strict and any(t["status"] == "MISS" for t in targets):
        return 1
    return 0
