"""The default storage: one directory per experiment, `<directory>/<group>/<experiment_id>`."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from machinable.identity import Request
from machinable.errors import ExperimentNotFound, StorageError
from machinable.storage import Storage
from machinable.storage.claim import Claim
from machinable.storage.files import read_json, write_json
from machinable.storage.index import Index

METADATA = "experiment.json"


class Filesystem(Storage):
    @dataclass
    class Config:
        directory: str = "./storage"
        default_group: str = "%Y_%U_%a"

    _defaults: dict = {}

    @classmethod
    def default(cls, directory: str) -> "Filesystem":
        """One shared instance per directory, so its index connection is reused."""
        storage = cls._defaults.get(directory)
        if storage is None:
            storage = cls._defaults[directory] = cls({"directory": directory})
        return storage

    @functools.cached_property
    def root(self) -> str:
        return os.path.abspath(self.config.directory)

    @property
    def index(self) -> Index:
        """The lookup index; a missing one is rebuilt from the files first."""
        index = self.__dict__.get("_index")
        if index is None or not index.exists():  # (re)open, also after the file was deleted
            if index is not None:
                index.close()
            index = Index(os.path.join(self.root, "index.sqlite"))
            if not index.exists():
                self._ensure_directory(self.root)
                index.remove_stale_journal()
                index.rebuild(self._index_entries())
            self.__dict__["_index"] = index
        return index

    def __repr__(self):
        return f"Filesystem({self.root!r})"

    @staticmethod
    def _ensure_directory(path: str) -> None:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"Cannot create storage directory {path}: {e.strerror}. Choose a writable directory "
                "with `get('machinable.storage.filesystem', {'directory': ...})`."
            ) from e
        if not os.access(path, os.W_OK):
            raise StorageError(
                f"Storage directory {path} is not writable. Fix its permissions or choose another "
                "directory with `get('machinable.storage.filesystem', {'directory': ...})`."
            )

    def directory_of(self, metadata: dict) -> str:
        return os.path.join(self.root, metadata["group"], metadata["experiment_id"])

    # --- committing ---------------------------------------------------------------

    def commit(self, metadata: dict, keys: list[str], request: Request | None, seed: int | None = None) -> dict:
        index = self.index
        if request is None:
            return self._create(index, metadata, keys)
        locks = os.path.join(self.root, ".locks")
        if not self.__dict__.get("_locks_ready"):
            self._ensure_directory(locks)
            self.__dict__["_locks_ready"] = True
        lock = Claim(os.path.join(locks, metadata["identity"] + ".lock"))
        lock.acquire()
        try:
            existing = self.find(request, seed)
            if existing is not None:
                return existing
            return self._create(index, metadata, keys)
        finally:
            lock.release()

    def _create(self, index: Index, metadata: dict, keys: list[str]) -> dict:
        group_directory = os.path.join(self.root, metadata["group"])
        self._ensure_directory(group_directory)
        directory = self.directory_of(metadata)
        try:
            os.mkdir(directory)
        except FileExistsError:
            raise StorageError(
                f"Experiment directory {directory} already exists; experiment ids must be unique. "
                "Create a new experiment instance to get a fresh id."
            ) from None
        write_json(os.path.join(directory, METADATA), metadata)
        index.add(metadata, os.path.relpath(directory, self.root), keys)
        return metadata

    # --- finding ------------------------------------------------------------------

    def find(self, request: Request, seed: int | None = None) -> dict | None:
        if not os.path.isdir(self.root):
            return None  # nothing stored yet; finding must not create the storage
        found = self._find_identity(request.identity, seed)
        if found is None:
            keysets = self.index.keysets(request.module)
            for identity in request.candidates(keysets):
                found = self._find_identity(identity, seed)
                if found is not None:
                    break
        return found

    def _find_identity(self, identity: str, seed: int | None) -> dict | None:
        for _, directory in self.index.find_identity(identity, seed):
            path = os.path.join(self.root, directory, METADATA)
            if os.path.exists(path):
                return read_json(path)
        return None

    def find_by_id(self, experiment_id: str) -> dict:
        directory = self.index.directory(experiment_id) if os.path.isdir(self.root) else None
        if directory is None:
            raise ExperimentNotFound(
                f"No experiment '{experiment_id}' in storage {self.root}. If its directory was "
                "copied in by hand, run `machinable index rebuild`."
            )
        return read_json(os.path.join(self.root, directory, METADATA))

    def search(self, module=None, where=None, ancestor=None, group=None) -> list[dict]:
        found = []
        if not os.path.isdir(self.root):
            return found
        for _, directory in self.index.search(module, where, ancestor, group):
            path = os.path.join(self.root, directory, METADATA)
            if os.path.exists(path):
                found.append(read_json(path))
        return found

    # --- the index ----------------------------------------------------------------

    def scan(self):
        """Metadata and directory of every experiment stored on disk."""
        for current, subdirectories, files in os.walk(self.root):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            if METADATA in files:
                subdirectories[:] = []
                yield read_json(os.path.join(current, METADATA)), os.path.relpath(current, self.root)

    def rebuild_index(self, progress=None) -> int:
        return self.index.rebuild(self._index_entries(), progress, replace_unreadable=True)

    def _index_entries(self):
        return ((meta, directory, meta["keys"]) for meta, directory in self.scan())
