"""Conditions on stored experiments: the model shared by the Python and the text form (see the package)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from machinable.errors import ConditionError

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "exists", "missing")
ORDERING = ("<", "<=", ">", ">=")
FIELDS = ("status", "module", "group", "id", "ancestor", "created", "seed")
STATUSES = ("committed", "running", "finished", "failed", "died")
INT64 = 2**63
SUMMARY = "\ufdd0summary"  # the root of summary-metric keys (`summary.test_acc`), apart from config keys


@dataclass(frozen=True)
class Condition:
    """One condition: `key` is the path of config keys, or `(field,)` with `field` set."""

    key: tuple
    operator: str
    value: object = None  # a tuple of values for `in`; a callable for a predicate (operator "?")
    text: object = None  # as typed (str; a tuple for `in`): also matched as a string
    field: str | None = None

    @property
    def name(self) -> str:
        return "@" + self.field if self.field else display(self.key)

    def holds(self, config: dict, fields: dict) -> bool:
        """Whether the condition holds for an experiment's config and fields (`status` may be a callable)."""
        if self.field is not None:
            value = fields.get(self.field)
            if callable(value):
                value = value()
            found = value is not None
        elif self.key[0] == SUMMARY:
            summary = fields.get("summary") or {}
            found, value = lookup_flat(summary() if callable(summary) else summary, ".".join(self.key[1:]))
        else:
            found, value = lookup(config, self.key)
        if self.operator == "exists":
            return found
        if self.operator == "missing":
            return not found
        if not found or (isinstance(value, dict) and value):
            return False
        if self.operator == "?":
            try:
                return bool(self.value(value))
            except Exception:
                return False
        if self.operator in ("=", "!="):
            return equal(value, self.value, self.text) == (self.operator == "=")
        if self.operator == "in":
            texts = self.text or (None,) * len(self.value)
            return any(equal(value, item, text) for item, text in zip(self.value, texts))
        return ordered(value, self.operator, self.value)


@dataclass(frozen=True)
class Where:
    """Conditions in disjunctive normal form: any group holds when all its conditions hold."""

    groups: tuple = ((),)

    def __and__(self, other: "Where") -> "Where":
        return Where(tuple(a + b for a in self.groups for b in other.groups))

    def __bool__(self) -> bool:
        return self.groups != ((),)

    def matches(self, config: dict, **fields) -> bool:
        return any(all(condition.holds(config, fields) for condition in group) for group in self.groups)

    def conditions(self):
        for group in self.groups:
            yield from group

    def on(self, field: str) -> bool:
        return any(condition.field == field for condition in self.conditions())


def display(key: tuple) -> str:
    return ".".join(("summary", *key[1:]) if key[0] == SUMMARY else key)


def summary_key(key: tuple) -> tuple:
    """A key whose first part is `summary` names a summary metric."""
    return (SUMMARY, *key[1:]) if key[0] == "summary" and len(key) > 1 else key


def lookup_flat(flat: dict, name: str) -> tuple[bool, object]:
    """A value of a flat dict with dotted names (the summary); a prefix of names exists as a dict."""
    if name in flat:
        return True, flat[name]
    below = {key[len(name) + 1:]: value for key, value in flat.items() if key.startswith(name + ".")}
    return bool(below), below


def lookup(config, key: tuple) -> tuple[bool, object]:
    value = config
    for part in key:
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def normal(value):
    """A value as equality sees it: integral floats as ints (2.0 is 2), NaN as one token."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "\ufdd0" + repr(value)
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    if isinstance(value, dict):
        return {key: normal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [normal(item) for item in value]
    return value


def kind(value) -> str:
    """b(ool), n(umber), s(tring), z (None), j(son: lists and dicts), or ? (nothing a config holds)."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, (int, float)):
        return "n"
    if isinstance(value, str):
        return "s"
    if value is None:
        return "z"
    return "j" if isinstance(value, (list, tuple, dict)) else "?"


def equal(value, wanted, text=None) -> bool:
    if text is not None and isinstance(value, str) and value == text:
        return True
    if kind(value) != kind(wanted):
        return False
    if kind(value) == "n":
        return value == wanted or (math.isnan(value) and math.isnan(wanted))
    return normal(value) == normal(wanted)


def ordered(value, operator: str, bound) -> bool:
    if kind(value) != kind(bound) or kind(value) not in "ns" or value != value:
        return False
    return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}[operator]


def make(key: tuple, operator: str, value=None, text=None, field: str | None = None) -> Condition:
    """A checked condition; raises ConditionError naming what is wrong."""
    name = "@" + field if field else display(key)
    if field is not None and field not in FIELDS:
        raise ConditionError(f"Unknown field '@{field}'; the fields are {', '.join('@' + f for f in FIELDS)}.")
    if any(not part for part in key):
        raise ConditionError(f"The key '{name}' has an empty part.")
    if operator not in OPERATORS:
        raise ConditionError(f"Unknown operator {operator!r} for '{name}'; use one of {', '.join(OPERATORS)}.")
    if operator in ("exists", "missing"):
        if value not in (None, True, False):
            raise ConditionError(f"'{name} {operator}' takes no value (or True/False), not {value!r}.")
        if value is False:
            operator = "missing" if operator == "exists" else "exists"
        return Condition(key, operator, None, None, field)
    if operator == "in":
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise ConditionError(f"'{name} in' needs a list of values, e.g. [1, 2], not {value!r}.")
        values = tuple(_field_value(field, item, name) for item in value)
        texts = tuple(text) if text is not None else None
        return Condition(key, "in", values, texts, field)
    value = _field_value(field, value, name)
    if operator in ORDERING and not (kind(value) in "ns" and value == value):
        raise ConditionError(
            f"'{name}{operator}{value!r}': only numbers and strings can be ordered (and NaN cannot; use {name}=nan)."
        )
    return Condition(key, operator, value, text, field)


def _field_value(field, value, name: str):
    if field == "created":
        return _time(value, name)
    if field == "status" and value not in STATUSES:
        raise ConditionError(f"Unknown status {value!r} in '{name}'; use one of {', '.join(STATUSES)}.")
    if field == "seed" and kind(value) != "n":
        raise ConditionError(f"'{name}' compares with a number, not {value!r}.")
    if field in ("module", "group", "id", "ancestor") and not isinstance(value, str):
        raise ConditionError(f"'{name}' compares with a text, not {value!r}.")
    if kind(value) == "j":
        try:
            _check_json(value)
        except (TypeError, ValueError, RecursionError) as error:
            raise ConditionError(f"The value of '{name}' cannot be compared: {error}.") from None
    elif not isinstance(value, (bool, int, float, str, type(None))):
        raise ConditionError(f"The value of '{name}' must be a number, text, bool, None or a list, not {value!r}.")
    return value


def _check_json(value) -> None:
    import json

    json.dumps(normal(value), allow_nan=False, sort_keys=True)


def _time(value, name: str) -> float:
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        import arrow

        try:
            return arrow.get(value).timestamp()
        except (ValueError, TypeError):
            pass
    raise ConditionError(f"'{name}': {value!r} is not a time; give Unix seconds or an ISO date such as 2026-11-27T10:00.")
