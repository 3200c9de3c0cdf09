"""Tabular records: rows appended to `records/<scope>.jsonl`, one durable write per `save()`."""

from __future__ import annotations

import json
import os
import time

from machinable.collection import Collection, pandas, with_datetimes
from machinable.errors import StorageError, ValidationError
from machinable.storage import durability

def _line_encoder():
    """Encode a row as one compact JSON line; the C encoder made once (json.dumps makes one per call)."""
    from json.encoder import c_make_encoder, encode_basestring_ascii

    if c_make_encoder is None:
        encode = json.JSONEncoder(separators=(",", ":"), default=str).encode
        return lambda row: (encode(row) + "\n").encode()
    markers: dict = {}  # the containers being encoded: a cycle is an error, not a RecursionError
    chunks = c_make_encoder(markers, str, encode_basestring_ascii, None, ":", ",", False, False, True)

    def encode(row) -> bytes:
        try:
            return ("".join(chunks(row, 0)) + "\n").encode()
        finally:
            markers.clear()  # an error leaves the containers it was in, whose ids may be reused

    return encode


_encode_line = _line_encoder()


class Record:
    """One row being filled: `record["loss"] = 0.1; record.save()`.

    `save()` copies the row into a shared memory map of `records/<scope>.jsonl`: the
    row is in the kernel's page cache when `save()` returns, so it survives the
    process being killed, as with `write()` but without a system call per row. Disk
    space is reserved ahead in chunks (a full disk is an error at reservation, never a
    crash) and the file is cut to its rows by `close()`; a killed writer leaves the
    reserved tail as NUL bytes, which readers and the next writer skip. A row cut short
    is ended with a newline before the next row, so it cannot swallow that row too.
    One process writes a file at a time: each attempt of a run has its own segment (see
    `segment()`) and `check` (the attempt's fence) is called before every row, so an
    attempt that was taken over can neither add rows nor touch the newer attempt's.
    """

    __slots__ = ("path", "_check", "_fd", "_map", "_window", "_offset", "_row", "_durable")

    CHUNK = 1 << 20

    def __init__(self, path: str, check=None):
        self.path = path
        self._check = check
        self._fd = None
        self._map = None
        self._window = 0  # file offset of the mapped window
        self._offset = 0  # where the next row goes
        self._row: dict = {}
        self._durable = durability.fsync()  # MACHINABLE_DURABILITY=fsync: each row on disk when save() returns

    def __setitem__(self, key, value):
        self._row[key] = value

    def __getitem__(self, key):
        return self._row[key]

    def update(self, values: dict = (), **more) -> None:
        self._row.update(values, **more)

    def save(self, **values) -> dict:
        if self._check is not None:
            self._check()
        row = self._row
        if values:
            row.update(values)
        row["_timestamp"] = time.time()
        try:
            line = _encode_line(row)
        except (TypeError, ValueError, RecursionError) as error:
            self._row = {}
            raise ValidationError(
                f"Cannot save the record to {self.path}: {_unencodable(row, error)}. "
                "The row was not saved and is discarded; the rows saved before it are kept, and later rows save as usual."
            ) from None
        if self._fd is None:
            line = self._open() + line
        start = self._offset - self._window
        end = start + len(line)
        if self._map is None or end > len(self._map):
            self._map_window(len(line))
            start = self._offset - self._window
            end = start + len(line)
        self._map[start:end] = line
        self._offset += len(line)
        self._row = {}
        if self._durable:
            os.fdatasync(self._fd)  # the mapped pages and the reserved size
        return row

    def _open(self) -> bytes:
        """Open the file at the end of its rows; returns b"\n" if that end is inside a row."""
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StorageError(f"Cannot save the record to {self.path}: {e.strerror}; the row was not saved.") from e
        self._offset = _end_of_rows(self._fd)
        if self._offset and os.pread(self._fd, 1, self._offset - 1) != b"\n":
            return b"\n"
        return b""

    def _map_window(self, needed: int) -> None:
        """Map a window from the page holding the write position, reserving its disk space."""
        import mmap

        if self._map is not None:
            self._map.close()
            self._map = None
        self._window = self._offset - self._offset % mmap.ALLOCATIONGRANULARITY
        least = self._offset - self._window + needed
        for length in (max(self.CHUNK, least), least):  # a nearly full disk: reserve just this row
            try:
                os.posix_fallocate(self._fd, self._window, length)
                break
            except OSError as e:
                if length == least:
                    raise StorageError(
                        f"Cannot save the record to {self.path}: {e.strerror} while reserving space; "
                        "the row was not saved."
                    ) from e
        self._map = mmap.mmap(self._fd, length, offset=self._window)

    def close(self, cut: bool = True) -> None:
        """Release the file, cut to its rows (unless `cut` is False: then it is left as it is)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            try:
                if cut:
                    os.ftruncate(self._fd, self._offset)
            finally:
                os.close(self._fd)
                self._fd = None

    def __del__(self):
        self.close()


def _unencodable(row: dict, error: Exception) -> str:
    """Which key of `row` has no JSON form, and why (`error` is what encoding the whole row raised)."""
    for key, value in row.items():
        if not isinstance(key, (str, int, float, bool, type(None))):
            return f"the key {key!r} is a {type(key).__name__}; keys must be strings (or numbers)"
        try:
            _encode_line({key: value})
        except (TypeError, ValueError, RecursionError) as reason:
            if isinstance(reason, RecursionError) or "Circular" in str(reason):
                return f"the value of {key!r} contains itself (a cycle) or is nested too deeply"
            return f"the value of {key!r} cannot be encoded as JSON ({type(reason).__name__}: {reason})"
    return f"it cannot be encoded as JSON ({type(error).__name__}: {error})"


def _end_of_rows(fd: int) -> int:
    """The size of the file without the NUL bytes a killed writer's reservation left at its end."""
    end = os.fstat(fd).st_size
    while end:
        block = os.pread(fd, min(end, 1 << 20), end - min(end, 1 << 20))
        stripped = block.rstrip(b"\0")
        end -= len(block) - len(stripped)
        if stripped:
            return end
    return 0


def segment(directory: str, scope: str, attempt: int | None = None) -> str:
    """The file that attempt number `attempt` of a run writes `scope`'s rows to.

    The first attempt (and writing outside a run) uses `<scope>.jsonl`, attempt N uses
    `<scope>.jsonl.N`: no two attempts share a file, and no scope's name can clash with
    another scope's segment.
    """
    name = f"{scope}.jsonl" if attempt in (None, 1) else f"{scope}.jsonl.{attempt}"
    return os.path.join(directory, name)


def segments(directory: str, scope: str) -> list[str]:
    """The existing segment files of `scope`, in the order of their attempts."""
    base = segment(directory, scope)
    folder, stem = os.path.split(base)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    suffixes = (name[len(stem) + 1 :] for name in names if name.startswith(stem + "."))
    attempts = sorted(int(suffix) for suffix in suffixes if suffix.isdigit())
    return ([base] if stem in names else []) + [segment(directory, scope, attempt) for attempt in attempts]


def scope_of(name: str) -> str | None:
    """The scope a segment file name belongs to, None for other files."""
    stem, dot, attempt = name.rpartition(".")
    if name.endswith(".jsonl"):
        return name[: -len(".jsonl")]
    if dot and attempt.isdigit() and stem.endswith(".jsonl"):
        return stem[: -len(".jsonl")]
    return None


MAX_LINE = 1 << 26  # 64 MiB: a longer line is not read as a row, so reading needs bounded memory


def _open(path: str):
    """The segment file opened for reading; None if it does not exist."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise StorageError(
            f"Cannot read the records at {path}: it is a directory, not a records file. "
            "Move it elsewhere to read the rows saved to this scope."
        ) from None
    except OSError as e:
        raise StorageError(f"Cannot read the records at {path}: {e.strerror}.") from e


def _row(line: bytes):
    """The row a line holds; None for a blank line or NUL padding; False for a line that holds no row."""
    line = line.rstrip(b"\r\n").strip(b"\0")  # NULs: space reserved by a running or killed writer
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):
        return False  # e.g. a line cut short by a crash mid-write is not a saved row
    return row if isinstance(row, dict) else False


def attempt_of(path: str) -> int:
    """The attempt whose segment a records file is (`<scope>.jsonl` is the first, `<scope>.jsonl.N` the N-th)."""
    suffix = path.rpartition(".")[2]
    return int(suffix) if suffix.isdigit() else 1


class Rows:
    """The rows of segment files, read one line at a time in order; `skipped` counts damaged lines.
    Each row says which attempt of the run saved it (`_attempt`, from its segment)."""

    def __init__(self, *paths: str):
        self.paths = paths
        self.skipped = 0

    def __iter__(self):
        for path in self.paths:
            f = _open(path)
            if f is None:
                continue
            attempt = attempt_of(path)
            with f:
                while line := f.readline(MAX_LINE):
                    if len(line) == MAX_LINE and not line.endswith(b"\n"):
                        while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                            pass  # an overlong line: passed over, never held whole
                        self.skipped += 1
                        continue
                    row = _row(line)
                    if row:
                        row.setdefault("_attempt", attempt)
                        yield row
                    elif row is False:
                        self.skipped += 1


class Records(Collection):
    """The saved rows of one scope, from every attempt's segment in order.

    `skipped` is the number of damaged lines (not a JSON object) that were passed over.
    """

    skipped = 0

    def rows(self) -> list[dict]:
        """For tables: `_timestamp` as a local date and time."""
        from machinable.times import local

        return [{**row, "_timestamp": local(row["_timestamp"])} if isinstance(row.get("_timestamp"), (int, float))
                else dict(row) for row in self]

    @classmethod
    def read(cls, *paths: str) -> "Records":
        rows = Rows(*paths)
        records = cls(rows)
        records.skipped = rows.skipped
        return records

    @classmethod
    def stream(cls, *paths: str) -> Rows:
        """The rows one at a time, in constant memory (`skipped` is complete once they are all read)."""
        return Rows(*paths)

    @staticmethod
    def dataframe(*paths: str, chunk: int = 100_000):
        """The rows as a pandas DataFrame, built `chunk` rows at a time: the memory is the frame's plus
        one chunk of rows (`records().as_dataframe()` holds every row as a dict first)."""
        frames, rows = [], []
        for row in Rows(*paths):
            rows.append(row)
            if len(rows) == chunk:
                frames.append(pandas().DataFrame(rows))
                rows = []
        frames.append(pandas().DataFrame(rows))
        return with_datetimes(pandas().concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])

    @classmethod
    def tail(cls, *paths: str, n: int = 10) -> "Records":
        """The last `n` rows, read from the end of the last segments (the rest of the files is not read)."""
        from machinable.tail import lines_backwards

        found = []
        for path in reversed(paths):
            f = _open(path) if len(found) < n else None
            if f is None:
                continue
            with f:
                for line in lines_backwards(f, MAX_LINE):
                    if len(found) >= n:
                        break
                    row = _row(line)
                    if row:
                        found.append(row)
        return cls(reversed(found))

    @staticmethod
    def count(*paths: str) -> int:
        """How many lines the segments hold (rows, and damaged lines if any), counted without parsing them."""
        from machinable.tail import count_lines

        total = 0
        for path in paths:
            f = _open(path)
            if f is not None:
                with f:
                    total += count_lines(f)
        return total
