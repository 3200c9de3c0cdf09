"""Identity markers: what makes commits exact even when the index is stale.

Committing an experiment creates `<storage>/.identities/<identity>` and
`<identity>.<seed>` exclusively (O_EXCL), each naming the directory of the first
experiment with that identity (and seed). They live with the files, not in the index, so
an index restored from an older backup cannot hide a committed experiment: a lookup that
the index misses checks the marker (one `open()`), and `get()`/`launch()` find it.

The directory's mtime changes whenever a marker is created; the index stores the mtime
it has seen (`Index.synced()`), so an index that missed commits is detected on opening.
"""

from __future__ import annotations

import os

from machinable.storage import durability
from machinable.storage.files import write_atomic

DIRECTORY = ".identities"


class Markers:
    def __init__(self, root: str):
        self.directory = os.path.join(root, DIRECTORY)

    def _path(self, identity: str, seed: int | None) -> str:
        return os.path.join(self.directory, identity if seed is None else f"{identity}.{seed}")

    def lookup(self, identity: str, seed: int | None = None) -> str | None:
        """The directory (relative to the storage) the marker names, or None."""
        try:
            with open(self._path(identity, seed), encoding="utf-8") as f:
                return f.read().strip() or None
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def mark(self, identity: str, seed: int, directory: str, is_stored) -> list[str]:
        """Create the markers of a new experiment unless an earlier one holds them; returns the created paths.

        A marker whose experiment is no longer stored (`is_stored(directory)` is False) is taken over.
        """
        os.makedirs(self.directory, exist_ok=True)
        created = []
        for path in (self._path(identity, None), self._path(identity, seed)):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                previous = self.lookup(*_split(os.path.basename(path)))
                if previous is None or not is_stored(previous):
                    write_atomic(path, directory.encode())
                    created.append(path)
                continue
            try:
                os.write(fd, directory.encode())
                if durability.fsync():
                    os.fsync(fd)
            finally:
                os.close(fd)
            created.append(path)
        if created:
            durability.sync_directory(self.directory)
        return created

    def version(self) -> int | None:
        """Changes whenever a marker is created or replaced (None while there is none)."""
        try:
            return os.stat(self.directory).st_mtime_ns
        except OSError:
            return None


def _split(name: str) -> tuple[str, int | None]:
    identity, _, seed = name.partition(".")
    return identity, int(seed) if seed else None
