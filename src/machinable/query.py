"""Finding stored experiments: `find("estimate_gravity", where={"time_dilation": 2.0}, status="finished")`."""

from __future__ import annotations

import warnings

from machinable.collection import Collection, lookup
from machinable.opening import Unreadable, open_stored
from machinable.storage import Storage

STATUSES = ("committed", "running", "finished", "failed", "died")


def find(module: str | None = None, *, where: dict | None = None, status: str | None = None,
         group: str | None = None, storage: Storage | None = None) -> Collection:
    """Stored experiments, newest first, filtered by module, config values (dotted keys), status and group.

    A damaged experiment (see `machinable.opening`) is left out with a RuntimeWarning and
    listed, with its directory, file and reason, in the result's `.unreadable`.

    A `where` value is matched for equality in the index, or, if it is callable, is a
    predicate on that config value: `where={"lr": lambda lr: lr < 0.1}`.
    """
    from machinable.config import flatten
    from machinable.errors import ValidationError

    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    conditions = flatten(where or {})
    predicates = {key: value for key, value in conditions.items() if callable(value)}
    equal = {key: value for key, value in conditions.items() if not callable(value)}
    storage = storage or Storage.current()
    found, unreadable = Collection(), []
    for directory in storage.directories(module=module, where=equal, group=group):
        opened = open_stored(storage, directory)
        (unreadable if isinstance(opened, Unreadable) else found).append(opened)
    if predicates:
        found = found.filter(lambda experiment: _satisfies(experiment.config.to_dict(), predicates))
    if status is not None:
        found = found.filter(lambda experiment: experiment.status == status)
    found.unreadable = unreadable
    if unreadable:
        warnings.warn(
            f"{len(unreadable)} stored experiment(s) cannot be read and are left out (see `.unreadable` of "
            f"the result): {unreadable[0]}", RuntimeWarning, stacklevel=2,
        )
    return found


def _satisfies(config: dict, predicates: dict) -> bool:
    """Whether each predicate holds for the value at its dotted key (a missing key fails)."""
    for key, predicate in predicates.items():
        try:
            value = lookup(config, key)
        except (KeyError, AttributeError):
            return False
        if not predicate(value):
            return False
    return True
