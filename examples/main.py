"""The example project end to end: run `python main.py` from this directory.

Running it again does no work: every experiment is found in ./storage and only
the results are shown.
"""

from machinable import find, get

# The seed page: run an experiment, then find it again by its config.
experiment = get("estimate_gravity")
experiment.launch()
print("finished:", experiment.is_finished(), "| id", experiment.experiment_id, "| seed", experiment.seed)

# A custom execution: three Monte-Carlo estimates of pi, two worker processes.
multiprocessing = get("multiprocess_execution", {"processes": 2})
with multiprocessing:
    for samples in (10_000, 100_000, 1_000_000):
        get("monte_carlo_pi", {"samples": samples}).launch()

# Analysis code is the same code: get() returns the stored experiments.
for samples in (10_000, 100_000, 1_000_000):
    pi = get("monte_carlo_pi", {"samples": samples})
    print(f"{samples:>9} samples: pi = {pi.load_data('result.json')['pi']:.5f}",
          f"| last batch estimates {pi.records().pluck('estimate')[-3:]}",
          f"| finished {pi.finished_at().humanize()} by {pi.execution.nickname}")

print(find("monte_carlo_pi").as_table(title="Monte-Carlo experiments in ./storage"))

# Replicates: the same config with three seeds; grouped, each config shows its runs' mean ± std.
for seed in (1, 2, 3):
    get("monte_carlo_pi", {"samples": 10_000}, seed=seed).launch()
for group in find("monte_carlo_pi", where="samples=10000").group_by_config():
    estimate = group.stats()["estimate"]  # over the runs' summary metric: the records' last estimate
    print(f"Replicates of samples={group.config['samples']}: n={group.n} seeds, "
          f"pi = {estimate['mean']:.4f} ± {estimate['std']:.4f}")
# The runs table: the config keys that differ, then each run's summary metrics (the last estimate).
import subprocess  # noqa: E402  (the command line, as you would type it)
import sys  # noqa: E402

print("$ machinable list monte_carlo_pi --columns samples,summary.estimate --sort -summary.estimate --all", flush=True)
subprocess.run([sys.executable, "-m", "machinable", "list", "monte_carlo_pi", "--columns", "samples,summary.estimate",
                "--sort", "-summary.estimate", "--all"], check=True)
print("Browse them in the dashboard: machinable ui   (or: machinable list / machinable show ID)")
