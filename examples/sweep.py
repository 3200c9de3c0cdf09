"""A sweep over the Monte-Carlo estimate of pi: run `python sweep.py` from this directory.

Every point is an experiment found by its config: running the script again (or after killing it
halfway) runs only the points that did not finish. The same from the command line:

    machinable sweep monte_carlo_pi samples=20000,200000 'batches=range(2,5)' --dry-run
"""

import math

from machinable import find, get
from machinable.sweep import Sweep

sweep = Sweep("monte_carlo_pi", {"samples": [20_000, 200_000], "batches": range(2, 5)})
plan = sweep.plan()
print(f"{len(plan.to_run())} of {len(plan)} points to run ({plan.counts()})")

with get("machinable.execution.multiprocess", {"processes": 2}):
    sweep.launch()

print(f"sweep {sweep.sweep_id}:")
for experiment in find(sweep=sweep.sweep_id, sort="samples,batches"):
    estimate = experiment.summary()["estimate"]  # the last value of the records' estimate column
    print(f"  {experiment.config.samples:>7} samples in {experiment.config.batches} batches: "
          f"pi = {estimate:.4f} (error {abs(estimate - math.pi):.4f})")
