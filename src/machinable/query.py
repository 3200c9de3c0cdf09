"""Finding stored experiments: `find("estimate_gravity", where={"time_dilation": 2.0}, status="finished")`."""

from __future__ import annotations

from machinable.collection import Collection, lookup
from machinable.storage import Storage

STATUSES = ("committed", "running", "finished", "failed", "died")


def find(module: str | None = None, *, where: dict | None = None, status: str | None = None,
         group: str | None = None, storage: Storage | None = None) -> Collection:
    """Stored experiments, newest first, filtered by module, config values (dotted keys), status and group.

    A `where` value is matched for equality in the index, or, if it is callable, is a
    predicate on that config value: `where={"lr": lambda lr: lr < 0.1}`.
    """
    from machinable.config import flatten
    from machinable.errors import ValidationError
    from machinable.experiment import Experiment

    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    conditions = flatten(where or {})
    predicates = {key: value for key, value in conditions.items() if callable(value)}
    equal = {key: value for key, value in conditions.items() if not callable(value)}
    storage = storage or Storage.current()
    found = Collection(
        Experiment.from_metadata(metadata, storage)
        for metadata in storage.search(module=module, where=equal, group=group)
    )
    if predicates:
        found = found.filter(lambda experiment: _satisfies(experiment.config.to_dict(), predicates))
    if status is not None:
        found = found.filter(lambda experiment: experiment.status == status)
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
