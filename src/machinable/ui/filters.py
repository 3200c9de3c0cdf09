"""The experiment list's filters: module, status, config values (key=value), group, time and free text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from machinable.config import flatten
from machinable.query import STATUSES


class FilterError(ValueError):
    """A filter parameter cannot be understood; the message says how to write it."""


@dataclass
class Filters:
    module: str | None = None
    status: str | None = None
    group: str | None = None
    where: list = field(default_factory=list)  # [(dotted key, raw value text)]
    text: str | None = None
    since: float | None = None  # created at or after (Unix seconds)
    until: float | None = None  # created at or before

    @classmethod
    def from_query(cls, query: dict) -> "Filters":
        """From URL query parameters (each a list of strings, as `urllib.parse.parse_qs` gives them)."""

        def one(name):
            values = [v.strip() for v in query.get(name, []) if v.strip()]
            return values[-1] if values else None

        status = one("status")
        if status is not None and status not in STATUSES:
            raise FilterError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
        where = []
        for text in query.get("where", []):
            for pair in text.split():
                where.append(parse_pair(pair))
        return cls(
            module=one("module"),
            status=status,
            group=one("group"),
            where=where,
            text=one("q"),
            since=parse_time(one("since"), "since"),
            until=parse_time(one("until"), "until"),
        )

    def matches(self, entry: dict) -> bool:
        """Module, group, config values and text: what an index entry (or metadata) tells."""
        if self.module is not None and entry["module"] != self.module:
            return False
        if self.group is not None and entry["group"] != self.group:
            return False
        for key, raw in self.where:
            found, value = lookup(entry["config"], key)
            if not found or not value_matches(value, raw):
                return False
        return self.text is None or text_matches(entry, self.text)

    @property
    def timed(self) -> bool:
        return self.since is not None or self.until is not None

    def matches_time(self, timestamp: float) -> bool:
        """Created (the experiment's `timestamp`, as `created_at()`) within since..until."""
        return (self.since is None or timestamp >= self.since) and (self.until is None or timestamp <= self.until)

    def matches_status(self, status: str) -> bool:
        return self.status is None or status == self.status


def parse_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise FilterError(f"Config filter {text!r} is not key=value; write e.g. time_dilation=2 or model.lr=0.1.")
    return key, value


def parse_time(text: str | None, name: str) -> float | None:
    """Unix seconds, or an ISO 8601 date/time such as 2026-11-27 or 2026-11-27T10:00:00+00:00."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            return number
    import arrow

    try:
        return arrow.get(text).timestamp()
    except (ValueError, TypeError):  # arrow's ParserError is a ValueError
        raise FilterError(
            f"{name}={text!r} is not a time: give Unix seconds or an ISO date such as 2026-11-27T10:00."
        ) from None


def lookup(config: dict, key: str) -> tuple[bool, object]:
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def value_matches(value, raw: str) -> bool:
    """Does config `value` equal the filter text `raw`, read as `machinable list --where` reads it?

    `2` matches 2 and 2.0, `true` matches True, and a text value also matches its literal
    spelling (`name=2017` finds the string '2017').
    """
    from machinable.cli import parse_value

    parsed = parse_value(raw)
    if isinstance(value, str):
        return value == raw or value == parsed
    if isinstance(value, bool) or isinstance(parsed, bool):
        return type(value) is type(parsed) and value == parsed
    try:
        return value == parsed
    except Exception:
        return False


def text_matches(metadata: dict, text: str) -> bool:
    """Case-insensitive substring of the id, module, group or a `key=value` of the config."""
    needle = text.lower()
    haystack = [metadata["experiment_id"], metadata["module"], metadata["group"]]
    haystack += [f"{key}={value}" for key, value in flatten(metadata["config"]).items()]
    return any(needle in str(item).lower() for item in haystack)
