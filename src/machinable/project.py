"""The project directory and the module convention: `get("a.b")` loads `<project>/a/b.py`."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from machinable import context
from machinable.errors import ElementNotFound, ModuleNotFound

BUILTINS = (
    "machinable.execution.local",
    "machinable.execution.multiprocess",
    "machinable.execution.subprocess",
    "machinable.execution.dask",
    "machinable.execution.slurm",
    "machinable.storage.filesystem",
)


class Project:
    """A directory whose modules define elements; `with Project(dir):` switches to it."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = os.path.abspath(os.fspath(directory) if directory else os.getcwd())

    @classmethod
    def current(cls) -> "Project":
        return context.current(Project) or cls()

    def __enter__(self):
        context.push(Project, self)
        return self

    def __exit__(self, *exc):
        context.pop(Project, self)

    def __repr__(self):
        return f"Project({self.directory!r})"

    def module_path(self, name: str) -> str | None:
        base = os.path.join(self.directory, *name.split("."))
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
        return None

    def import_module(self, name: str):
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise ModuleNotFound(
                f"'{name}' is not a module name: use dotted Python identifiers such as "
                "'estimate_gravity' or 'evolution.simulate_offspring'."
            )
        if name == "machinable" or name.startswith("machinable."):
            try:
                return importlib.import_module(name)
            except ModuleNotFoundError:
                raise ModuleNotFound(
                    f"machinable has no built-in module '{name}' (built-ins: {', '.join(BUILTINS)})."
                ) from None
        path = self.module_path(name)
        if path is None:
            rel = os.path.join(*name.split("."))
            raise ModuleNotFound(
                f"No module '{name}' in project {self.directory}: looked for {rel}.py and "
                f"{rel}/__init__.py there. Run from the project directory or use "
                "`with Project(directory):`."
            )
        existing = sys.modules.get(name)
        if existing is not None and _same_file(getattr(existing, "__file__", None), path):
            return existing
        if self.directory not in sys.path:
            sys.path.insert(0, self.directory)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    def element_class(self, name: str, base: type):
        """The one subclass of `base` that module `name` defines itself."""
        module = self.import_module(name)
        candidates = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, base)
            and value.__module__ == module.__name__
        ]
        if not candidates:
            raise ElementNotFound(
                f"Module '{name}' ({module.__file__}) defines no {base.__name__} subclass. "
                f"Define one class there, e.g. `class MyElement({base.__name__}): ...` "
                "(imported classes do not count)."
            )
        if len(candidates) > 1:
            names = ", ".join(sorted(c.__name__ for c in candidates))
            raise ElementNotFound(
                f"Module '{name}' ({module.__file__}) defines several {base.__name__} classes: "
                f"{names}. Keep one element class per module."
            )
        return candidates[0]


def _same_file(a, b) -> bool:
    return bool(a) and (a == b or os.path.realpath(a) == os.path.realpath(b))

