"""Sweeps and searches over experiments: `Sweep` (grid, zipped, random points), `Search` (Optuna), the
override syntax of Hydra's multirun (`machinable.sweep.overrides`) and the stored sweep element."""

from machinable.sweep.space import Distribution, Space, choice, loguniform, randint, uniform
from machinable.sweep.sweep import Plan, Sweep

__all__ = ["Distribution", "Plan", "Search", "Space", "Sweep", "choice", "loguniform", "randint", "uniform"]


def __getattr__(name):
    if name == "Search":  # imports optuna only when asked for
        from machinable.sweep.search import Search

        return Search
    raise AttributeError(f"module 'machinable.sweep' has no attribute {name!r}")
