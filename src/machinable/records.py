"""Tabular records: rows appended to `records/<scope>.jsonl`, one durable write per `save()`."""

from __future__ import annotations

import json
import os
import time

from machinable.collection import Collection
from machinable.errors import StorageError

_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


class Record:
    """One row being filled: `record["loss"] = 0.1; record.save()`.

    `save()` appends the row with a `_timestamp` in a single `write` to a file held
    open in append mode, so a row is in the file (and survives the process being
    killed) as soon as `save()` returns; nothing is buffered in the process. A row cut
    short (a process killed mid-write, a full disk) is ended with a newline before the
    next row, so it cannot swallow that row too; readers skip it.
    """

    __slots__ = ("path", "_fd", "_row", "_newline")

    def __init__(self, path: str):
        self.path = path
        self._fd = None
        self._row: dict = {}
        self._newline = b""  # b"\n" while the file ends inside a row

    def __setitem__(self, key, value):
        self._row[key] = value

    def __getitem__(self, key):
        return self._row[key]

    def update(self, values: dict = (), **more) -> None:
        self._row.update(values, **more)

    def save(self, **values) -> dict:
        row = self._row
        if values:
            row.update(values)
        row["_timestamp"] = time.time()
        if self._fd is None:
            self._open()
        line = self._newline + (_encode(row) + "\n").encode()
        try:
            written = os.write(self._fd, line)
        except OSError as e:
            self._newline = b"\n"
            raise StorageError(f"Cannot save the record to {self.path}: {e.strerror}; the row was not saved.") from e
        if written != len(line):
            self._newline = b"\n"
            raise StorageError(f"Cannot save the record to {self.path}: only part of the row was written (disk full?).")
        self._newline = b""
        self._row = {}
        return row

    def _open(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            self._newline = b"\n"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.close()


class Records(Collection):
    """The saved rows of one scope."""

    @classmethod
    def read(cls, path: str) -> "Records":
        try:
            with open(path, "rb") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return cls()
        rows = cls()
        for line in lines:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash mid-write is not a saved row
        return rows
