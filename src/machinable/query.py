"""Finding stored experiments: `find("estimate_gravity", where={"time_dilation": 2.0}, status="finished")`."""

from __future__ import annotations

from machinable.collection import Collection
from machinable.storage import Storage

STATUSES = ("committed", "running", "finished", "failed", "died")


def find(module: str | None = None, *, where: dict | None = None, status: str | None = None,
         group: str | None = None, storage: Storage | None = None) -> Collection:
    """Stored experiments, newest first, filtered by module, config values (dotted keys), status and group."""
    from machinable.config import flatten
    from machinable.errors import ValidationError
    from machinable.experiment import Experiment

    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    storage = storage or Storage.current()
    found = Collection(
        Experiment.from_metadata(metadata, storage)
        for metadata in storage.search(module=module, where=flatten(where or {}), group=group)
    )
    if status is not None:
        found = found.filter(lambda experiment: experiment.status == status)
    return found
