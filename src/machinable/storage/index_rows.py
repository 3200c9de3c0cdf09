"""The rows of the index (`machinable.storage.index`): its schema, how config values are spelled in it,
and the row of an experiment."""

from __future__ import annotations

import json
import math
from typing import NamedTuple

from machinable.storage import selection

SCHEMA_VERSION = 3  # 2: the `leaves` table of config values (storage.selection); 3: status

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    module TEXT NOT NULL,
    identity TEXT NOT NULL,
    keys_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created REAL NOT NULL,
    timestamp INTEGER NOT NULL,
    directory TEXT NOT NULL,
    grp TEXT NOT NULL,
    ancestor TEXT,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'committed'
);
CREATE INDEX IF NOT EXISTS experiments_created ON experiments (created DESC, id);
CREATE INDEX IF NOT EXISTS experiments_status ON experiments (status, created);
CREATE INDEX IF NOT EXISTS experiments_identity ON experiments (identity);
CREATE INDEX IF NOT EXISTS experiments_module ON experiments (module, created);
CREATE INDEX IF NOT EXISTS experiments_ancestor ON experiments (ancestor);
CREATE TABLE IF NOT EXISTS keysets (
    module TEXT NOT NULL,
    keys_hash TEXT NOT NULL,
    keys TEXT NOT NULL,
    PRIMARY KEY (module, keys_hash)
);
""" + selection.SCHEMA

TAG = "\ufdd0"  # a Unicode noncharacter, reserved for internal use: it starts the index's own spellings


def encode(value):
    """A config value as JSON that SQLite accepts, equal values spelled equally.

    SQLite's JSON functions reject NaN and ±Infinity, so they are stored as tagged
    strings (`TAG + "nan"`, `"inf"`, `"-inf"`); a string that itself starts with the tag
    gets `TAG + "'"` in front, so no string can pass for a number.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return TAG + repr(value)
    if isinstance(value, str) and value.startswith(TAG):
        return TAG + "'" + value
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    return value


def decode(value):
    """The inverse of `encode()`."""
    if isinstance(value, str) and value.startswith(TAG):
        rest = value[len(TAG):]
        return rest[1:] if rest.startswith("'") else float(rest)
    if isinstance(value, dict):
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def _config_json(config: dict) -> str:
    return json.dumps(encode(config), sort_keys=True, allow_nan=False)


COLUMNS = ("id", "module", "identity", "keys_hash", "seed", "created", "timestamp", "directory", "grp", "ancestor", "config",
           "status")


class Entry(NamedTuple):
    """One experiment as the index keeps it: its metadata, directory (relative to the storage), identifying
    config keys, summary metrics and status word (`machinable.status.indexed_status`)."""

    meta: dict
    directory: str
    keys: list
    summary: dict | None = None
    status: str = "committed"


def row_from_metadata(meta: dict, directory: str, status: str = "committed") -> tuple:
    return (
        meta["experiment_id"],
        meta["module"],
        meta["identity"],
        meta["keys_hash"],
        meta["seed"],
        meta["created_at"],
        meta.get("timestamp", int(meta["created_at"])),
        directory,
        meta["group"],
        meta.get("ancestor"),
        _config_json(meta["config"]),
        status,
    )


_INSERT_EXPERIMENT = (
    f"INSERT OR REPLACE INTO experiments ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)


def insert(db, entry: Entry) -> None:
    """Add or replace the experiment's row, its keyset and its config and summary leaves."""
    meta = entry.meta
    db.execute(_INSERT_EXPERIMENT, row_from_metadata(meta, entry.directory, entry.status))
    db.execute(
        "INSERT OR IGNORE INTO keysets (module, keys_hash, keys) VALUES (?, ?, ?)",
        (meta["module"], meta["keys_hash"], json.dumps(entry.keys)),
    )
    selection.insert_leaves(db, meta["experiment_id"], meta["config"], entry.summary)
