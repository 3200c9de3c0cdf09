"""An experiment's `experiment.json`: read and checked, so a damaged one is named, not a KeyError."""

from __future__ import annotations

import os

from machinable.storage.files import corrupt, read_metadata

METADATA = "experiment.json"

# what the index, retrieval and the readers rely on, and the JSON types it must have
FIELDS = {
    "experiment_id": str,
    "module": str,
    "version": list,
    "config": dict,
    "seed": int,
    "timestamp": (int, float),
    "created_at": (int, float),
    "group": str,
    "identity": str,
    "keys": list,
    "keys_hash": str,
}


def check(metadata: dict, path: str) -> dict:
    """`metadata` if it has every field with its type; otherwise CorruptMetadata naming `path` and the field."""
    for name, kind in FIELDS.items():
        if name not in metadata:
            raise corrupt(path, f"the field {name!r} is missing")
        value = metadata[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise corrupt(path, f"the field {name!r} is {value!r}, not {_names(kind)}")
    return metadata


def read(directory: str, default=...) -> dict:
    """The checked metadata of the experiment in `directory` (`default` if it has no experiment.json)."""
    path = os.path.join(directory, METADATA)
    metadata = read_metadata(path, default)
    return metadata if metadata is default else check(metadata, path)


def _names(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {str: "text", list: "a list", dict: "an object", int: "an integer", float: "a number"}
    return " or ".join(words[k] for k in kinds)
