"""The default storage: one directory per experiment, `<directory>/<group>/<experiment_id>`."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

from machinable import ids
from machinable.identity import Request
from machinable.errors import ExperimentNotFound, StorageError
from machinable.storage import Storage
from machinable.storage.claim import Claim, stale_after
from machinable.storage.files import TEMPORARY, probe_writable, read_json, write_json
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

    def portable_config(self) -> dict:
        return {**self.config.to_dict(), "directory": self.root}

    @property
    def index(self) -> Index:
        """The lookup index, opened once per process.

        Opening it rebuilds an index that is missing or was never completely built (a
        crash while creating it) and finishes the commits of processes that died holding
        a commit lock (`_recover`): after any crash the index agrees with the files again.
        """
        index = self.__dict__.get("_index")
        if index is None or not index.is_current():  # (re)open, also after the file was deleted or replaced
            if index is not None:
                index.close()
            index = self._open_index()
            if not index.exists():
                self._check_writable()
                index.create()
            if not index.is_built():
                index.rebuild(self._index_entries(), if_needed=True)
            self.__dict__["_index"] = index
            self._recover_dead_commits()
        return index

    def _open_index(self) -> Index:
        return Index(os.path.join(self.root, "index.sqlite"), os.path.join(self.root, ".locks", "index.lock"))

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

    def _check_writable(self) -> None:
        """Fail clearly, before anything is written, if the storage directory cannot be written.

        Tried for real, once per process: os.access() says yes to root even on a read-only
        mount or an immutable directory.
        """
        if self.__dict__.get("_writable"):
            return
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise StorageError(
                f"Storage directory {self.root} is a file, not a directory. Move the file or choose "
                "another directory with `get('machinable.storage.filesystem', {'directory': ...})`."
            )
        locks = os.path.join(self.root, ".locks")
        try:
            os.makedirs(locks, exist_ok=True)
            probe_writable(locks)
        except OSError as e:
            raise StorageError(
                f"Storage directory {self.root} is not writable ({e.strerror}: {e.filename}). Make it "
                "writable, or choose another directory with "
                "`get('machinable.storage.filesystem', {'directory': ...})`."
            ) from e
        self.__dict__["_writable"] = True

    def directory_of(self, metadata: dict) -> str:
        return os.path.join(self.root, metadata["group"], metadata["experiment_id"])

    # --- committing ---------------------------------------------------------------

    def commit(self, metadata: dict, keys: list[str], request: Request | None, seed: int | None = None) -> dict:
        """Every commit holds the lock of its identity, and the lock names the directory it creates.

        If the process dies half way, whoever takes the lock over or opens the storage next
        finishes or removes that directory (`_recover`), so the index never misses a
        committed experiment and `get()` never creates a duplicate.
        """
        self._check_writable()
        index = self.index
        while index.directory(metadata["experiment_id"]) is not None or os.path.exists(self.directory_of(metadata)):
            # 62^6 ids make a clash rare, but likely enough among 100k experiments to handle
            metadata["experiment_id"] = ids.experiment_id()
        lock = Claim(
            os.path.join(self.root, ".locks", metadata["identity"] + ".lock"),
            data={"directory": os.path.join(metadata["group"], metadata["experiment_id"])},
            on_break=self._recover,
        )
        lock.acquire()
        try:
            if request is not None:
                existing = self.find(request, seed)
                if existing is not None:
                    return existing
            return self._create(index, metadata, keys)
        finally:
            lock.release()

    def _create(self, index: Index, metadata: dict, keys: list[str]) -> dict:
        """The directory, then experiment.json, then the index row; all undone if a step fails."""
        group_directory = os.path.join(self.root, metadata["group"])
        known = self.__dict__.setdefault("_groups", set())
        if group_directory not in known:
            self._ensure_directory(group_directory)
            known.add(group_directory)
        directory = self.directory_of(metadata)
        try:
            os.mkdir(directory)
        except FileExistsError:
            raise StorageError(
                f"Experiment directory {directory} already exists; experiment ids must be unique. "
                "Create a new experiment instance to get a fresh id."
            ) from None
        except OSError as e:
            raise StorageError(f"Cannot create experiment directory {directory}: {e.strerror}.") from e
        try:
            write_json(os.path.join(directory, METADATA), metadata)
            index.add(metadata, os.path.relpath(directory, self.root), keys)
        except BaseException as error:
            if not isinstance(error, StorageError):  # e.g. interrupted after the row was written
                _quietly(index.remove, metadata["experiment_id"])
            _quietly(os.unlink, os.path.join(directory, METADATA))
            _remove_unfinished(directory)
            raise
        return metadata

    def _recover(self, info: dict | None) -> None:
        """Finish the commit of a process that died holding its commit lock.

        If the directory named in the lock has its experiment.json (written atomically),
        the experiment is committed and gets its index row, which may be missing;
        otherwise nothing was committed and the unfinished directory is removed.
        """
        directory = ((info or {}).get("data") or {}).get("directory")
        if not directory:
            return
        path = os.path.join(self.root, directory)
        metadata = read_json(os.path.join(path, METADATA), default=None)
        if metadata is not None:
            self.index.add(metadata, directory, metadata["keys"])
        else:
            _remove_unfinished(path)

    def _recover_dead_commits(self) -> None:
        """Break the commit locks of dead processes (recovering their commits), on opening."""
        locks = os.path.join(self.root, ".locks")
        try:
            names = os.listdir(locks)
        except OSError:
            return
        for name in names:
            path = os.path.join(locks, name)
            try:
                if name.endswith(".lock"):
                    Claim(path, on_break=self._recover).break_if_stale()
                elif TEMPORARY.match(name) and time.time() - os.stat(path).st_mtime > stale_after():
                    os.unlink(path)  # left by a process killed while creating a lock
            except OSError:
                pass  # e.g. a read-only storage: the next writer recovers it

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
        """Recreate the index from the files, also from an index that cannot be read."""
        index = self.__dict__.get("_index")
        if index is None or not index.is_current():
            if index is not None:
                index.close()
            self._check_writable()
            index = self.__dict__["_index"] = self._open_index()
            index.create()
        count = index.rebuild(self._index_entries(), progress, replace_unreadable=True)
        self._recover_dead_commits()
        return count

    def _index_entries(self):
        return ((meta, directory, meta["keys"]) for meta, directory in self.scan())


def _quietly(function, *args) -> None:
    try:
        function(*args)
    except Exception:
        pass


def _remove_unfinished(directory: str) -> None:
    """Remove an experiment directory whose commit did not finish (only temporary files in it)."""
    try:
        for name in os.listdir(directory):
            if TEMPORARY.match(name):
                _quietly(os.unlink, os.path.join(directory, name))
        os.rmdir(directory)
    except OSError:
        pass
