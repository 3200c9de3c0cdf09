#!/usr/bin/env python
"""Two checkouts of machinable on one workload, rounds interleaved: what a change costs.

usage: python benchmarks/versus.py BEFORE_SRC AFTER_SRC [--rounds 7] [--base /dev/shm/versus] -- WORKLOAD ARGS...

Runs `machinable_workloads.py WORKLOAD ARGS` in a fresh interpreter with PYTHONPATH set to
BEFORE_SRC, then AFTER_SRC, then BEFORE_SRC again, ... (alternating, so a machine that
speeds up or slows down during the run affects both alike), and prints each numeric result
figure's median for both and the ratio after/before of the medians. Example, the per-run
overhead and the cost of a record row of the previous commit against this checkout:

    git worktree add /tmp/before HEAD~1
    python benchmarks/versus.py /tmp/before/src src -- run_overhead --n 300
    python benchmarks/versus.py /tmp/before/src src -- logging --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def figures(results: dict, prefix: str = "") -> dict:
    """The numeric figures of a workload's results, flattened to dotted names."""
    found = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(figures(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[name] = value
    return found


def run_once(src: str, base: str, workload: list) -> dict:
    shutil.rmtree(base, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    command = [sys.executable, os.path.join(HERE, "machinable_workloads.py"), workload[0], "--base", base, *workload[1:]]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return figures(json.loads(result.stdout.strip().splitlines()[-1])["results"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--base", default="/dev/shm/machinable-versus")
    argv = sys.argv[1:]
    if "--" not in argv:
        parser.error("give the workload after --, e.g. -- run_overhead --n 300")
    split = argv.index("--")
    args, workload = parser.parse_args(argv[:split]), argv[split + 1 :]
    seen = {"before": [], "after": []}
    for _ in range(args.rounds):
        for side in ("before", "after"):
            seen[side].append(run_once(getattr(args, side), args.base, workload))
    shutil.rmtree(args.base, ignore_errors=True)
    print(f"{' '.join(workload)}: medians of {args.rounds} interleaved rounds; {args.before} vs {args.after}")
    print(f"{'figure':<40} {'before':>12} {'after':>12} {'after/before':>13}")
    for name in seen["before"][0]:
        before = statistics.median(round_[name] for round_ in seen["before"])
        after = statistics.median(round_[name] for round_ in seen["after"] if name in round_)
        ratio = f"{after / before:.3f}" if before else "-"
        print(f"{name:<40} {before:>12.4g} {after:>12.4g} {ratio:>13}")


if __name__ == "__main__":
    main()
