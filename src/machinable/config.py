"""Configuration: versions merged into a dict, validated by pydantic, exposed read-only.

pydantic (and dataclasses, typing, hashlib) are imported when first needed, not at
`import machinable`, which keeps the import fast.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping

from machinable.errors import StateError, ValidationError


class NotIdentifying:
    """Marks a config field that does not count for identity.

    ``verbose: Annotated[bool, NotIdentifying] = True`` — experiments that differ
    only in such fields are the same experiment for `get()`.
    """


REQUIRED = object()


# --- versions -------------------------------------------------------------------------


def normalize_version(version) -> list:
    """`None`, a dict, a `"~name"` string or a list of those, as a list."""
    if version is None:
        return []
    if isinstance(version, (list, tuple)):
        items = list(version)
    else:
        items = [version]
    out = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, Mapping):
            out.append(dict(item))
        elif isinstance(item, str) and item.startswith("~") and len(item) > 1:
            out.append(item)
        else:
            raise ValidationError(
                f"Invalid version {item!r}: a version is a dict of config values, a list of "
                "dicts, or a string '~name' that calls the element's version_name() method."
            )
    return out


def expand_dotted(data: Mapping) -> dict:
    """`{"model.lr": 0.1}` -> `{"model": {"lr": 0.1}}`, recursively."""
    out: dict = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ValidationError(f"Config keys must be strings, got {key!r}.")
        if isinstance(value, Mapping):
            value = expand_dotted(value)
        parts = key.split(".")
        target = out
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = target[part] = {}
            target = existing
        last = parts[-1]
        if isinstance(value, dict) and isinstance(target.get(last), dict):
            target[last] = deep_merge(target[last], value)
        else:
            target[last] = value
    return out


def deep_merge(base: dict, update: Mapping) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# --- canonical form and identity ------------------------------------------------------


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(obj) -> str:
    import hashlib

    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def flatten(data: Mapping, prefix: str = "") -> dict:
    """Leaf values by dotted path; an empty dict is a leaf of its own."""
    out = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def unflatten(flat: Mapping) -> dict:
    return expand_dotted(flat)


def same_value(a, b) -> bool:
    """Equality as identity sees it: `2 == 2.0`, and NaN equals NaN."""
    return a == b or canonical_json(a) == canonical_json(b)


# --- schema ---------------------------------------------------------------------------


class ConfigSchema:
    """The validated shape of one `Config` class (a dataclass or an annotated class)."""

    _cache: dict = {}

    def __init__(self, config_class):
        import dataclasses
        import typing

        self.config_class = config_class
        self.fields: dict[str, tuple] = {}  # name -> (annotation, default or REQUIRED)
        self.not_identifying: set[str] = set()
        self.nested: dict[str, ConfigSchema] = {}
        hints = typing.get_type_hints(config_class, include_extras=True)
        if dataclasses.is_dataclass(config_class):
            for f in dataclasses.fields(config_class):
                if f.default is not dataclasses.MISSING:
                    default = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    default = f.default_factory()
                else:
                    default = REQUIRED
                self._add(f.name, hints.get(f.name, typing.Any), default)
        else:
            for name, annotation in hints.items():
                if name.startswith("_") or typing.get_origin(annotation) is typing.ClassVar:
                    continue
                self._add(name, annotation, getattr(config_class, name, REQUIRED))
        self._model = None
        self._exact_types: dict | None = None

    def _add(self, name, annotation, default):
        import typing

        if typing.get_origin(annotation) is typing.Annotated:
            base, *meta = typing.get_args(annotation)
            if any(m is NotIdentifying or isinstance(m, NotIdentifying) for m in meta):
                self.not_identifying.add(name)
                annotation = base
        if _is_config_class(annotation):
            self.nested[name] = ConfigSchema.of(annotation)
            if default is not REQUIRED and not isinstance(default, Mapping):
                default = _as_plain(default)
        self.fields[name] = (annotation, default)

    @classmethod
    def of(cls, config_class) -> "ConfigSchema":
        schema = cls._cache.get(config_class)
        if schema is None:
            schema = cls._cache[config_class] = cls(config_class)
        return schema

    def model(self):
        if self._model is None:
            import pydantic

            definitions = {}
            for name, (annotation, default) in self.fields.items():
                if name in self.nested:
                    annotation = self.nested[name].model()
                definitions[name] = (annotation, ... if default is REQUIRED else copy.deepcopy(default))
            self._model = pydantic.create_model(
                f"{self.config_class.__qualname__}Model",
                __config__=pydantic.ConfigDict(
                    extra="forbid",
                    arbitrary_types_allowed=True,
                    validate_default=True,
                    coerce_numbers_to_str=True,
                    ser_json_inf_nan="constants",  # keep NaN/±inf in `Any` fields (not None)
                ),
                **definitions,
            )
        return self._model

    def defaults(self) -> dict:
        """The default values (required fields omitted), in validated form."""
        out = {}
        for name, (_, default) in self.fields.items():
            if name in self.nested and default is REQUIRED:
                out[name] = self.nested[name].defaults()
            elif default is not REQUIRED:
                out[name] = default
        return out

    def validate(self, data: Mapping, owner: str) -> dict:
        plain = self.as_given(data)
        if plain is not None:
            return plain
        import pydantic

        try:
            instance = self.model().model_validate(dict(data))
        except pydantic.ValidationError as e:
            raise ValidationError(self._describe(e, owner)) from None
        return instance.model_dump(mode="json")

    def as_given(self, data: Mapping) -> dict | None:
        """What `validate()` returns, without pydantic (~25 ms to import), where pydantic would
        change nothing: every field a `str`, `int`, `float` or `bool` (or Optional of one) or a
        nested config, and every value, given or default, already exactly of its field's type,
        no key unknown and none missing. Otherwise None: pydantic decides (and words the errors)."""
        if self._exact_types is None:
            self._exact_types = {name: _exact_types(annotation) for name, (annotation, _) in self.fields.items()}
        if any(key not in self.fields for key in data):
            return None
        out = {}
        for name, (_, default) in self.fields.items():
            value = data[name] if name in data else default
            if name in self.nested:
                if type(value) is not dict:
                    return None
                value = self.nested[name].as_given(value)
                if value is None:
                    return None
            elif type(value) not in (self._exact_types[name] or ()):
                return None
            out[name] = value
        return out

    def identifying(self, config: Mapping) -> dict:
        out = {}
        for key, value in config.items():
            if key in self.not_identifying:
                continue
            if key in self.nested and isinstance(value, Mapping):
                value = self.nested[key].identifying(value)
            out[key] = value
        return out

    def identifying_defaults(self) -> dict:
        return self.identifying(self.defaults())

    # --- error messages -----------------------------------------------------------

    def _schema_at(self, loc) -> "ConfigSchema | None":
        schema = self
        for part in loc:
            schema = schema.nested.get(part) if schema else None
        return schema

    def _describe(self, error, owner: str) -> str:
        import difflib

        lines = [f"Invalid configuration for {owner}:"]
        for item in error.errors():
            loc = tuple(str(p) for p in item["loc"])
            path = ".".join(loc)
            parent = self._schema_at(loc[:-1])
            if item["type"] == "extra_forbidden":
                valid = list(parent.fields) if parent else []
                hint = difflib.get_close_matches(loc[-1], valid, n=1)
                suggestion = f" — did you mean '{'.'.join(loc[:-1] + (hint[0],))}'?" if hint else ""
                lines.append(
                    f"  '{path}' is not a config key{suggestion} "
                    f"(valid keys: {', '.join(valid) or 'none'})"
                )
            elif item["type"] == "missing":
                lines.append(f"  '{path}' is required but was not given")
            else:
                expected = "?"
                if parent and loc[-1] in parent.fields:
                    expected = _type_name(parent.fields[loc[-1]][0])
                given = item.get("input")
                lines.append(
                    f"  '{path}' expects {expected}, got {given!r} ({type(given).__name__}): {item['msg']}"
                )
        lines.append("Fix the values passed to get()/the version, or the Config class.")
        return "\n".join(lines)


_SCALARS = (str, int, float, bool)


def _exact_types(annotation) -> tuple:
    """The types a value of a field may have for pydantic to keep it as it is: `(float,)` for
    `float`, `(int, NoneType)` for `Optional[int]`; `()` for any other annotation."""
    import typing

    if annotation in _SCALARS:
        return (annotation,)
    if typing.get_origin(annotation) is typing.Union or type(annotation).__name__ == "UnionType":
        args = typing.get_args(annotation)
        others = [arg for arg in args if arg is not type(None)]
        if len(args) == 2 and len(others) == 1 and others[0] in _SCALARS:
            return (others[0], type(None))
    return ()


def _is_config_class(annotation) -> bool:
    import dataclasses

    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def _as_plain(value):
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _type_name(annotation) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


# --- read-only access -----------------------------------------------------------------


class ConfigView(Mapping):
    """Read-only view of a resolved config: `config.a.b` and `config["a"]["b"]`."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping):
        object.__setattr__(self, "_data", data)

    def __getitem__(self, key):
        value = self._data[key]
        return ConfigView(value) if isinstance(value, Mapping) else value

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"Config has no key '{key}' (keys: {', '.join(self._data) or 'none'})"
            ) from None

    def __setattr__(self, key, value):
        raise StateError(
            "The config is read-only; pass values through a version instead: "
            f"get(module, {{'{key}': ...}})."
        )

    __setitem__ = __setattr__

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def to_dict(self) -> dict:
        return copy.deepcopy(dict(self._data))

    def __repr__(self):
        return f"Config({self._data!r})"

    def __eq__(self, other):
        if isinstance(other, ConfigView):
            other = other._data
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __getstate__(self):
        return self._data

    def __setstate__(self, state):
        object.__setattr__(self, "_data", state)
