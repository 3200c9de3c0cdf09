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
    def directories(self, module=None, where=None, ancestor=None, group=None) -> list[str]:
        """Directories of stored experiments, newest first, filtered; open them with `machinable.opening`."""

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
    def search(self, module=None, where=None, ancestor=None, group=None) -> list[dict]:
        """Metadata of stored experiments, newest first, filtered."""

    @abc.abstractmethod
    def rebuild_index(self, progress=None, on_damaged=None) -> int:
        """Recreate the lookup index from the stored files; returns the experiment count.

        A damaged experiment is skipped and passed to `on_damaged(error)` (CorruptMetadata)."""
