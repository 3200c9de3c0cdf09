"""Storage: where experiments live. `with storage:` makes one the current storage."""

from __future__ import annotations

import abc
import os

from machinable import context
from machinable.element import Element
from machinable.identity import Request


class Storage(Element, abc.ABC):
    """The abstract core every storage backend implements.

    Experiments keep their files in a local directory (`directory_of`); the storage
    decides where that is, commits new experiments exactly once, and finds them again.
    """

    def __enter__(self):
        context.push(Storage, self)
        return self

    def __exit__(self, *exc):
        context.pop(Storage, self)

    @classmethod
    def current(cls) -> "Storage":
        active = context.current(Storage)
        if active is not None:
            return active
        from machinable.storage.filesystem import Filesystem

        return Filesystem.default(os.path.abspath("storage"))

    def portable_config(self) -> dict:
        """The config that opens this storage from another process or machine."""
        return self.config.to_dict()

    @abc.abstractmethod
    def commit(self, metadata: dict, keys: list[str], request: Request | None, seed: int | None = None) -> dict:
        """Store a new experiment; with a `request`, return an existing match instead.

        Get-or-create is atomic across processes: of several processes committing the
        same identity at once, one creates it and the others receive its metadata.
        A `seed` restricts matches to experiments with that seed.
        """

    @abc.abstractmethod
    def find(self, request: Request, seed: int | None = None) -> dict | None:
        """Metadata of the oldest stored experiment matching `request` (see `machinable.identity`)."""

    @abc.abstractmethod
    def find_by_id(self, experiment_id: str) -> dict:
        """Metadata of the experiment with this id (raises ExperimentNotFound)."""

    @abc.abstractmethod
    def locate(self, experiment_id: str) -> str:
        """The directory of the experiment with this id, whatever state its files are in (raises ExperimentNotFound)."""

    @abc.abstractmethod
    def select(self, where=None, sort=None, offset: int = 0, limit: int | None = None) -> tuple[list[str], bool]:
        """Directories of the stored experiments that meet `where` (a `machinable.conditions.Where`),
        ordered by `sort` (see `conditions.parse_sort`) then newest first, and whether they meet it
        exactly; if not, they are a superset to check one by one (`Where.matches`). Open them with
        `machinable.opening`."""

    def check_writable(self) -> None:
        """Raise StorageError, saying how to fix it, if this process cannot store experiments here."""

    def is_writable(self) -> bool:
        """Whether this process can store experiments here (reading needs no write access)."""
        from machinable.errors import StorageError

        try:
            self.check_writable()
        except StorageError:
            return False
        return True

    @abc.abstractmethod
    def directory_of(self, metadata: dict) -> str:
        """The local directory holding an experiment's files."""

    @abc.abstractmethod
    def index_status(self, experiment_id: str, status: str) -> None:
        """Record how an experiment's run stands (committed, started, finished, failed) for finding it by status."""

    @abc.abstractmethod
    def index_summary(self, experiment_id: str, summary: dict) -> None:
        """Make an experiment findable by its summary metrics (`machinable.summary`)."""

    @abc.abstractmethod
    def count(self, where=None) -> int:
        """How many experiments `select(where)` gives."""

    @abc.abstractmethod
    def modules(self) -> list[str]:
        """The modules of the stored experiments."""

    @abc.abstractmethod
    def groups(self) -> list[str]:
        """The groups of the stored experiments."""

    @abc.abstractmethod
    def search(self) -> list[dict]:
        """Metadata of every readable stored experiment, newest first."""

    @abc.abstractmethod
    def rebuild_index(self, progress=None, on_damaged=None) -> int:
        """Recreate the lookup index from the stored files; returns the experiment count.

        A damaged experiment is skipped and passed to `on_damaged(error)` (CorruptMetadata)."""
