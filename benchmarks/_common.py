"""Helpers shared by the workload scripts (stdlib only: they also run in the peers' venv).

Every workload script is run as `PYTHON benchmarks/<tool>_workloads.py WORKLOAD [options]`
in a fresh interpreter and prints exactly one JSON line on stdout:

    {"tool": ..., "workload": ..., "args": {...}, "results": {...}, "env": {...}}

Progress and diagnostics go to stderr.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import statistics
import sys
import time

# Keep peers quiet and offline (MLflow >= 3 refuses file: stores without the first).
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

perf = time.perf_counter
median = statistics.median


def params_for(i: int) -> dict:
    """The 5 config values every benchmark run carries (the same for every tool)."""
    return {"lr": i * 1e-4, "seed": i, "batch_size": 32, "epochs": 10, "optimizer": "adam"}


def loss_at(i: int) -> float:
    return math.exp(-i / 50000.0) + 0.01 * math.sin(i)


def accuracy_at(i: int) -> float:
    return 1.0 - 0.5 * math.exp(-i / 30000.0)


def r(x, digits=4):
    return None if x is None else round(x, digits)


def maxrss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def exec_peak_rss_mb() -> float:
    """Peak RSS of this process image (VmHWM): unlike ru_maxrss, not inherited from the parent that spawned it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return maxrss_mb()


def fresh_dir(path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def fs_probe(base: str, n: int = 500) -> float:
    """Microseconds per create+write+close of a 1-byte file (this VM's disk swings 50-850 us)."""
    d = os.path.join(base, "_fsprobe")
    fresh_dir(d)
    t = perf()
    for i in range(n):
        with open(os.path.join(d, str(i)), "w") as f:
            f.write("x")
    us = (perf() - t) / n * 1e6
    shutil.rmtree(d, ignore_errors=True)
    return round(us, 1)


def summarize(samples_s: list, scale: float = 1e3, digits: int = 4) -> dict:
    """Median (the reported figure), mean, p10/p90 and count of per-operation timings."""
    xs = sorted(samples_s)
    n = len(xs)
    return {
        "median": r(median(xs) * scale, digits),
        "mean": r(sum(xs) / n * scale, digits),
        "p10": r(xs[int(0.1 * (n - 1))] * scale, digits),
        "p90": r(xs[int(0.9 * (n - 1))] * scale, digits),
        "n": n,
    }


def progress(*parts) -> None:
    print("  ..", *parts, file=sys.stderr, flush=True)


def run_workload(tool: str, args, workloads: dict) -> None:
    """Fill in the default sizes, run the chosen workload and print its JSON line."""
    os.makedirs(args.base, exist_ok=True)
    if args.n is None:
        args.n = {"run_overhead": [500], "dispatch": [12]}.get(args.workload, [1000, 10_000, 100_000])
    if args.workload in ("run_overhead", "dispatch"):
        args.n = args.n[0]
    emit(tool, args.workload, args, workloads[args.workload](args))


def emit(tool: str, workload: str, args, results: dict, **extra) -> None:
    out = {
        "tool": tool,
        "workload": workload,
        "argv": sys.argv[1:],
        "args": vars(args) if args is not None else {},
        "python": sys.executable,
        "maxrss_mb": maxrss_mb(),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    out.update(extra)
    out["results"] = results
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
