"""The runs table of `machinable list`: one column per config key or summary metric.

By default the config keys that differ among the listed runs (a sweep's axes), then the
summary metrics; `--columns alpha,summary.test_acc` chooses. `--csv` writes the same rows for
scripts (every config key and metric unless --columns is given).
"""

from __future__ import annotations

import csv
import io
import json

from machinable.config import flatten

FIXED = ("id", "status", "created")


def values(experiment) -> dict:
    """Every column an experiment can fill: its config keys, and `summary.<name>` of its metrics."""
    found = dict(flatten(experiment.config.to_dict()))
    found.update({f"summary.{name}": value for name, value in experiment.summary().items()})
    return found


def default_columns(table: list[dict]) -> list[str]:
    """The config keys whose values differ among the rows (all of them for one row), then the summary metrics."""
    keys: dict = {}
    for row in table:
        keys.update(dict.fromkeys(row))
    config = [key for key in keys if not key.startswith("summary.")]
    if len(table) > 1:
        config = [key for key in config if len({_same(row.get(key, _MISSING)) for row in table}) > 1]
    return config + [key for key in keys if key.startswith("summary.")]


def rows(experiments, columns: list[str] | None, fixed=FIXED) -> tuple[list[dict], list[str]]:
    """(the table's rows, the columns shown): the fixed columns, then the chosen (or default) ones."""
    from machinable.times import humanize

    table = [values(experiment) for experiment in experiments]
    shown = columns if columns is not None else default_columns(table)
    out = []
    for experiment, row in zip(experiments, table):
        base = {"id": experiment.experiment_id, "module": experiment.module, "status": experiment.status,
                "created": humanize(experiment.timestamp)}
        out.append({**{key: base[key] for key in fixed}, **{key: row[key] for key in shown if key in row}})
    return out, shown


def as_csv(experiments, columns: list[str] | None) -> str:
    """id, module, status, created (ISO 8601, UTC), then the columns (every key of every row by default)."""
    from machinable import times

    table = [values(experiment) for experiment in experiments]
    if columns is None:
        columns = list(dict.fromkeys(key for row in table for key in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "module", "status", "created", *columns])
    for experiment, row in zip(experiments, table):
        writer.writerow([experiment.experiment_id, experiment.module, experiment.status,
                         times.iso(experiment.timestamp), *(_csv(row.get(key, "")) for key in columns)])
    return buffer.getvalue()


def parse_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    columns = [column.strip() for column in text.split(",") if column.strip()]
    return columns or None


_MISSING = object()


def _same(value):
    """A hashable stand-in that is equal for values equality sees as equal (2 and 2.0; NaN and NaN)."""
    if value is _MISSING:
        return "\0missing"
    from machinable.conditions.model import normal

    return json.dumps(normal(value), sort_keys=True, default=str)


def _csv(value):
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else json.dumps(value)
