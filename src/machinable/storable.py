"""What a config value may be: what JSON stores, checked before anything recursive touches it."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from machinable.errors import ValidationError

MAX_DEPTH = 100
_PLAIN = (str, int, float, bool, type(None))


def check_storable(version: Mapping, owner: str) -> None:
    """Raise a ValidationError naming the key of a value that JSON cannot store.

    Runs on each given version before anything recursive touches it: values nested
    deeper than `MAX_DEPTH`, bytes, objects pydantic cannot serialize, strings with
    lone surrogates (not UTF-8) and integers too long to print.
    """
    stack = [((), version)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            items = ((str(key), item) for key, item in value.items())
        elif isinstance(value, (list, tuple)):
            items = ((str(index), item) for index, item in enumerate(value))
        else:
            problem = _unstorable(value)
            if problem:
                raise ValidationError(f"Invalid configuration for {owner}: '{_dotted(path)}' {problem}.")
            continue
        if len(path) > MAX_DEPTH:
            raise ValidationError(
                f"Invalid configuration for {owner}: '{_dotted(path)}' is nested more than {MAX_DEPTH} "
                "levels deep; flatten it, or save large structures with save_data()."
            )
        for key, item in items:
            problem = _unstorable(key)
            if problem:
                raise ValidationError(f"Invalid configuration for {owner}: '{_dotted(path + (key,))}' {problem}.")
            stack.append((path + (key,), item))


def _unstorable(value) -> str | None:
    """What keeps a leaf value out of a JSON config file, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate, which cannot be stored as UTF-8; fix the text"
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            int.__repr__(value)
        except ValueError:
            return (
                f"is an integer of {_digits(value)} digits, more than Python converts to text "
                f"({sys.get_int_max_str_digits()}); pass it as a str or float"
            )
    elif isinstance(value, (bytes, bytearray)):
        return f"is bytes ({_short(value)}), which a config cannot store; pass a str (e.g. value.decode())"
    elif not isinstance(value, _PLAIN):
        import pydantic_core

        try:
            pydantic_core.to_jsonable_python(value)
        except (pydantic_core.PydanticSerializationError, ValueError, TypeError):
            return (
                f"is of type {type(value).__name__}, which cannot be stored in a config (JSON); "
                "use str, int, float, bool, None, lists and dicts"
            )
    return None


def _digits(value: int) -> int:
    import math

    value = abs(value)
    digits = int(math.log10(value)) + 1
    return digits + 1 if value >= 10**digits else digits - 1 if value < 10 ** (digits - 1) else digits


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dotted(path: tuple) -> str:
    """A key path for a message, lone surrogates escaped so it can be printed."""
    return ".".join(path).encode("utf-8", "backslashreplace").decode("utf-8")
