"""The one way every reader (find(), `machinable list/show`, the dashboard) opens a stored experiment.

A stored experiment may be damaged: an `experiment.json` cut short or missing fields, a
version its class rejects, a `status.json` that is garbage or not a JSON object.
`open_stored()` returns either the experiment or an `Unreadable` entry naming the
directory, the file and the reason, so one damaged experiment never hides the others
and the three readers cannot disagree about it.
"""

from __future__ import annotations

import os

from machinable.errors import CorruptMetadata
from machinable.experiment import open_experiment
from machinable.storage import metadata as stored_metadata


class Unreadable:
    """A stored experiment that cannot be opened; its files are left exactly as they are.

    (A plain class: `dataclasses` costs ~6 ms of `import machinable`.)
    """

    status = "unreadable"

    def __init__(self, directory: str, file: str, reason: str, message: str):
        self.directory = directory
        self.file = file
        self.reason = reason
        self.message = message  # what is wrong and how to repair it

    @property
    def experiment_id(self) -> str:
        return os.path.basename(self.directory)

    def as_row(self) -> dict:
        return {"id": self.experiment_id, "module": "?", "status": self.status,
                "problem": f"{os.path.basename(self.file)}: {self.reason}"}

    def as_dict(self) -> dict:
        return {"id": self.experiment_id, "status": self.status, "directory": self.directory, "file": self.file,
                "reason": self.reason, "error": self.message}

    def __str__(self) -> str:
        return self.message


def open_stored(storage, directory: str, metadata: dict | None = None, load_class: bool = True):
    """The experiment stored in `directory` (as its class, or plain `Experiment` without `load_class`),
    or an `Unreadable` entry if one of its metadata files is damaged or its version is rejected."""
    try:
        return open_experiment(storage, directory, metadata, load_class)
    except CorruptMetadata as error:
        path = os.path.join(directory, stored_metadata.METADATA)
        return Unreadable(directory, error.path or path, error.reason or str(error), str(error))
