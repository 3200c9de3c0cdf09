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
import json
import os
import shlex
import shutil
import sys
import time

from benchmarks.report import print_console, render_markdown
from benchmarks.rounds import run_all
from benchmarks.settings import HERE, T0
from benchmarks.summary import _find, build_rows, check_targets


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, machinable + raw only, no venvs (CI smoke run)")
    ap.add_argument("--no-peers", action="store_true", help="skip the peers (MLflow, Sacred, Hydra, Optuna)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory (default benchmarks/results)")
    ap.add_argument("--base", default=None, help="scratch directory for the stores (default /tmp/machinable-bench)")
    ap.add_argument("--peers-venv", default="/tmp/machinable-bench-peers")
    ap.add_argument("--bench-venv", default="/tmp/machinable-bench-venv",
                    help="clean venv in which machinable and the raw baseline run")
    ap.add_argument("--no-bench-venv", action="store_true", help="run machinable in the calling interpreter")
    ap.add_argument("--python", help="interpreter for machinable and raw (overrides --bench-venv)")
    ap.add_argument("--only", nargs="+", choices=["import", "run_overhead", "logging", "lookup", "cli", "sweep"])
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
