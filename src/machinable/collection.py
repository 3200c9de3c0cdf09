"""A list with the helpers analysis code wants: filter, map, pluck, first, tables, dataframes, and
replicates (`find("train").group_by_config()`: runs equal apart from the seed, with `.n`, `.config`,
`.seeds`, `.stats()` (mean, std and n of each summary metric) and `as_row()` for tables)."""

from __future__ import annotations

import math
from collections.abc import Mapping


class Collection(list):
    unreadable: list = []  # find(): the damaged experiments left out (machinable.opening.Unreadable)

    def filter(self, predicate) -> "Collection":
        return type(self)(item for item in self if predicate(item))

    def map(self, function) -> "Collection":
        return Collection(function(item) for item in self)

    def pluck(self, key: str) -> list:
        """The value of `key` (dotted paths into nested dicts/attributes allowed) of each item."""
        return [lookup(item, key) for item in self]

    def first(self, default=None):
        return self[0] if self else default

    def group_by_config(self) -> "Collection":
        """Replicates: runs whose configs are equal apart from the seed, grouped by module and identity (config
        and used elements), in order of each group's first member; each with mean ± std of its summaries."""
        groups: dict = {}
        for experiment in self:
            metadata = experiment.metadata()
            groups.setdefault((metadata["module"], metadata["identity"]), []).append(experiment)
        return Collection(Replicates(members) for members in groups.values())

    def rows(self) -> list[dict]:
        return [dict(item) if isinstance(item, Mapping) else item.as_row() for item in self]

    def as_dataframe(self):
        """The rows as a pandas DataFrame, times (`created`, `_timestamp`) as UTC datetimes. Mappings go in
        as they are (not copied: pandas does not change them)."""
        rows = [item if isinstance(item, Mapping) else {**item.as_row(), "created": getattr(item, "timestamp", None)}
                for item in self]
        return with_datetimes(pandas().DataFrame(rows))

    def as_table(self, title: str | None = None) -> str:
        """A text table of the rows, fitted to the terminal width."""
        from machinable import tables

        return tables.render(self.rows(), title)


def with_datetimes(frame):
    """`created` and `_timestamp` columns of Unix seconds as timezone-aware (UTC) datetimes."""
    for column in ("created", "_timestamp"):
        if column in frame.columns and frame[column].dtype.kind in "if":
            frame[column] = pandas().to_datetime(frame[column], unit="s", utc=True)
    return frame


def pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("DataFrames need pandas: pip install 'machinable[pandas]'") from None
    return pandas


def lookup(item, key: str):
    """The value at a dotted `key` through nested mappings and attributes (KeyError/AttributeError if missing)."""
    value = item
    for part in key.split("."):
        value = value[part] if isinstance(value, Mapping) else getattr(value, part)
    return value


class Replicates:
    """Runs of one module and config (and used elements) that differ only in their seed."""

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
