"""Replicates: runs whose configs are equal apart from the seed, grouped, with mean ± std of their summaries.

    find("train").group_by_config()            # a Collection of Replicates, largest config first
    group.experiments, group.n, group.config   # the runs, how many, their shared config
    group.stats()                              # {"test_acc": {"mean": .., "std": .., "n": ..}, ...}
"""

from __future__ import annotations

import math

from machinable.collection import Collection


class Replicates:
    def __init__(self, experiments: list):
        self.experiments = Collection(experiments)

    @property
    def n(self) -> int:
        return len(self.experiments)

    @property
    def module(self) -> str:
        return self.experiments[0].module

    @property
    def config(self) -> dict:
        return self.experiments[0].config.to_dict()

    @property
    def seeds(self) -> list[int]:
        return [experiment.seed for experiment in self.experiments]

    def stats(self) -> dict:
        """Per numeric summary metric: mean, sample standard deviation (0 for one run) and n (runs that have it)."""
        values: dict = {}
        for experiment in self.experiments:
            for name, value in experiment.summary().items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    values.setdefault(name, []).append(value)
        return {name: _stats(numbers) for name, numbers in values.items()}

    def as_row(self) -> dict:
        """For tables and frames: module, n, the config, then each metric's mean and std (`<metric> ±`)."""
        from machinable.config import flatten

        row = {"module": self.module, "n": self.n, **flatten(self.config)}
        for name, stat in self.stats().items():
            row[f"summary.{name}"] = stat["mean"]
            row[f"summary.{name} ±"] = stat["std"]
        return row

    def __repr__(self) -> str:
        return f"Replicates({self.module}, n={self.n}, seeds={self.seeds})"


def _stats(numbers: list) -> dict:
    mean = sum(numbers) / len(numbers)
    variance = sum((x - mean) ** 2 for x in numbers) / (len(numbers) - 1) if len(numbers) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(variance), "n": len(numbers)}


def group_by_config(experiments) -> Collection:
    """The experiments grouped by module and identity (config and used elements; not the seed), in order of
    each group's first member."""
    groups: dict = {}
    for experiment in experiments:
        metadata = experiment.metadata()
        groups.setdefault((metadata["module"], metadata["identity"]), []).append(experiment)
    return Collection(Replicates(members) for members in groups.values())
