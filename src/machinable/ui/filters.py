"""The experiment list's filters, in the condition language every reader shares (`machinable.conditions`).

URL parameters: `where` (condition text, e.g. `alpha>=0.01 penalty!=l1`), `module`, `status`,
`group`, `since`/`until` (Unix seconds or ISO dates), `sort` (e.g. `-alpha,@created`) and
`q` (free text: a substring of the id, module, group or a `key=value` of the config).
"""

from __future__ import annotations

from dataclasses import dataclass

from machinable.conditions import Where, parse, parse_sort, where
from machinable.config import flatten
from machinable.errors import ConditionError

FilterError = ConditionError  # what the API answers with 400


@dataclass
class Filters:
    where: Where
    sort: list | None = None
    text: str | None = None

    @classmethod
    def from_query(cls, query: dict) -> "Filters":
        """From URL query parameters (each a list of strings, as `urllib.parse.parse_qs` gives them)."""

        def one(name):
            values = [v.strip() for v in query.get(name, []) if v.strip()]
            return values[-1] if values else None

        conditions = Where()
        for text in query.get("where", []):
            conditions &= parse(text)
        own: dict = {}
        for name in ("module", "status", "group"):
            if one(name) is not None:
                own["@" + name] = one(name)
        created = {op: one(name) for op, name in ((">=", "since"), ("<=", "until")) if one(name) is not None}
        if created:
            own["@created"] = {op: _number_or_text(value) for op, value in created.items()}
        sort = one("sort")
        return cls(where=conditions & where(own), sort=parse_sort(sort) if sort else None, text=one("q"))

    def matches_text(self, row: dict) -> bool:
        """Case-insensitive substring of the id, module, group or a `key=value` of the config."""
        if self.text is None:
            return True
        needle = self.text.lower()
        haystack = [row["id"], row["module"], row["group"]]
        haystack += [f"{key}={value}" for key, value in flatten(row["config"]).items()]
        return any(needle in str(item).lower() for item in haystack)


def _number_or_text(text: str):
    try:
        return float(text)
    except ValueError:
        return text
