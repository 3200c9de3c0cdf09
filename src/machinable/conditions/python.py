"""The Python form of conditions: `{"lr": {"<": 0.1}, "model": {"depth": 3}}`, lists for OR."""

from __future__ import annotations

from machinable.conditions import text
from machinable.conditions.model import OPERATORS, SUMMARY, Condition, Where, make, summary_key
from machinable.errors import ConditionError

def where(spec) -> Where:
    """A `Where` from the Python form, the text form, a list of either (OR), or a `Where`."""
    if spec is None:
        return Where()
    if isinstance(spec, Where):
        return spec
    if isinstance(spec, str):
        return text.parse(spec)
    if isinstance(spec, dict):
        return Where((tuple(_from_dict(spec, ())),))
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ConditionError("An empty list of conditions matches nothing; give None to match everything.")
        return Where(tuple(group for item in spec for group in where(item).groups))
    raise ConditionError(
        f"Conditions must be a dict, a text or a list of them, not {type(spec).__name__}; "
        "e.g. where={'lr': {'<': 0.1}} or where='lr<0.1'."
    )


def _from_dict(spec: dict, prefix: tuple):
    for name, value in spec.items():
        if not isinstance(name, str):
            raise ConditionError(f"Condition key {name!r} is not a string.")
        key = prefix + tuple(name.split("."))
        if not prefix:
            key = summary_key(key) if len(key) > 1 else key
            if key == ("summary",) and isinstance(value, dict) and not _operators(value):
                yield from _from_dict(value, (SUMMARY,))
                continue
        if not prefix and name.startswith("@"):
            yield from _field_conditions(name[1:], value)
        elif _operators(value):
            for op, operand in value.items():
                yield make(key, "=" if op == "==" else op, operand)
        elif isinstance(value, dict) and value:
            yield from _from_dict(value, key)
        elif callable(value):
            yield Condition(key, "?", value)
        else:
            yield make(key, "=", value)


def _field_conditions(field: str, value):
    if _operators(value):
        for op, operand in value.items():
            yield make((field,), "=" if op == "==" else op, operand, field=field)
    else:
        yield make((field,), "=", value, field=field)


def _operators(value) -> bool:
    """Whether a dict is operators and operands (`{"<": 0.1}`) rather than nested config keys:
    one operator among its keys makes it so (and the others, if not operators, errors)."""
    return isinstance(value, dict) and any(op in OPERATORS or op == "==" for op in value)
