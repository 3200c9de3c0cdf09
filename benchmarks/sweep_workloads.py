#!/usr/bin/env python
"""Sweeps and searches: what each point costs beyond the work of the point, for every tool alike.

usage: python benchmarks/sweep_workloads.py WORKLOAD --tool TOOL --base DIR [--points 1000] [--small 10]

  grid    --tool machinable | raw | hydra
          a grid of POINTS values of x through the trivial objective (x - 3)^2, every point stored:
          machinable `Sweep("point", {"x": range(N)}).launch()` (in this process, one experiment
          directory per point); raw Python a directory with config and result JSON per point;
          Hydra `app.py -m 'x=range(0,N)'` (multirun with its basic launcher, its defaults: an
          output directory with .hydra/*.yaml and a log per job).
  search  --tool machinable | optuna | optuna-sqlite
          POINTS trials of the same objective over x ~ uniform(-10, 10), TPE sampler seeded 0:
          machinable `Search("point", ..., objective="y", trials=N).run()` (every trial an
          experiment); a bare Optuna study (`study.optimize`, in memory: nothing stored) and the same
          with Optuna's SQLite storage (what its docs recommend to resume or share a study).

Figure: per point = (spawn → exit of a process doing POINTS points − the same for SMALL points)
÷ (POINTS − SMALL), so start-up and imports cancel out; the in-process time of the sweep call is
reported too. For machinable's grid also: a second driver process on the finished storage (it
finds every point finished and runs nothing) and `machinable sweep point 'x=range(0,PLAN)'
--dry-run` (the plan of PLAN points, POINTS of them finished: spawn → exit).

internal: point (the child process that runs the points).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, fresh_dir, perf, progress, r  # noqa: E402

POINT_MODULE = '''\
from dataclasses import dataclass

from machinable import Experiment


class Point(Experiment):
    @dataclass
    class Config:
        x: float = 0.0

    def on_execute(self):
        self.summary["y"] = (self.config.x - 3.0) ** 2
'''

HYDRA_APP = '''\
import json
import sys
import time

import hydra

STARTED = time.perf_counter()


@hydra.main(version_base=None, config_path=".", config_name="point")
def objective(cfg):
    return (cfg.x - 3.0) ** 2


if __name__ == "__main__":
    objective()
    sys.stdout.write(json.dumps({"seconds": time.perf_counter() - STARTED}) + "\\n")
'''

TOOLS = {"grid": ("machinable", "raw", "hydra"), "search": ("machinable", "optuna", "optuna-sqlite")}


def objective(x: float) -> float:
    return (x - 3.0) ** 2


# --- the child: one process running N points -----------------------------------------------


def run_points(workload: str, tool: str, points: int, directory: str) -> float:
    """Run `points` points in `directory`; the seconds the sweep itself took in this process."""
    os.chdir(directory)
    if tool == "machinable":
        from machinable import get

        with get("machinable.storage.filesystem", {"directory": os.path.join(directory, "storage")}):
            if workload == "grid":
                from machinable.sweep import Sweep

                started = perf()
                Sweep("point", {"x": range(points)}).launch()
                return perf() - started
            from machinable.sweep import Search, uniform

            started = perf()
            search = Search("point", {"x": uniform(-10, 10)}, objective="y", trials=points).run()
            seconds = perf() - started
            assert len(search.results()) == points, len(search.results())
            return seconds
    if tool == "raw":
        started = perf()
        for x in range(points):
            run = os.path.join(directory, "runs", str(x))
            os.makedirs(run)
            with open(os.path.join(run, "config.json"), "w") as f:
                json.dump({"x": float(x)}, f)
            with open(os.path.join(run, "result.json"), "w") as f:
                json.dump({"y": objective(float(x))}, f)
        return perf() - started
    if tool.startswith("optuna"):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # as `Search`, which logs no line per trial

        storage = f"sqlite:///{os.path.join(directory, 'optuna.db')}" if tool == "optuna-sqlite" else None
        started = perf()
        study = optuna.create_study(direction="minimize", storage=storage,
                                    sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(lambda trial: objective(trial.suggest_float("x", -10, 10)), n_trials=points)
        seconds = perf() - started
        assert len(study.trials) == points
        return seconds
    raise SystemExit(f"unknown tool {tool!r} for {workload}")


# --- the parent: children of SMALL and POINTS points, timed from spawn to exit ---------------


def prepare(tool: str, directory: str) -> None:
    """A fresh project directory for `tool`."""
    fresh_dir(directory)
    if tool == "hydra":
        with open(os.path.join(directory, "app.py"), "w") as f:
            f.write(HYDRA_APP)
        with open(os.path.join(directory, "point.yaml"), "w") as f:
            f.write("x: 0.0\n")
    elif tool == "machinable":
        with open(os.path.join(directory, "point.py"), "w") as f:
            f.write(POINT_MODULE)


def child_command(workload: str, tool: str, points: int, directory: str) -> list[str]:
    """The command that runs `points` points of `tool` in `directory` (prepared)."""
    if tool == "hydra":
        return [sys.executable, "app.py", "-m", f"hydra.sweep.dir={os.path.join(directory, 'multirun')}",
                f"x=range(0,{points})"]
    return [sys.executable, os.path.abspath(__file__), "point", "--workload", workload, "--tool", tool,
            "--points", str(points), "--base", directory]


def timed_child(command: list[str], directory: str) -> tuple[float, dict]:
    started = perf()
    p = subprocess.run(command, cwd=directory, capture_output=True, text=True)
    seconds = perf() - started
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({p.returncode}): {p.stderr[-3000:]}")
    return seconds, json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])


def measure(workload: str, tool: str, args) -> dict:
    spawn, inside = {}, {}
    for n in (args.small, args.points):
        directory = os.path.join(args.base, f"{tool}-{n}")
        prepare(tool, directory)
        progress(f"{tool} {workload}: {n} points")
        spawn[n], out = timed_child(child_command(workload, tool, n, directory), directory)
        inside[n] = out["seconds"]
    span = args.points - args.small
    results = {
        "points": args.points, "small": args.small,
        "ms_per_point": r((spawn[args.points] - spawn[args.small]) / span * 1e3),
        "ms_per_point_in_process": r((inside[args.points] - inside[args.small]) / span * 1e3),
        "process_s": {str(n): r(s) for n, s in spawn.items()},
        "in_process_s": {str(n): r(s) for n, s in inside.items()},
    }
    if tool == "machinable" and workload == "grid":
        directory = os.path.join(args.base, f"{tool}-{args.points}")
        again, _ = timed_child(child_command("grid", tool, args.points, directory), directory)
        results["relaunch_finished_s"] = r(again)
        dry_run = [sys.executable, "-m", "machinable", "sweep", "point", f"x=range(0,{args.plan_points})", "--dry-run"]
        started = perf()
        p = subprocess.run(dry_run, cwd=directory, capture_output=True, text=True)
        results["dry_run_s"] = r(perf() - started)
        expected = f"{args.plan_points - args.points} of {args.plan_points} points would run"
        if p.returncode != 0 or expected not in p.stdout:
            raise SystemExit(f"dry run failed ({p.returncode}), expected {expected!r}: {p.stdout[-500:]} {p.stderr[-2000:]}")
        results["plan_points"] = args.plan_points
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=["grid", "search", "point"])
    ap.add_argument("--workload", dest="child_workload", choices=["grid", "search"])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--base", required=True, help="scratch directory (wiped)")
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--plan-points", type=int, default=10_000)
    args = ap.parse_args()
    if args.workload == "point":
        seconds = run_points(args.child_workload, args.tool, args.points, args.base)
        sys.stdout.write(json.dumps({"seconds": seconds}) + "\n")
        return
    if args.tool not in TOOLS[args.workload]:
        ap.error(f"--tool for {args.workload}: one of {', '.join(TOOLS[args.workload])}")
    if not args.small < args.points:
        ap.error("--small must be fewer points than --points")
    os.makedirs(args.base, exist_ok=True)
    emit(args.tool, args.workload, args, measure(args.workload, args.tool, args))


if __name__ == "__main__":
    main()
