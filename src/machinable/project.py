"""The project directory and the module convention: `get("a.b")` loads `<project>/a/b.py`.

Project modules never replace installed ones: a project file named like a stdlib or
installed module (`copy.py`, `json.py`) is loaded under the private name
`machinable_project.<name>`, so `import copy` elsewhere still gets the stdlib, and the
project directory goes at the end of `sys.path`.
"""

from __future__ import annotations

import importlib
import importlib.machinery
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
    "machinable.sweep.stored",
)

PRIVATE = "machinable_project."  # prefix of project modules named like an installed module


_appended: set[str] = set()  # project directories import_module() added to sys.path


def public_name(module_name: str) -> str:
    """The name `get()` takes for a module that may have been loaded under its private name."""
    return module_name.removeprefix(PRIVATE)


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
        for key in (name, PRIVATE + name):
            existing = sys.modules.get(key)
            if existing is not None and _same_file(getattr(existing, "__file__", None), path):
                return existing
        if self.directory not in sys.path:
            sys.path.append(self.directory)  # after installed modules: sibling imports never shadow them
            _appended.add(self.directory)
        key = PRIVATE + name if self._is_installed(name.partition(".")[0]) else name
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(key, None)
            raise
        return module

    def _is_installed(self, top: str) -> bool:
        """Whether a module `top` exists outside the project (stdlib, site-packages, already imported)."""
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return True
        projects = _appended | {self.directory}
        module = sys.modules.get(top)
        if module is not None:
            file = getattr(module, "__file__", None)
            return not (file and any(os.path.abspath(file).startswith(d + os.sep) for d in projects))
        elsewhere = [p for p in sys.path if os.path.abspath(p or os.curdir) not in projects]
        return importlib.machinery.PathFinder.find_spec(top, elsewhere) is not None

    def element_class(self, name: str, base: type):
        """The one subclass of `base` that module `name` defines itself."""
        if name.rpartition(".")[2] == "__main__":  # importing it would run the program
            raise ElementNotFound(
                f"Module '{name}' is a program's entry point (run by `python -m`), not imported by "
                f"get(); it defines no {base.__name__} subclass. Name the module that defines the class."
            )
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

