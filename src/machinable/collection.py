"""A list with the helpers analysis code wants: filter, map, pluck, first, tables, dataframes."""

from __future__ import annotations

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
        """Replicates: the experiments whose configs are equal apart from the seed, grouped (see `machinable.replicates`)."""
        from machinable.replicates import group_by_config

        return group_by_config(self)

    def rows(self) -> list[dict]:
        return [dict(item) if isinstance(item, Mapping) else item.as_row() for item in self]

    def as_dataframe(self):
        """The rows as a pandas DataFrame (the items themselves, not copies: pandas does not change them)."""
        return pandas().DataFrame([item if isinstance(item, Mapping) else item.as_row() for item in self])

    def as_table(self, title: str | None = None) -> str:
        """A text table of the rows, fitted to the terminal width."""
        from machinable import tables

        return tables.render(self.rows(), title)


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
