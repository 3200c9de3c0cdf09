"""Command-line arguments as versions: `model.lr=0.1 ~fast` -> `[{"model.lr": 0.1}, "~fast"]`."""

from __future__ import annotations

import click

from machinable.values import parse_value

ARG_FORMS = (
    "key=value (e.g. time_dilation=2, model.lr=0.1, name=run1, layers=[64,64]) "
    "or ~name (a version method such as ~fast)"
)


def parse_pair(arg: str, what: str = "argument", forms: str = ARG_FORMS) -> tuple[str, str]:
    """`"model.lr=0.1"` -> `("model.lr", "0.1")`; raises click.UsageError for a malformed pair."""
    key, sep, value = arg.partition("=")
    problem = "it has no '='" if not sep else _key_problem(key, "=")
    if problem:
        raise click.UsageError(f"Invalid {what} '{arg}': {problem}. Expected {forms}.")
    return key, value


def _key_problem(key: str, operator: str) -> str | None:
    if not key.strip():
        return f"the key before '{operator}' is empty"
    if any(not part or part != part.strip() or any(c.isspace() for c in part) for part in key.split(".")):
        return f"the key '{key}' has an empty part or whitespace"
    return None


def parse_versions(args, schema=None) -> list:
    """Command-line arguments as versions for `get()`.

    All `key=value` pairs form one dict, placed where the first pair appears among
    the `~name` versions (which keep their order); versions merge left to right.
    With the experiment's config `schema`, a value for a plain `str` field keeps
    its text (so `name=2017` stays '2017').
    """
    versions: list = []
    pairs: dict = {}
    for arg in args:
        if arg.startswith("~"):
            if not arg[1:].isidentifier():
                raise click.UsageError(
                    f"Invalid argument '{arg}': a version name is '~' followed by a Python identifier "
                    f"(it calls the method version_<name>()). Expected {ARG_FORMS}."
                )
            versions.append(arg)
            continue
        key, raw = parse_pair(arg)
        if not pairs:
            versions.append(pairs)
        pairs[key] = _typed_value(raw, _annotation(schema, key))
    return versions


def _annotation(schema, key: str):
    for part in key.split(".")[:-1]:
        if schema is None:
            return None
        schema = schema.nested.get(part)
    if schema is None:
        return None
    field = schema.fields.get(key.split(".")[-1])
    return field[0] if field else None


def _typed_value(raw: str, annotation):
    value = parse_value(raw)
    if value is not None and not isinstance(value, str) and _is_text(annotation):
        return raw  # `name=2017` for a str field is the text '2017'
    return value


def _is_text(annotation) -> bool:
    """True for `str`, `Optional[str]` and `Annotated[str, ...]` fields."""
    import typing

    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_text(typing.get_args(annotation)[0])
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_text(args[0])
    return False


__all__ = ["ARG_FORMS", "parse_pair", "parse_value", "parse_versions"]
