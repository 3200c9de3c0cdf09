"""Finding stored experiments: `find("estimate_gravity", where="time_dilation>=2", status="finished")`."""

from __future__ import annotations

import warnings

from machinable.collection import Collection
from machinable.conditions import STATUSES, Where, parse_sort, where as conditions
from machinable.opening import Unreadable, open_stored
from machinable.storage import Storage

__all__ = ["STATUSES", "find"]


def find(module: str | None = None, *, where=None, status: str | None = None, group: str | None = None,
         subclasses: bool = False, sort=None, limit: int | None = None, storage: Storage | None = None,
         sweep=None) -> Collection:
    """Stored experiments that meet the conditions, newest first (or in the order of `sort`).

    `where` takes the condition language of `machinable.conditions`, as data or text:
    `where={"lr": {"<": 0.1}, "model.depth": 3}`, `where="lr<0.1 or opt in [sgd, adam]"`; a
    callable value is a predicate on that config value (`where={"lr": lambda lr: lr < 0.1}`).
    `subclasses=True` includes the experiments of modules whose class derives from `module`'s.
    `sweep` (a `Sweep`, `Search` or a stored sweep's id) keeps the experiments of its points.
    `sort` is e.g. `"-lr,@created"` (a leading `-` for descending). The conditions run
    inside the storage's SQLite index.

    A damaged experiment (see `machinable.opening`) is left out with a RuntimeWarning and
    listed, with its directory, file and reason, in the result's `.unreadable`.
    """
    storage = storage or Storage.current()
    wanted = conditions(where) & _own_fields(storage, module, status, group, subclasses)
    if sweep is not None:
        from machinable.sweep.stored import members_of

        wanted = wanted & conditions({"@id": {"in": members_of(sweep, storage)}})
    order = parse_sort(sort) if isinstance(sort, str) else sort
    found, unreadable = _select(storage, wanted, order, limit)
    found.unreadable = unreadable
    if unreadable:
        warnings.warn(
            f"{len(unreadable)} stored experiment(s) cannot be read and are left out (see `.unreadable` of "
            f"the result): {unreadable[0]}", RuntimeWarning, stacklevel=2,
        )
    return found


def _select(storage, wanted: Where, order, limit: int | None) -> tuple[Collection, list]:
    """The experiments meeting `wanted`: the index selects, each opened one is checked where the index
    is not exact or the condition is on the status (the index records it as runs start and end; the
    files are the truth). If that check drops rows of a limited page, the selection is read whole."""
    directories, exact = storage.select(wanted, order, limit=limit)
    check = not exact or wanted.on("status")
    found, unreadable = Collection(), []
    for directory in directories:
        opened = open_stored(storage, directory)
        if isinstance(opened, Unreadable):
            unreadable.append(opened)
        elif not check or wanted.matches(opened.config.to_dict(), **fields(opened)):
            found.append(opened)
            if limit is not None and len(found) == limit:
                return found, unreadable
    if limit is not None and check and len(directories) == limit:
        return _select(storage, wanted, order, None)
    return found, unreadable


def fields(experiment) -> dict:
    """An experiment's own attributes, as conditions on `@field`s see them (status read only if asked)."""
    metadata = experiment.metadata()
    return {
        "module": experiment.module, "group": metadata["group"], "id": experiment.experiment_id,
        "ancestor": metadata.get("ancestor"), "created": experiment.timestamp, "seed": experiment.seed,
        "status": lambda: experiment.status, "summary": experiment.summary,
    }


def _own_fields(storage, module, status, group, subclasses) -> Where:
    spec: dict = {}
    if module is not None:
        spec["@module"] = {"in": _with_subclasses(storage, module)} if subclasses else module
    if status is not None:
        spec["@status"] = status
    if group is not None:
        spec["@group"] = group
    return conditions(spec)


def _with_subclasses(storage, module: str) -> list[str]:
    """`module` and the stored modules whose experiment class derives from its class (imported to know)."""
    from machinable.element import Element
    from machinable.errors import MachinableError
    from machinable.project import Project

    project = Project.current()
    base = project.element_class(module, Element)
    modules = [module]
    for name in storage.modules():
        try:
            if name != module and issubclass(project.element_class(name, Element), base):
                modules.append(name)
        except (MachinableError, ImportError, SyntaxError):
            continue  # a module that no longer imports: its experiments cannot be its subclasses' now
    return modules
