"""Stored experiments as the dashboard reads them: from their files, never running their code.

The dashboard binds each experiment's metadata to the plain `Experiment` class, so
status, times, records and output come from the same methods the Python API uses,
while the project's modules are never imported (a read-only viewer runs no user code,
and experiments whose code has moved or changed still show).
"""

from __future__ import annotations

import os
import re

from machinable.errors import ExperimentNotFound, MachinableError, UnsafePath
from machinable.conditions import where
from machinable.opening import open_stored
from machinable.records import scope_of
from machinable.run import claim_token, superseded
from machinable.storage.files import image_type, list_data, read_json, safe_join

EXPERIMENT_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")
SCOPE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
TEXT_FORMATS = (".txt", ".json")


def find_experiment(storage, experiment_id: str):
    """The stored experiment with this id; raises ExperimentNotFound, or CorruptMetadata if it is damaged."""
    from machinable.experiment import Experiment

    if not EXPERIMENT_ID.match(experiment_id or ""):
        raise ExperimentNotFound(
            f"No experiment {experiment_id!r}: an experiment id is made of letters and digits, e.g. 'GDCN4d'."
        )
    return Experiment.find_by_id(experiment_id, storage, load_class=False)


def derived(storage, experiment_id: str) -> list:
    """The experiments derived from this one (or `Unreadable` entries for damaged ones)."""
    return [open_stored(storage, directory, load_class=False) for directory in storage.select(where({"@ancestor": experiment_id}))[0]]


# --- files of one experiment -------------------------------------------------------------


def scopes(experiment) -> list[str]:
    """The record scopes that have a `records/<scope>.jsonl` file (or a later attempt's segment), "default" first."""
    try:
        names = os.listdir(experiment.local_directory("records"))
    except OSError:
        return []
    found = sorted({scope_of(name) for name in names if not name.startswith(".")} - {None})
    return sorted(found, key=lambda scope: scope != "default")


def check_scope(scope: str) -> str:
    if not SCOPE.match(scope or ""):
        raise UnsafePath(f"Record scope {scope!r} is not a scope name (letters, digits, '_', '-', '.'), e.g. 'default'.")
    return scope


def data_files(experiment) -> list[dict]:
    """Files under `data/`: name (relative, '/'-separated), size in bytes and whether it is shown as text."""
    root = experiment.local_directory("data")
    return [{**found, "text": os.path.splitext(found["name"])[1].lower() in TEXT_FORMATS,
             "image": image_type(os.path.join(root, *found["name"].split("/"))) is not None}
            for found in list_data(root)]


def common_images(files_per_run: list[list[dict]]) -> list[dict]:
    """The images a compare view shows side by side (from one `data_files` list per run): the names
    at least two runs saved (every name for one run), sorted, each with which runs have it."""
    found: dict = {}
    for index, files in enumerate(files_per_run):
        for file in files:
            if file["image"]:
                found.setdefault(file["name"], set()).add(index)
    least = min(2, len(files_per_run))
    return [{"name": name, "present": [index in runs for index in range(len(files_per_run))]}
            for name, runs in sorted(found.items()) if len(runs) >= least]


def data_path(experiment, parts: list[str]) -> str:
    """The path of the data file named by URL path `parts`; refuses names that leave `data/`."""
    if not parts or not any(parts):
        raise UnsafePath("No data file named: use /api/experiments/<id>/data/<name>, e.g. data/metrics.json.")
    return safe_join(experiment.local_directory("data"), *parts)


def executions(experiment) -> list[dict]:
    """The stored execution records, oldest first, reduced to what a reader scans for."""
    directory = experiment.local_directory("executions")
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json") and not n.startswith("."))
    except OSError:
        return []
    found, records = [], []
    for name in names:
        try:
            record = read_json(os.path.join(directory, name))
        except MachinableError as error:
            found.append({"file": name, "error": str(error)})
            continue
        records.append(record)
        host = record.get("host") or {}
        code = record.get("code") or {}
        git = code.get("git") or {}
        found.append({
            "file": name,
            "nickname": record.get("nickname"),
            "module": record.get("module"),
            "started_at": record.get("started_at"),
            "hostname": host.get("hostname"),
            "user": host.get("user"),
            "pid": host.get("pid"),
            "python": host.get("python"),
            "commit": git.get("commit"),
            "dirty": bool(git.get("diff")),
            "resources": record.get("resources"),
            "config": record.get("config"),
            "attempt": (record.get("attempt") or {}).get("number"),
            "claim": claim_token(record),
        })
    taken = superseded(records)
    for execution in found:
        execution["superseded"] = execution.pop("claim", None) in taken
    return found
