"""Summary metrics: what an experiment came to, as one flat dict to filter, sort and compare runs by.

    self.summary["test_acc"] = 0.96          # set explicitly (stored at once, atomically)
    experiment.summary()                      # {"loss": 0.01, "epoch": 49, "val.acc": 0.9, "test_acc": 0.96}
    find(where="summary.test_acc>0.9", sort="-summary.test_acc")

`summary.json` holds the explicit values and, per record scope, the last value of every
numeric column, updated when a run's attempt ends (finished or failed). The summary is the
default scope's columns by name, other scopes' as `scope.column`, then the explicit values
(which win). It is indexed with the config, so `find()`, `machinable list` and the
dashboard use it like config keys (`summary.` in the condition language).
"""

from __future__ import annotations

import math
import os

from machinable.errors import StateError, ValidationError
from machinable.storage.files import read_json, write_json

FILE = "summary.json"


def read(directory: str) -> dict:
    """The stored summary file's content ({"values": ..., "records": ...}); empty if missing or damaged
    (it is derived data: a damaged file never makes the experiment unreadable)."""
    try:
        data = read_json(os.path.join(directory, FILE), None)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def flat(data: dict) -> dict:
    """The summary as one dict: record columns (default scope by name), then the explicit values."""
    out: dict = {}
    for scope, columns in sorted((data.get("records") or {}).items(), key=lambda item: item[0] != "default"):
        if isinstance(columns, dict):
            out.update({(column if scope == "default" else f"{scope}.{column}"): v for column, v in columns.items()})
    values = data.get("values")
    if isinstance(values, dict):
        out.update(values)
    return out


def last_values(rows) -> dict:
    """The last number (int or float, not bool) of every column of `rows`; `_`-columns are left out."""
    last: dict = {}
    for row in rows:
        for column, value in row.items():
            if not column.startswith("_") and isinstance(value, (int, float)) and not isinstance(value, bool):
                last[column] = value
    return last


class Summary:
    """`experiment.summary`: call it for the dict, or set values like a dict's."""

    def __init__(self, experiment):
        self._experiment = experiment

    def __call__(self) -> dict:
        if not self._experiment.is_committed():
            return {}
        return flat(read(self._experiment.local_directory()))

    def __getitem__(self, key: str):
        return self()[key]

    def get(self, key: str, default=None):
        return self().get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self()

    def __setitem__(self, key: str, value) -> None:
        self.update({key: value})

    def update(self, values: dict) -> None:
        """Store these explicit values (numbers, texts, bools, None or lists of them), merged into the summary."""
        experiment = self._experiment
        if not experiment.is_committed():
            raise StateError(f"{experiment} is not committed yet; launch() or commit() it before setting its summary.")
        for key, value in values.items():
            _check(key, value)
        data = read(experiment.local_directory())
        data["values"] = {**(data.get("values") or {}), **values}
        _store(experiment, data)

    def __repr__(self) -> str:
        return f"Summary({self()!r})"


def close_attempt(experiment, scopes) -> None:
    """At the end of an attempt: the last values of the record columns it wrote, per scope, merged in."""
    from machinable.records import Rows, segment

    number = experiment._attempt.number if experiment._attempt is not None else None
    data = read(experiment.local_directory())
    records = dict(data.get("records") or {})
    for scope in scopes:
        last = last_values(Rows(experiment.local_directory(segment("records", scope, number))))
        if last:
            records[scope] = {**(records.get(scope) or {}), **last}
    if records != (data.get("records") or {}):
        data["records"] = records
        _store(experiment, data)


def _store(experiment, data: dict) -> None:
    write_json(experiment._file(FILE), data, experiment._check())
    experiment.storage.index_summary(experiment.experiment_id, flat(data))


def _check(key, value) -> None:
    if not isinstance(key, str) or not key or key.startswith("_"):
        raise ValidationError(f"A summary key is a non-empty text not starting with '_', not {key!r}.")
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            continue
        if not isinstance(item, (int, float, str, bool, type(None))):
            raise ValidationError(
                f"The summary value of {key!r} must be a number, text, bool, None or a list of them, not {value!r}."
            )
