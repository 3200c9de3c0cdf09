"""One page of the experiment list: filtered, sorted and cut out on the server.

    page = select(storage, Filters.from_query(query), Order.from_query(query), offset=0, limit=50)
    page.entries   # catalog entries of the rows shown, in order
    page.total     # how many experiments pass the filters

The page's rows are the only experiments whose files are opened; everything else comes from the
storage's index (`stored.catalog`), except the filters the index cannot answer (status, times),
which open the experiments they have to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from machinable.config import flatten
from machinable.opening import Unreadable
from machinable.ui import stored
from machinable.ui.filters import FilterError, Filters

COLUMNS = ("created", "id", "module", "group")  # besides config keys, written `config.<dotted key>`
CONFIG = "config."


@dataclass(frozen=True)
class Order:
    """Sort by `key` (one of COLUMNS or `config.<key>`), newest/highest first if `descending`.

    Ties fall back to created (newest first), then id; rows without the config key come last
    either way.
    """

    key: str = "created"
    descending: bool = True

    @classmethod
    def from_query(cls, query: dict) -> "Order":
        key = ((query.get("sort") or [""])[-1] or "created").strip()
        order = ((query.get("order") or [""])[-1] or ("desc" if key == "created" else "asc")).strip().lower()
        if key not in COLUMNS and not (key.startswith(CONFIG) and len(key) > len(CONFIG)):
            raise FilterError(f"Cannot sort by {key!r}: use {', '.join(COLUMNS)} or config.<key> (e.g. config.lr).")
        if order not in ("asc", "desc"):
            raise FilterError(f"order={order!r}: use asc or desc.")
        return cls(key, order == "desc")

    @property
    def config_key(self) -> str | None:
        return self.key[len(CONFIG):] if self.key.startswith(CONFIG) else None

    def as_dict(self) -> dict:
        return {"sort": self.key, "order": "desc" if self.descending else "asc"}


@dataclass
class Page:
    entries: list  # opened experiments of the rows shown
    total: int
    unreadable: list = field(default_factory=list)


def select(storage, filters: Filters, order: Order, offset: int, limit: int, everything=None) -> Page:
    """The experiments passing `filters`, sorted by `order`, rows offset..offset+limit, opened."""
    everything = stored.catalog(storage) if everything is None else everything  # newest first
    candidates = [entry for entry in everything if filters.matches(entry)]
    unreadable = []
    if filters.timed or filters.status is not None:  # what the index does not hold: open each candidate
        kept = []
        for entry in candidates:
            experiment = stored.open_entry(storage, entry)
            if isinstance(experiment, Unreadable):
                unreadable.append(experiment.as_dict())
            elif experiment is not None and filters.matches_time(experiment.timestamp) \
                    and filters.matches_status(experiment.status):
                kept.append(entry)
        candidates = kept
    ordered = sort(candidates, order)
    shown = []
    for entry in ordered[offset:offset + limit]:
        experiment = stored.open_entry(storage, entry)
        if isinstance(experiment, Unreadable):
            unreadable.append(experiment.as_dict())
        elif experiment is not None:
            shown.append(experiment)
    return Page(shown, len(candidates), unreadable)


def sort(entries: list, order: Order) -> list:
    """`entries` (newest first, as the catalog gives them) sorted by `order`; a stable sort keeps
    created-newest-first among equal values."""
    key = order.config_key
    if key is None:
        if order.key == "created":
            return list(reversed(entries)) if not order.descending else list(entries)
        field_name = {"id": "experiment_id"}.get(order.key, order.key)
        return sorted(entries, key=lambda entry: entry[field_name], reverse=order.descending)
    present, missing = [], []
    for entry in entries:
        found, value = lookup(entry["config"], key)
        (present if found else missing).append((rank(value), entry))
    present.sort(key=lambda pair: pair[0], reverse=order.descending)
    return [entry for _, entry in present] + [entry for _, entry in missing]


def lookup(config: dict, key: str) -> tuple[bool, object]:
    """The value at a dotted key, or at the key as written if the config has it flat."""
    if key in config:
        return True, config[key]
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def rank(value) -> tuple:
    """A sort key comparing any config values: null < booleans < numbers (NaN last) < text < the rest."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (3, 0) if isinstance(value, float) and math.isnan(value) else (2, value)
    if isinstance(value, str):
        return (4, value)
    return (5, repr(value))


def config_keys(experiments: list, order: Order, most: int = 12) -> list[str]:
    """The config keys shown as columns: the sorted-by key first, then those of the rows shown."""
    keys: dict = {}
    if order.config_key is not None:
        keys[order.config_key] = None
    for experiment in experiments:
        for key in flatten(experiment.config.to_dict()):
            keys.setdefault(key, None)
    return list(keys)[:most]
