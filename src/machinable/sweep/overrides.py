"""Hydra's multirun override syntax, as the sweep's space and fixed values:

    lr=0.1,0.01                 a list to sweep            epochs=range(1,4)     1, 2, 3 (stop excluded)
    opt=choice(sgd,adam)        a list to sweep            model.depth=3         a fixed value
    lr=interval(0,1)            uniform draws              n=int(interval(1,9))  whole-number draws
    lr=tag(log,interval(1e-4,1e-1))  log-uniform draws (with --samples N, --sampler-seed S)

Values read as in Hydra: `1` an int, `0.1` a float, `true`/`false`, `null`, quoted text as it is,
anything else text; `[1,2]` one list value. A malformed override is a ValidationError naming it.
"""

from __future__ import annotations

from machinable.errors import ValidationError
from machinable.sweep.space import Distribution

FUNCTIONS = ("range", "choice", "interval", "int", "tag")


def parse(overrides) -> tuple[dict, dict]:
    """(space, fixed): the keys to sweep or sample, and the keys set to one value."""
    space: dict = {}
    fixed: dict = {}
    for override in overrides:
        key, value = _split(override)
        if key in space or key in fixed:
            raise ValidationError(f"Override {override!r}: '{key}' is given twice.")
        parsed = _value(value, override)
        if isinstance(parsed, Swept):
            space[key] = parsed.values
        else:
            fixed[key] = parsed
    return space, fixed


class Swept:
    """Values to sweep (a list) or draw (a Distribution)."""

    def __init__(self, values):
        self.values = values


def _split(override: str) -> tuple[str, str]:
    if not isinstance(override, str) or "=" not in override:
        raise ValidationError(f"Override {override!r} is not key=value (e.g. lr=0.1,0.01 or 'epochs=range(1,4)').")
    key, _, value = override.partition("=")
    key = key.strip()
    if key[:1] in ("+", "~"):
        raise ValidationError(f"Override {override!r}: Hydra's '{key[0]}' prefix is not supported; set config keys.")
    if not key or not all(part.isidentifier() for part in key.split(".")):
        raise ValidationError(f"Override {override!r}: {key!r} is not a config key such as 'lr' or 'model.depth'.")
    if not value.strip():
        raise ValidationError(f"Override {override!r} has no value after '='.")
    return key, value.strip()


def _value(text: str, override: str):
    items = _top_level(text, ",", override)
    if len(items) > 1:
        values = [_scalar_or_call(item, override) for item in items]
        if any(isinstance(v, Swept) for v in values):
            raise ValidationError(f"Override {override!r}: a list of values cannot contain a sweep function.")
        return Swept(values)
    return _scalar_or_call(text, override)


def _scalar_or_call(text: str, override: str):
    text = text.strip()
    name, paren, rest = text.partition("(")
    if paren and name.strip().isidentifier() and text.endswith(")"):
        return _call(name.strip(), rest[:-1], override)
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(item, override) for item in _top_level(inner, ",", override)] if inner else []
    return _scalar(text, override)


def _call(name: str, inner: str, override: str):
    args = _top_level(inner, ",", override) if inner.strip() else []
    if name not in FUNCTIONS:
        raise ValidationError(f"Override {override!r}: unknown function {name}(); known: {', '.join(FUNCTIONS)}.")
    if name == "choice":
        if not args:
            raise ValidationError(f"Override {override!r}: choice() needs at least one value.")
        return Swept([_scalar(a, override) for a in args])
    if name == "range":
        numbers = [_number(a, override) for a in args]
        if not 1 <= len(numbers) <= 3 or (len(numbers) == 3 and numbers[2] == 0):
            raise ValidationError(f"Override {override!r}: range(start, stop[, step]) takes 1 to 3 numbers, step not 0.")
        start, stop, step = (0, numbers[0], 1) if len(numbers) == 1 else (*numbers[:2], numbers[2] if len(numbers) == 3 else 1)
        values, value = [], start
        while (step > 0 and value < stop) or (step < 0 and value > stop):
            values.append(value)
            value = start + step * len(values)
        if not values:
            raise ValidationError(f"Override {override!r}: {name}({inner}) is empty.")
        return Swept(values)
    if name == "interval":
        if len(args) != 2:
            raise ValidationError(f"Override {override!r}: interval(low, high) takes two numbers.")
        return Swept(Distribution("uniform", *(float(_number(a, override)) for a in args)))
    inner_value = _scalar_or_call(inner, override) if name == "int" else _scalar_or_call(args[-1] if args else "", override)
    dist = inner_value.values if isinstance(inner_value, Swept) else None
    if not isinstance(dist, Distribution) or dist.kind != "uniform":
        raise ValidationError(f"Override {override!r}: {name}() takes an interval(low, high), e.g. {name}("
                              + ("interval(1,9))." if name == "int" else "log,interval(1e-4,1e-1))."))
    low, high = dist.args
    if name == "int":
        return Swept(Distribution("randint", int(low), int(high)))
    if [a.strip() for a in args[:-1]] != ["log"]:
        raise ValidationError(f"Override {override!r}: the only tag is log, as in tag(log,interval(1e-4,1e-1)).")
    return Swept(Distribution("loguniform", low, high))


def _number(text: str, override: str):
    value = _scalar(text, override)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"Override {override!r}: {text.strip()!r} is not a number.")
    return value


def _scalar(text: str, override: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if any(c in text for c in "()[]'\""):
        raise ValidationError(f"Override {override!r}: cannot read the value {text!r}.")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _top_level(text: str, separator: str, override: str) -> list[str]:
    """`text` split at `separator`s outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, c in enumerate(text):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
            if depth < 0:
                break
        elif c == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quote:
        raise ValidationError(f"Override {override!r}: unbalanced brackets or quotes in {text!r}.")
    parts.append(text[start:])
    if any(not p.strip() for p in parts):
        raise ValidationError(f"Override {override!r}: an empty value in {text!r}.")
    return parts
