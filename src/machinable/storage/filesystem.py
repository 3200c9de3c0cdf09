"""The default storage: one directory per experiment, `<directory>/<group>/<experiment_id>`."""

from __future__ import annotations

import functools
import os
import time
import warnings
from dataclasses import dataclass

from machinable import ids, summary
from machinable.identity import Request
from machinable.errors import ExperimentNotFound, StorageError
from machinable.storage import Storage
from machinable.storage.claim import Claim, stale_after
from machinable.errors import CorruptMetadata
from machinable.storage import durability, metadata as stored
from machinable.storage.files import TEMPORARY, probe_writable, write_json
from machinable.storage.identities import Markers
from machinable.storage.index import Index, MemoryIndex
from machinable.storage.index_rows import Entry
from machinable.status import indexed_status

METADATA = stored.METADATA


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

    @functools.cached_property
    def markers(self) -> Markers:
        return Markers(self.root)

    @property
    def index(self) -> Index:
        """The lookup index, opened once per process.

        Opening it rebuilds an index that is missing, was never completely built (a crash
        while creating it) or is stale (it misses commits: restored from an older backup),
        and finishes the commits of processes that died holding a commit lock (`_recover`):
        after any crash the index agrees with the files again. A storage this user cannot
        write is read through its index opened immutable, or, if that is missing or
        stale, through a private index built in memory from the files.
        """
        index = self.__dict__.get("_index")
        if index is None or not index.is_current():  # (re)open, also after the file was deleted or replaced
            if index is not None:
                index.close()
            if not self.is_writable():
                index = self.__dict__["_index"] = self._read_only_index()
                return index
            index = self._open_index()
            if not index.exists():
                index.create()
            if not index.is_built():
                self._refill(index, lambda entries, kept: index.rebuild(
                    entries, if_needed=True, synced=self.markers.version, kept=kept))
            elif self._is_stale(index):  # e.g. restored from an older backup: brought up to date
                self._refill(index, lambda entries, kept: index.catch_up(entries, self.markers.version))
            self.__dict__["_index"] = index
            self._recover_dead_commits()
        return index

    def _open_index(self, read_only: bool = False) -> Index:
        return Index(os.path.join(self.root, "index.sqlite"), os.path.join(self.root, ".locks", "index.lock"), read_only)

    def _is_stale(self, index: Index) -> bool:
        """Whether identity markers were created that the index has not seen (or it predates them).

        A commit in progress has created its marker but not yet its index row: while some
        live process holds a commit lock, a difference is that, not staleness (no rebuild).
        """
        version = self.markers.version()
        if version is None:  # no markers yet: a storage written before them gets them by one rebuild
            return index.count() > 0
        return index.synced() != version and not self._committing()

    def _committing(self) -> bool:
        locks = os.path.join(self.root, ".locks")
        try:
            names = os.listdir(locks)
        except OSError:
            return False
        return any(
            name.endswith(".lock") and name != "index.lock" and Claim(os.path.join(locks, name)).is_held()
            for name in names
        )

    def _read_only_index(self) -> Index:
        """The storage's own index if it is usable as it is, else a private one built from the files.

        An index written before identity markers existed (no `synced()`) is trusted: its
        staleness cannot be told, and rescanning every experiment at every start would make
        an archived storage slow to read.
        """
        index = self._open_index(read_only=True)
        try:
            if index.exists() and (index.synced() is None or not self._is_stale(index)):
                return index
        except StorageError:  # unusable as it is; nothing may be repaired here
            pass
        index.close()
        private = MemoryIndex()
        private.rebuild(self._index_entries([], mark=False))
        return private


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

    def check_writable(self) -> None:
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
        durability.fsync()  # a durability setting it does not know: an error before anything is written
        self.check_writable()
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
        marked = []
        try:
            durability.sync_directory(group_directory)
            write_json(os.path.join(directory, METADATA), metadata)
            relative = os.path.relpath(directory, self.root)
            marked = self._mark(metadata["identity"], metadata["seed"], relative)
            index.add(Entry(metadata, relative, keys), self.markers.version)
        except BaseException as error:
            if not isinstance(error, StorageError):  # e.g. interrupted after the row was written
                _quietly(index.remove, metadata["experiment_id"])
            for path in marked:
                _quietly(os.unlink, path)
            _quietly(os.unlink, os.path.join(directory, METADATA))
            _remove_unfinished(directory)
            raise
        return metadata

    def _mark(self, identity: str, seed: int, directory: str) -> list[str]:
        return self.markers.mark(
            identity, seed, directory, lambda previous: os.path.exists(os.path.join(self.root, previous, METADATA))
        )

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
        metadata = stored.read(path, default=None)
        if metadata is not None:
            self._mark(metadata["identity"], metadata["seed"], directory)
            self.index.add(self._entry(metadata, directory), self.markers.version)
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
        """The oldest match in the index; if the index has none, the experiment its identity marker names
        (the index is stale then: the experiment gets its row)."""
        for _, directory in self.index.find_identity(identity, seed):
            path = os.path.join(self.root, directory)
            if os.path.exists(os.path.join(path, METADATA)):
                return stored.read(path)
        directory = self.markers.lookup(identity, seed)
        if directory is None:
            return None
        metadata = stored.read(os.path.join(self.root, directory), default=None)
        if metadata is None or metadata["identity"] != identity or (seed is not None and metadata["seed"] != seed):
            return None
        if not self.index.read_only:  # a stale index, or the commit of a process that died before its row
            self._recover_dead_commits()
            self.index.add(self._entry(metadata, directory))
        return metadata

    def locate(self, experiment_id: str) -> str:
        directory = self.index.directory(experiment_id) if os.path.isdir(self.root) else None
        if directory is None:
            raise ExperimentNotFound(
                f"No experiment '{experiment_id}' in storage {self.root}. If its directory was "
                "copied in by hand, run `machinable index rebuild`."
            )
        return os.path.join(self.root, directory)

    def find_by_id(self, experiment_id: str) -> dict:
        return stored.read(self.locate(experiment_id))

    def select(self, where=None, sort=None, offset: int = 0, limit: int | None = None) -> tuple[list[str], bool]:
        if not os.path.isdir(self.root):
            return [], True
        rows, exact = self.index.select(where, sort, offset, limit)
        found = (os.path.join(self.root, row[-1]) for row in rows)
        return [directory for directory in found if os.path.isdir(directory)], exact

    def index_status(self, experiment_id: str, status: str) -> None:
        self.index.set_status(experiment_id, status)

    def index_summary(self, experiment_id: str, summary: dict) -> None:
        self.index.set_summary(experiment_id, summary)

    def count(self, where=None) -> int:
        return self.index.count_where(where) if os.path.isdir(self.root) else 0

    def modules(self) -> list[str]:
        return self.index.distinct("module") if os.path.isdir(self.root) else []

    def groups(self) -> list[str]:
        return self.index.distinct("grp") if os.path.isdir(self.root) else []

    def search(self) -> list[dict]:
        found = (stored.read(directory, None) for directory in self.select()[0])
        return [metadata for metadata in found if metadata is not None]

    # --- the index ----------------------------------------------------------------

    def scan(self, on_damaged=None):
        """Metadata and directory of every readable experiment stored on disk.

        A damaged experiment.json is skipped and passed to `on_damaged(error)` (a
        CorruptMetadata naming the file: its `path`); by default a RuntimeWarning says so.
        """
        for current, subdirectories, files in os.walk(self.root):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            if METADATA in files:
                subdirectories[:] = []
                try:
                    metadata = stored.read(current)
                except CorruptMetadata as error:
                    (on_damaged or _warn_skipped)(error)
                    continue
                yield metadata, os.path.relpath(current, self.root)

    def rebuild_index(self, progress=None, on_damaged=None) -> int:
        """Recreate the index from the files, also from an index that cannot be read.

        Damaged experiments are skipped (see `scan`) but keep the rows they had; the
        others are indexed."""
        index = self.__dict__.get("_index")
        self.check_writable()
        if index is None or not index.is_current() or index.read_only or isinstance(index, MemoryIndex):
            if index is not None:
                index.close()
            index = self.__dict__["_index"] = self._open_index()
            index.create()
        count = self._refill(index, lambda entries, kept: index.rebuild(
            entries, progress, replace_unreadable=True, synced=self.markers.version, kept=kept), on_damaged)
        self._recover_dead_commits()
        return count

    def _refill(self, index: Index, fill, on_damaged=None) -> int:
        """`fill(entries, damaged)` with the stored experiments; then the damaged ones that
        kept their index rows get their identity markers (so they are never taken for new)."""
        damaged = []
        count = fill(self._index_entries(damaged, on_damaged), damaged)
        for identity, seed, directory in index.identities_at(damaged):
            self._mark(identity, seed, directory)
        return count

    def _index_entries(self, damaged: list, on_damaged=None, mark: bool = True):
        """`Entry`s of the readable experiments; the directories of damaged ones go to
        `damaged`. `mark` creates the readable ones' missing identity markers."""

        def skip(error: CorruptMetadata) -> None:
            damaged.append(os.path.relpath(os.path.dirname(error.path), self.root))
            (on_damaged or _warn_skipped)(error)

        for metadata, directory in self.scan(skip):
            if mark:
                self._mark(metadata["identity"], metadata["seed"], directory)
            yield self._entry(metadata, directory)

    def _entry(self, metadata: dict, directory: str) -> Entry:
        """The index entry of a stored experiment, with the summary and status its files hold."""
        path = os.path.join(self.root, directory)
        return Entry(metadata, directory, metadata["keys"], summary.flat(summary.read(path)), indexed_status(path))


def _warn_skipped(error: CorruptMetadata) -> None:
    warnings.warn(f"Not indexed, because it cannot be read: {error}", RuntimeWarning, stacklevel=3)


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
