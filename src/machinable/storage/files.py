"""Small file helpers: atomic JSON writes, readable errors, safe data paths and formats."""

from __future__ import annotations

import itertools
import json
import os
import re

from machinable.errors import CorruptMetadata, StorageError, UnsafePath, UnsupportedFormat
from machinable.storage import durability
from machinable.storage.figures import IMAGE_FORMATS, PNG_MAGIC, decode_image, encode_image, is_svg

DATA_FORMATS = (".txt", ".json", ".npy", ".p", ".pkl", *IMAGE_FORMATS)


_temporary_names = itertools.count()

# write_atomic's (and claim creation's) temporary files: .<name>.<pid>.<n>.tmp
TEMPORARY = re.compile(r"^\..+\.\d+\.[0-9a-f]+\.tmp$")


def write_atomic(path: str, data: bytes, check=None) -> None:
    """Write via a temporary file in the same directory and rename it into place.

    A crash at any point leaves either the old file or the new one, never a mix; under
    `MACHINABLE_DURABILITY=fsync` (see `durability`) also a power loss after it returned.
    `check()` (a run's fence) is called just before the rename: if it raises, the
    file is left as it was.
    """
    directory, name = os.path.split(path)
    durable = durability.fsync()
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_temporary_names)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        raise StorageError(f"Cannot write {path}: {e.strerror}. Check that {directory} is writable.") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if check is not None:
            check()
        os.replace(tmp, path)
        if durable:
            durability.sync_directory(directory or ".")
    except BaseException as e:
        _remove_quietly(tmp)
        if isinstance(e, OSError):
            raise StorageError(f"Cannot write {path}: {e.strerror}; the previous file is unchanged.") from e
        raise


def probe_writable(directory: str) -> None:
    """Create and remove a file in `directory`; raises the OSError if that is not possible."""
    probe = os.path.join(directory, f".probe.{os.getpid()}.{next(_temporary_names)}.tmp")
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    os.unlink(probe)


def remove_temporaries(directory: str, recursive: bool = False) -> None:
    """Remove the temporary files that writers killed or superseded mid-write left in `directory`.

    Only for directories no live process may write to (e.g. under the experiment's claim).
    A superseded writer that was paused before its rename then finds its file gone and
    cannot replace the newer attempt's file.
    """
    for current, subdirectories, names in os.walk(directory):
        for name in names:
            if TEMPORARY.match(name):
                _remove_quietly(os.path.join(current, name))
        if not recursive:
            break


_encode_compact = json.JSONEncoder(default=str).encode


def readable_json(obj: dict, *fragments: str) -> str:
    """A JSON object with one top-level key per line, each value on one line.

    Readable in a terminal, and fast: `indent=` would switch json to its pure-Python
    encoder, which costs more than the rest of a metadata write. `fragments` are
    already-encoded `"key": value` members appended at the end.
    """
    members = [f" {_encode_compact(str(key))}: {_encode_compact(value)}" for key, value in obj.items()]
    return "{\n" + ",\n".join([*members, *fragments]) + "\n}\n"


def write_json(path: str, obj: dict, check=None) -> None:
    write_atomic(path, readable_json(obj).encode(), check)


def read_json(path: str, default=...):
    """Read a JSON file; a missing or broken one names the file and the fix (never deleting anything)."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        if default is not ...:
            return default
        raise CorruptMetadata(
            f"Metadata file {path} is missing. If the directory was moved or edited by hand, "
            "restore it, then run `machinable index rebuild`.",
            path, "missing",
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise corrupt(path, f"{e}") from None
    except OSError as e:
        raise corrupt(path, f"{e.strerror}") from None


def read_metadata(path: str, default=...) -> dict:
    """A metadata file, which holds one JSON object: anything else raises CorruptMetadata naming the file."""
    data = read_json(path, default)
    if not isinstance(data, dict):
        if data is default:
            return data
        raise corrupt(path, f"it holds a JSON {type(data).__name__}, not an object")
    return data


def corrupt(path: str, reason: str) -> CorruptMetadata:
    """The error for a damaged metadata file: how to repair it without losing the experiment's other files."""
    return CorruptMetadata(
        f"Metadata file {path} is corrupt ({reason}). The experiment's other files are untouched: restore "
        "this file from a backup (or fix it by hand), then run `machinable index rebuild`.",
        path, reason,
    )


def safe_join(root: str, *parts: str) -> str:
    """`root/parts...`, refusing absolute paths, `..` and symlinks that lead outside `root`."""
    for part in parts:
        part = os.fspath(part)
        if os.path.isabs(part) or ".." in part.replace("\\", "/").split("/"):
            raise UnsafePath(
                f"Path {part!r} would leave the experiment directory {root}: use a relative "
                "name without '..', e.g. 'results/metrics.json'."
            )
    path = os.path.join(root, *parts)
    # without '..' only a symbolic link below root can lead out: resolve only if there is one
    below = os.path.relpath(path, root).split(os.sep)
    if not any(os.path.islink(os.path.join(root, *below[: i + 1])) for i in range(len(below))):
        return path
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise UnsafePath(
            f"Path {os.path.join(*parts) if parts else ''!r} resolves to {real}, outside the experiment "
            f"directory {root} (through a symbolic link); refusing to follow it."
        )
    return path


def data_format(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext not in DATA_FORMATS:
        raise UnsupportedFormat(
            f"Cannot store {name!r}: unsupported extension {ext or '(none)'!r}. Use one of "
            f"{', '.join(DATA_FORMATS)} (.txt str, .json JSON-able, .npy numpy array, .p/.pkl pickle, "
            ".png/.svg a matplotlib figure, a PIL image or the file's bytes)."
        )
    return ext


def encode_data(ext: str, obj) -> bytes:
    if ext in IMAGE_FORMATS:
        return encode_image(ext, obj)
    if ext == ".txt":
        return str(obj).encode()
    if ext == ".json":
        return json.dumps(obj).encode()
    if ext == ".npy":
        import io

        import numpy

        buffer = io.BytesIO()
        numpy.save(buffer, numpy.asarray(obj), allow_pickle=False)
        return buffer.getvalue()
    import pickle

    return pickle.dumps(obj)


def decode_data(ext: str, raw: bytes):
    if ext in IMAGE_FORMATS:
        return decode_image(ext, raw)  # the file's bytes, as figures.PNG or figures.SVG
    if ext == ".txt":
        return raw.decode()
    if ext == ".json":
        return json.loads(raw)
    if ext == ".npy":
        import io

        import numpy

        return numpy.load(io.BytesIO(raw), allow_pickle=False)
    import pickle

    return pickle.loads(raw)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def list_data(root: str) -> list[dict]:
    """The files under an experiment's `data/` directory `root`: name (relative, '/'-separated) and size in
    bytes, sorted; hidden and temporary files, and links that lead out of `root`, are left out."""
    found = []
    for current, directories, files in os.walk(root):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or TEMPORARY.match(name):
                continue
            path = os.path.join(current, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                safe_join(root, relative)
                size = os.path.getsize(path)
            except (OSError, UnsafePath):
                continue
            found.append({"name": relative, "size": size})
    return found


def image_type(path: str) -> str | None:
    """image/png for a .png file that starts as one, image/svg+xml for a .svg that is an SVG document
    (its first 64 KB); None for anything else."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in IMAGE_FORMATS:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(len(PNG_MAGIC) if ext == ".png" else 65536)
    except OSError:
        return None
    if ext == ".png":
        return "image/png" if head == PNG_MAGIC else None
    return "image/svg+xml" if is_svg(head) else None
