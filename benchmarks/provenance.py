#!/usr/bin/env python
"""What recording the code version per run costs (issue 7): one JSON line out.

usage: python benchmarks/provenance.py [--base DIR] [--calls 20000] [--runs 50] [--rounds 21]

A project in a fresh git repository (`bench_run.py` committed; storage outside it), in one
process, comparing the snapshots of `machinable.environment` with what they replaced, its
`encoded()` cached once per process (an lru_cache hit), in interleaved rounds:

  encoded_us   per call of `environment.encoded(project, "bench_run")` when nothing changed
  launch_ms    per `get("bench_run", config).launch()` (new config each time), --runs per round
  changed_ms   `encoded()` after an edit of the module: git runs again (the slow path)

Not part of `python -m benchmarks`: that suite compares tools, this compares two versions of
one function. Figures are medians over rounds; launch_overhead_ms is the median (p10, p90)
of the per-round differences, since the disk moves launch times more than the effect.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import fresh_dir, median, params_for, perf, r  # noqa: E402
from machinable_workloads import MODULE, make_project  # noqa: E402


def git(project, *args):
    subprocess.run(["git", "-c", "user.email=b@b", "-c", "user.name=b", *args], cwd=project, check=True,
                   capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args()
    root = fresh_dir(os.path.join(args.base, "machinable-provenance"))
    project = make_project(os.path.join(root, "project"))
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "bench")
    os.chdir(project)

    from machinable import environment, get

    snapshots = environment.encoded
    modes = {"snapshots": snapshots, "per_process": functools.lru_cache(maxsize=None)(snapshots)}
    encoded_us = {mode: [] for mode in modes}
    launch_ms = {mode: [] for mode in modes}
    with get("machinable.storage.filesystem", {"directory": os.path.join(root, "storage")}):
        get(MODULE, params_for(-1)).launch()  # imports, first git run, package scan
        time.sleep(0.1)  # past environment.RECENT_NS, so the snapshots are trusted
        run = 0
        for _ in range(args.rounds):
            for mode, encoded in modes.items():
                environment.encoded = encoded
                t = perf()
                for _ in range(args.calls):
                    encoded(project, MODULE)
                encoded_us[mode].append((perf() - t) / args.calls * 1e6)
                t = perf()
                for _ in range(args.runs):
                    run += 1
                    get(MODULE, params_for(run)).launch()
                launch_ms[mode].append((perf() - t) / args.runs * 1e3)
        environment.encoded = snapshots
        changed = []
        for i in range(5):
            with open(MODULE + ".py", "a") as f:
                f.write(f"# edit {i}\n")
            t = perf()
            code = json.loads("{" + snapshots(project, MODULE)[0] + "}")["code"]
            changed.append(perf() - t)
            assert f"+# edit {i}" in code["git"]["diff"]
    watched = environment._snapshots[("git", project)].paths
    figures = {
        "encoded_us": {mode: r(median(xs), 3) for mode, xs in encoded_us.items()},
        "launch_ms": {mode: r(median(xs), 4) for mode, xs in launch_ms.items()},
        "changed_ms": r(median(changed) * 1e3, 3),
        "watched_paths": len(watched),
        "rounds": args.rounds, "calls": args.calls, "runs": args.runs, "base": args.base,
    }
    paired = sorted(a - b for a, b in zip(launch_ms["snapshots"], launch_ms["per_process"]))
    figures["launch_overhead_ms"] = {"median": r(median(paired), 4), "p10": r(paired[len(paired) // 10], 4),
                                     "p90": r(paired[-1 - len(paired) // 10], 4)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
