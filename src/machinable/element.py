"""The base of every configurable class: experiments, executions, storages."""

from __future__ import annotations

from collections.abc import Mapping

from machinable.config import ConfigSchema, ConfigView, deep_merge, expand_dotted, normalize_version
from machinable.errors import ValidationError
from machinable.storable import check_storable


class Element:
    """A class with an optional `Config`, instantiated from a module name and versions.

    `version` is a dict, a `"~name"` string calling `version_name()`, or a list of
    those merged left to right; validation happens on first access of `.config`.
    """

    Config = None

    def __init__(self, version=None):
        self._version = normalize_version(version)
        self._config_data = None
        self._module = None

    @classmethod
    def make(cls, module: str, version=None, **kwargs):
        """A new instance of the element that `module` defines (module convention)."""
        from machinable.project import Project

        return Project.current().element_class(module, cls)._new(module, version, **kwargs)

    @classmethod
    def _new(cls, module: str, version=None, **kwargs):
        element = cls(version, **kwargs)
        element._module = module
        return element

    @classmethod
    def retrieve(cls, module: str, version=None, **kwargs):
        """What `get()` returns for this class: a new instance (experiments look up stored ones first)."""
        return cls._new(module, version, **kwargs)

    @property
    def module(self) -> str:
        from machinable.project import public_name

        return self._module or public_name(type(self).__module__)

    def version(self) -> list:
        """The versions applied, in order."""
        return list(self._version)

    @property
    def config(self) -> ConfigView:
        if self._config_data is None:
            self._config_data = self._resolve_config()
        return ConfigView(self._config_data)

    @classmethod
    def config_schema(cls) -> ConfigSchema | None:
        return ConfigSchema.of(cls.Config) if cls.Config is not None else None

    def _resolve_config(self) -> dict:
        owner = f"{type(self).__name__} ('{self.module}')"
        raw: dict = {}
        for version in self._version:
            if isinstance(version, str):
                version = self._call_version_method(version)
            check_storable(version, owner)
            raw = deep_merge(raw, expand_dotted(version))
        schema = self.config_schema()
        if schema is None:
            if raw:
                raise ValidationError(
                    f"{owner} has no Config class, so it takes no configuration; got "
                    f"{', '.join(repr(k) for k in raw)}. Add a Config to the class or drop the values."
                )
            return {}
        return schema.validate(raw, owner)

    def _call_version_method(self, version: str) -> dict:
        name = "version_" + version[1:]
        method = getattr(self, name, None)
        if not callable(method):
            raise ValidationError(
                f"Version '{version}' calls {type(self).__name__}.{name}(), which is not defined. "
                f"Define `def {name}(self): return {{...}}` or fix the version name."
            )
        result = method()
        if not isinstance(result, Mapping):
            raise ValidationError(f"{type(self).__name__}.{name}() must return a dict, got {type(result).__name__}.")
        return dict(result)

    def __repr__(self):
        return f"{type(self).__name__}('{self.module}', {self._version!r})"


def get(module: str, version=None, **kwargs):
    """The element that `module` defines, configured with `version`.

    For an experiment this is the stored one with the same module, config and
    relations if there is one, otherwise a new (uncommitted) experiment. Other
    elements (executions, storages) are always new instances.
    """
    from machinable.project import Project

    element_class = Project.current().element_class(module, Element)
    return element_class.retrieve(module, version, **kwargs)
