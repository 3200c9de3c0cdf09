"""The SQLite index of a storage directory: a cache of the experiment files for fast lookup.

The files stay the source of truth; `rebuild()` recreates the index from them with
nothing lost. Rows are added when an experiment is committed. The schema version
(`PRAGMA user_version`) is set by the rebuild that fills a new index, in the same
transaction, so an index whose creation was cut short reads as not built.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time

from machinable.errors import IndexCorrupt, StorageError
from machinable.storage.claim import Claim
from machinable.storage import durability, selection
from machinable.storage.files import probe_writable
from machinable.storage.index_rows import SCHEMA, SCHEMA_VERSION, Entry, insert

_STATE = "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value)"


def _set_synced(db, synced) -> None:
    """Remember the identity markers' version this index has caught up with (see `Index.synced`).

    `synced` (a callable) is called inside the write transaction: commits are serialized by
    it, so the version stored last is the newest, never one read before another commit's.
    """
    version = synced() if synced is not None else None
    if version is not None:
        db.execute(_STATE)
        db.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('identities', ?)", (version,))


def _batches(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _while_locked(statement, timeout: float = 30.0):
    """Run `statement()`, retrying while SQLite says "database is locked".

    Switching a new file to WAL needs an exclusive lock, and SQLite reports another
    process's connection (opening the same new index at the same moment) as locked at
    once instead of waiting for the busy timeout.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            return statement()
        except sqlite3.OperationalError as e:
            if "database is locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def _write(db):
    """A write transaction that takes the database's write lock up front."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class NewerIndex(IndexCorrupt):
    """The index was written by a newer machinable: never replaced, to not lose what it holds."""


def _is_damage(error: BaseException) -> bool:
    """Whether an error means the file is no usable index (not busy, full or read-only: those pass)."""
    if isinstance(error, NewerIndex):
        return False
    error = getattr(error, "sqlite_error", error)
    name = getattr(error, "sqlite_errorname", None)  # Python 3.11+
    if name is not None:
        return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_ERROR")  # SQLITE_ERROR: e.g. no such table
    return not isinstance(error, sqlite3.OperationalError) or "no such table" in str(error)


class Index:
    def __init__(self, path: str, lock_path: str | None = None, read_only: bool = False):
        self.path = path
        self.lock_path = lock_path  # serializes creating the file (see `create()`)
        self.read_only = read_only  # opened immutable: nothing is written, not even SQLite's lock files
        self._db = None
        self._pid = None
        self._inode = None  # of the file the connection has open

    def _hint(self) -> str:
        return f"run `machinable index rebuild` (storage {os.path.dirname(self.path)}) to recreate it from the files."

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            self._db = self._connect(self.path)
            self._pid = os.getpid()
            self._inode = os.stat(self.path).st_ino
        return self._db

    def _connect(self, path: str) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only(path)
        try:
            db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            _while_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
            db.execute(f"PRAGMA synchronous={'FULL' if durability.fsync() else 'NORMAL'}")
            version = _while_locked(lambda: db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise NewerIndex(
                    f"The index {path} has schema version {version}, newer than this machinable "
                    f"understands ({SCHEMA_VERSION}). Upgrade machinable, or delete it and {self._hint()}"
                )
            if version < SCHEMA_VERSION:  # new, cut short, or of an older schema: the tables, empty
                with _write(db):
                    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # not done meanwhile
                        for table in ("experiments", "keysets", "leaves"):  # rows of an older schema: rebuilt
                            db.execute(f"DROP TABLE IF EXISTS {table}")
                        for statement in SCHEMA.split(";"):
                            if statement.strip():
                                db.execute(statement)
            return db
        except NewerIndex:
            db.close()
            raise
        except sqlite3.DatabaseError as e:
            directory = os.path.dirname(path)
            try:
                probe_writable(directory)
            except OSError as problem:
                raise StorageError(
                    f"The index {path} cannot be opened ({e}): its directory is not writable "
                    f"({problem.strerror}), and SQLite keeps its lock files there, also for reading. "
                    "Make the storage directory writable."
                ) from None
            if not _is_damage(e):
                raise StorageError(f"Cannot use the index {path}: {e}.") from e
            error = IndexCorrupt(f"The index {path} cannot be read ({e}); {self._hint()}")
            error.sqlite_error = e
            raise error from None

    def _connect_read_only(self, path: str) -> sqlite3.Connection:
        """The index of a storage this user cannot write, opened without writing anything.

        While its owner has it open (the -wal and -shm files exist), it is opened read-only
        through them, so commits in the write-ahead log are seen; otherwise immutable (no
        lock files are needed, and there is no log to miss).
        """
        from urllib.parse import quote

        live = all(os.access(path + suffix, os.R_OK) for suffix in ("-wal", "-shm"))
        for mode in (["mode=ro"] if live else []) + ["immutable=1"]:
            try:
                db = sqlite3.connect(f"file:{quote(path)}?{mode}", uri=True, timeout=30, check_same_thread=False)
                version = db.execute("PRAGMA user_version").fetchone()[0]
                break
            except sqlite3.DatabaseError as e:
                if mode == "immutable=1" or _is_damage(e):
                    raise IndexCorrupt(f"The index {path} cannot be read ({e}); {self._hint()}") from None
                # e.g. the -shm cannot be used: read the file as it is (the newest commits may be missed)
        if version != SCHEMA_VERSION:
            db.close()
            raise IndexCorrupt(f"The index {path} is not built by this machinable; {self._hint()}")
        return db

    def __getstate__(self):
        return {"path": self.path, "read_only": self.read_only, "_db": None, "_pid": None, "_inode": None}

    @contextlib.contextmanager
    def _creating(self):
        """Held while the file is created or replaced, by every process that does so.

        Creating drops the WAL files a deleted index left (they would corrupt the new one);
        unlocked, a process could drop the WAL of an index another process has just
        created, whose commits would then go to a deleted file.
        """
        if self.lock_path is None:
            yield
            return
        lock = Claim(self.lock_path)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def create(self) -> None:
        """Create the file (empty tables, not yet built) unless it exists."""
        with self._creating():
            if not self.exists():
                self._remove_stale_journal()
                self.db

    def _remove_stale_journal(self) -> None:
        for suffix in ("-wal", "-shm"):
            _remove(self.path + suffix)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def is_current(self) -> bool:
        """The file exists and, once connected, is still the one the connection has open
        (not deleted or replaced by another process)."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            return False
        return self._inode is None or self._pid != os.getpid() or inode == self._inode

    def is_built(self) -> bool:
        """False for a new index, or one whose first rebuild never completed."""
        return self.exists() and self._query("PRAGMA user_version")[0][0] >= SCHEMA_VERSION

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None
        self._inode = None

    # --- writing ------------------------------------------------------------------

    def add(self, entry: Entry, synced=None) -> None:
        """Add one experiment's row; `synced()` is the identity markers' version now (see `_set_synced`)."""
        meta = entry.meta
        try:
            with _write(self.db) as db:
                insert(db, entry)
                _set_synced(db, synced)
        except sqlite3.Error as e:
            raise StorageError(f"Cannot add experiment {meta['experiment_id']} to the index {self.path}: {e}.") from e

    def set_status(self, experiment_id: str, status: str) -> None:
        """Record an experiment's status word (see `Entry`) as its run starts and ends."""
        try:
            with _write(self.db) as db:
                db.execute("UPDATE experiments SET status = ? WHERE id = ?", (status, experiment_id))
        except sqlite3.Error as e:
            raise StorageError(f"Cannot index the status of experiment {experiment_id} in {self.path}: {e}.") from e

    def set_summary(self, experiment_id: str, summary: dict) -> None:
        """Replace the summary metrics an experiment's row is found and sorted by."""
        try:
            with _write(self.db) as db:
                selection.replace_summary(db, experiment_id, summary)
        except sqlite3.Error as e:
            raise StorageError(f"Cannot index the summary of experiment {experiment_id} in {self.path}: {e}.") from e

    def remove(self, experiment_id: str) -> None:
        with _write(self.db) as db:
            db.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))
            db.execute("DELETE FROM leaves WHERE id = ?", (experiment_id,))

    def rebuild(self, entries, progress=None, replace_unreadable: bool = False, if_needed: bool = False,
                synced=None, kept=()) -> int:
        """Refill the index from `Entry`s; returns the count.

        Everything happens in one write transaction, with `entries` read lazily inside
        it: concurrent commits wait for it, so none is lost, and readers see either the
        old rows or the new ones. Rows of directories not among the entries are removed,
        except those in `kept` (filled while the entries are read: damaged experiments,
        whose rows stay so that they are never taken for new). `replace_unreadable`
        starts afresh from a file that is not a usable index (truncated, overwritten,
        tables missing); `if_needed` does nothing if the index was built meanwhile (by
        another process). `synced()` is the identity markers' version the index now reflects.
        """
        started = False
        try:
            db = self.db
            with _write(db):
                if if_needed and db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                    return db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]
                for table in ("experiments", "keysets"):  # tables missing: a damaged index, replaced below
                    db.execute(f"SELECT 1 FROM {table} LIMIT 1")
                db.execute("CREATE TEMP TABLE IF NOT EXISTS scanned (directory TEXT PRIMARY KEY)")
                db.execute("DELETE FROM scanned")
                started = True  # from here on `entries` are consumed: no second attempt
                count = 0
                for entry in entries:
                    insert(db, entry)
                    db.execute("INSERT OR IGNORE INTO scanned (directory) VALUES (?)", (entry.directory,))
                    count += 1
                    if progress:
                        progress()
                db.executemany("INSERT OR IGNORE INTO scanned (directory) VALUES (?)", ((d,) for d in kept))
                db.execute("DELETE FROM experiments WHERE directory NOT IN (SELECT directory FROM scanned)")
                db.execute("DELETE FROM leaves WHERE id NOT IN (SELECT id FROM experiments)")
                db.execute(
                    "DELETE FROM keysets WHERE NOT EXISTS (SELECT 1 FROM experiments e "
                    "WHERE e.module = keysets.module AND e.keys_hash = keysets.keys_hash)"
                )
                _set_synced(db, synced)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return count
        except (IndexCorrupt, sqlite3.DatabaseError) as e:
            if started or not replace_unreadable or not _is_damage(e):
                if isinstance(e, IndexCorrupt):
                    raise
                raise StorageError(f"Cannot rebuild the index {self.path}: {e}.") from e
        self.close()
        with self._creating():
            _remove(self.path)
            self._remove_stale_journal()
            self.db
        return self.rebuild(entries, progress, if_needed=if_needed, synced=synced, kept=kept)

    def catch_up(self, entries, synced, batch: int = 500) -> int:
        """Add the rows of `entries` (all stored experiments) to an index that misses some.

        For a stale index (e.g. restored from a backup): the files are read outside any
        transaction and written in short ones, so commits go on meanwhile; nothing is
        removed. `synced()` is recorded at the end. Returns the count of entries.
        """
        count = 0
        try:
            for rows in _batches(entries, batch):
                with _write(self.db) as db:
                    for entry in rows:
                        insert(db, entry)
                count += len(rows)
            with _write(self.db) as db:
                _set_synced(db, synced)
        except sqlite3.Error as e:
            raise StorageError(f"Cannot bring the index {self.path} up to date: {e}.") from e
        return count

    # --- reading ------------------------------------------------------------------

    def _query(self, sql: str, args=()) -> list:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"The index {self.path} cannot be read ({e}); {self._hint()}") from None

    def synced(self) -> int | None:
        """The identity markers' version (`Markers.version()`) of the last commit or rebuild this index saw."""
        try:
            rows = self.db.execute("SELECT value FROM state WHERE key = 'identities'").fetchall()
        except sqlite3.DatabaseError:  # an index written before markers existed: no state table
            return None
        return rows[0][0] if rows else None

    def find_identity(self, identity: str, seed: int | None = None) -> list[tuple[str, str]]:
        """(id, directory) of experiments with this identity, oldest first."""
        if seed is None:
            rows = self._query("SELECT id, directory FROM experiments WHERE identity = ? ORDER BY created, id", (identity,))
        else:
            rows = self._query(
                "SELECT id, directory FROM experiments WHERE identity = ? AND seed = ? ORDER BY created, id",
                (identity, seed),
            )
        return rows

    def keysets(self, module: str) -> list[list[str]]:
        return [json.loads(k) for (k,) in self._query("SELECT keys FROM keysets WHERE module = ?", (module,))]

    def identities_at(self, directories) -> list[tuple[str, int, str]]:
        """(identity, seed, directory) of the rows of these directories."""
        rows = []
        for directory in directories:
            rows += self._query("SELECT identity, seed, directory FROM experiments WHERE directory = ?", (directory,))
        return rows

    def directory(self, experiment_id: str) -> str | None:
        rows = self._query("SELECT directory FROM experiments WHERE id = ?", (experiment_id,))
        return rows[0][0] if rows else None

    def select(self, where=None, sort=None, offset: int = 0, limit: int | None = None) -> tuple[list[tuple], bool]:
        """Rows (id, directory) that meet `where` (a `machinable.conditions.Where`), ordered by
        `sort` ((key, field, descending) triples, then newest first), and whether SQL decided
        exactly (see `machinable.storage.selection`)."""
        from machinable.conditions import Where

        args: list = []
        try:
            compiled = selection.Compiled(self.db, where or Where())
            joins, order = selection.order_by(sort, args)
            sql = f"SELECT e.id, e.directory FROM experiments e {joins} WHERE {compiled.sql} ORDER BY {order}"
            args += compiled.args
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                args += [limit, offset]
            rows = self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"The index {self.path} cannot be read ({e}); {self._hint()}") from None
        return rows, compiled.exact

    def count_where(self, where=None) -> int:
        """How many rows `select(where)` gives (more than meet `where` where it is not exact)."""
        from machinable.conditions import Where

        try:
            compiled = selection.Compiled(self.db, where or Where())
            return self.db.execute(f"SELECT COUNT(*) FROM experiments e WHERE {compiled.sql}", compiled.args).fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"The index {self.path} cannot be read ({e}); {self._hint()}") from None

    def distinct(self, column: str) -> list[str]:
        """The values of a column (module, grp) among all rows, sorted."""
        assert column in ("module", "grp")
        return [value for (value,) in self._query(f"SELECT DISTINCT {column} FROM experiments ORDER BY {column}")]

    def count(self) -> int:
        return self._query("SELECT COUNT(*) FROM experiments")[0][0]


class MemoryIndex(Index):
    """A private index in memory, built from the files: for a storage whose index this user cannot use."""

    def __init__(self):
        super().__init__(":memory:")

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            self._db = self._connect(self.path)
            self._pid = os.getpid()
        return self._db

    def exists(self) -> bool:
        return True

    def is_current(self) -> bool:
        return True
