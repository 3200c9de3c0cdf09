"""How long the command line takes from spawn to exit (or to `on_execute`), against `import machinable`.

    python benchmarks/cli_startup.py                 # 10,000 experiments, 15 rounds
    python benchmarks/cli_startup.py --rounds 31 --n 10000 --importtime

A storage of N experiments is created once (cached under /tmp, keyed by N) in a fresh
interpreter through the public API. Then each round runs, each in a fresh process and in
this order: `python -c "import machinable"`, `machinable list`, `machinable show ID`,
`machinable get MODULE k=v --launch` (a new config each round, so it runs), all as
`python -m machinable ...` from the project directory with its ./storage. The launch is
timed from spawn to the experiment's `on_execute` (a time stamp it appends to a file).
Medians and their ratios to `import machinable` are printed, with the targets of issue 9
(list and show <= 1.5x, get --launch to executing <= 2x). The checkout measured is the
one holding this script (its src/ is put first on PYTHONPATH). `--importtime` prints the
modules each command imports, slowest first (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
sys.path.insert(0, HERE)
from machinable_workloads import MODULE, make_project  # noqa: E402  (the bench_run module of the cli workload)

POPULATE = '''
import os, sys
from machinable import Experiment, get
from machinable.errors import StorageError

n = int(sys.argv[1])
with get("machinable.storage.filesystem", {"directory": os.path.abspath("storage")}):
    shown = get("%s", {"lr": -1.0}).launch()
    for step in range(200):
        shown.record().save(step=step, loss=1.0 / (step + 1))
    print("SHOW", shown.experiment_id)
    for i in range(n - 1):
        for attempt in range(5):
            try:
                Experiment.make("%s", {"lr": i * 1e-4, "seed": i}).commit()
                break
            except StorageError as error:  # a 6-character id drawn twice in one group directory
                if "already exists" not in str(error) or attempt == 4:
                    raise
        if i %% 1000 == 0:
            print(f"{i}/{n}", file=sys.stderr, flush=True)
''' % (MODULE, MODULE)


def environment(extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE"):  # compiled once and cached, as installed code is
        env.pop(name, None)
    return {**env, **(extra or {})}


def prepare(cache: str, n: int) -> tuple[str, str]:
    """The project directory (holding ./storage with n experiments) and the id of the one to `show`."""
    project = os.path.join(cache, "project")
    done = os.path.join(cache, "ready.json")
    if os.path.exists(done):
        with open(done) as f:
            return project, json.load(f)["show"]
    make_project(project)
    print(f"creating {n} experiments in {project}/storage (once) ...", file=sys.stderr)
    t = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", POPULATE, str(n)], cwd=project, env=environment(),
                            stdout=subprocess.PIPE, text=True, check=True)
    shown = result.stdout.split("SHOW ")[1].split()[0]
    with open(done, "w") as f:
        json.dump({"n": n, "show": shown, "seconds": round(time.perf_counter() - t, 1)}, f)
    return project, shown


def spawn(argv: list, cwd: str, env: dict) -> float:
    t = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - t
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{result.stderr.decode()[-2000:]}")
    return took


def launch(argv: list, cwd: str, env: dict, marker: str) -> tuple[float, float]:
    """Seconds from spawn to `on_execute` (by the wall clock), and to exit."""
    before = os.path.getsize(marker) if os.path.exists(marker) else 0
    wall = time.time()
    took = spawn(argv, cwd, env)
    with open(marker) as f:
        f.seek(before)
        stamps = [float(x) for x in f.read().split()]
    if len(stamps) != 1:
        raise RuntimeError(f"expected one execution, got {len(stamps)}: {argv}")
    return stamps[0] - wall, took


def commands(shown: str, round_: int) -> dict:
    py = sys.executable
    return {
        "import": [py, "-c", "import machinable"],
        "list": [py, "-m", "machinable", "list"],
        "show": [py, "-m", "machinable", "show", shown],
        "get --launch": [py, "-m", "machinable", "get", MODULE, f"lr={round_ + time.time_ns() % 10**9}e-12",
                         "seed=7", "--launch"],
    }


def importtime(project: str, shown: str, env: dict, top: int) -> None:
    for name, argv in commands(shown, 0).items():
        argv = [argv[0], "-X", "importtime", *argv[1:]]
        err = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True).stderr
        rows = []
        for line in err.splitlines():
            if line.startswith("import time:") and "|" in line and "cumulative" not in line:
                _, cumulative, module = line[len("import time:"):].split("|")
                rows.append((int(cumulative), module.rstrip()))
        tops = [row for row in rows if not row[1].startswith("   ")]  # imported by the command itself
        print(f"\n{name}: {len(rows)} modules, top-level imports by cumulative time (us):")
        for us, module in sorted(tops, reverse=True)[:top]:
            print(f"  {us:>8}  {module.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="experiments in the storage (default 10000)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cache", default=None, help="where the storage is kept (default /tmp/machinable-cli-startup-N-v2)")
    parser.add_argument("--importtime", action="store_true", help="also show what each command imports")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    args = parser.parse_args()

    cache = args.cache or f"/tmp/machinable-cli-startup-{args.n}-v2"
    project, shown = prepare(cache, args.n)
    marker = os.path.join(cache, "marker.txt")
    env = environment({"MACHINABLE_BENCH_MARKER": marker})
    for argv in commands(shown, -1).values():  # warm-up: page cache, index opened once
        launch(argv, project, env, marker) if "--launch" in argv else spawn(argv, project, env)

    samples: dict = {name: [] for name in [*commands(shown, 0), "get --launch (to exit)"]}
    for round_ in range(args.rounds):
        for name, argv in commands(shown, round_).items():
            if "--launch" in argv:
                executing, total = launch(argv, project, env, marker)
                samples[name].append(executing)
                samples["get --launch (to exit)"].append(total)
            else:
                samples[name].append(spawn(argv, project, env))

    base = statistics.median(samples["import"])
    targets = {"list": 1.5, "show": 1.5, "get --launch": 2.0}
    results = {}
    for name, xs in samples.items():
        median = statistics.median(xs)
        results[name] = {"median_ms": round(median * 1e3, 1), "ratio": round(median / base, 2),
                         "target": targets.get(name), "n": len(xs)}
    command = " ".join([os.path.basename(sys.executable), *sys.argv])
    if args.json:
        print(json.dumps({"experiments": args.n, "rounds": args.rounds, "command": command, "results": results}))
    else:
        print(f"{args.n} experiments, {args.rounds} rounds interleaved, medians from spawn "
              f"(get --launch: to on_execute); `{command}`")
        print(f"{'command':<24} {'median ms':>10} {'x import':>9} {'target':>7}")
        for name, row in results.items():
            target = f"<= {row['target']}" if row["target"] else ""
            verdict = "" if not row["target"] else ("ok" if row["ratio"] <= row["target"] else "MISSED")
            print(f"{name:<24} {row['median_ms']:>10} {row['ratio']:>9} {target:>7} {verdict}")
    if args.importtime:
        importtime(project, shown, env, top=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
