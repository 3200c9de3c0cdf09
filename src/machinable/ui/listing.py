"""One page of the experiment list: filtered, sorted and cut out inside the storage's index.

    rows, total, unreadable, configs = page(storage, Filters.from_query(query), 0, 50, summary)
    columns(configs, [row["summary"] for row in rows])   # the config keys and summary metrics as columns

The conditions and the order run in SQL (`Storage.select`/`count`), the status as the index
records it when runs start and end; only the experiments of the page are opened. What SQL cannot
decide exactly (running or died, the free text `q`, integers beyond 64 bits) is checked
experiment by experiment over every candidate, to count them.
"""

from __future__ import annotations

import json

from machinable.opening import Unreadable, open_stored
from machinable.query import fields
from machinable.ui.filters import Filters

KEY_STOP = set("=!<>.[]\"'(),") | {" ", "\t", "\n", "\r"}
MOST_COLUMNS = 12  # config keys shown as columns
MOST_METRICS = 8  # summary metrics shown as columns


def page(storage, filters: Filters, offset: int, limit: int, summary) -> tuple[list, int, list, list]:
    """(rows of the page as `summary(experiment)` gives them, how many pass the filters, the
    unreadable experiments met, the configs of the rows as nested dicts). Each row also has the
    experiment's summary metrics (`summary`)."""
    shown, unreadable, configs = [], [], []
    if filters.text is None:
        directories, exact = storage.select(filters.where, filters.sort, offset, limit)
        if exact:
            for directory in directories:
                experiment = open_stored(storage, directory, load_class=False)
                if isinstance(experiment, Unreadable):
                    unreadable.append(experiment.as_dict())
                else:
                    shown.append({**summary(experiment), "summary": experiment.summary()})
                    configs.append(experiment.config.to_dict())
            return shown, storage.count(filters.where), unreadable, configs
    total = 0
    for directory in storage.select(filters.where, filters.sort)[0]:
        experiment = open_stored(storage, directory, load_class=False)
        if isinstance(experiment, Unreadable):
            unreadable.append(experiment.as_dict())
            continue
        if not filters.where.matches(experiment.config.to_dict(), **fields(experiment)):
            continue
        if filters.text is not None or offset <= total < offset + limit:
            row = summary(experiment)
            if not filters.matches_text(row):
                continue
            if offset <= total < offset + limit:
                shown.append({**row, "summary": experiment.summary()})
                configs.append(experiment.config.to_dict())
        total += 1
    return shown, total, unreadable, configs


def columns(configs, summaries=(), most: int = MOST_COLUMNS, metrics: int = MOST_METRICS, chosen=None) -> list[dict]:
    """The config keys that differ among these (nested) configs (all of them if none differ) and the
    names of these summary metrics as list columns: {"key": the name as the rows spell it (dotted config key, or `summary.<name>`), "sort":
    the column as the sort order (`?sort=`) writes it, and "metric": the metric's name, for metrics}.
    `chosen` (dotted config keys and `summary.<name>`) replaces the defaults."""
    if chosen is not None:
        return [{"key": name, "sort": name, **({"metric": name[len("summary."):]} if name.startswith("summary.") else {})}
                for name in chosen]
    values: dict = {}  # every key path, with the values the rows have there
    for config in configs:
        for path, value in _leaves(config):
            values.setdefault(path, []).append(json.dumps(value, sort_keys=True, default=str))
    differing = [path for path, seen in values.items() if len(set(seen)) > 1 or len(seen) < len(configs)]
    found = dict.fromkeys((differing or list(values))[:most])  # the keys that tell the rows apart first
    named: dict = {}
    for values in summaries:
        for name in values:
            if len(named) >= metrics:
                break
            named.setdefault(name, None)
    return [{"key": ".".join(path), "sort": sort_text(path)} for path in found] + [
        {"key": f"summary.{name}", "sort": sort_text(("summary", *name.split("."))), "metric": name} for name in named
    ]


def _leaves(config: dict, prefix: tuple = ()):
    """(key path, value) of every leaf of a nested config."""
    for name, value in config.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, prefix + (str(name),))
        else:
            yield prefix + (str(name),), value


def sort_text(path) -> str:
    """A key path as the condition language writes it: bare parts where it can, "quoted" otherwise."""
    parts = []
    for part in path:
        bare = part and not (set(part) & KEY_STOP) and part[0] not in "@-+"
        parts.append(part if bare else json.dumps(part, ensure_ascii=False))
    return ".".join(parts)
