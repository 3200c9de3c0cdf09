"""What the commands print: an experiment's fields and config, times, JSON, errors, tables."""

from __future__ import annotations

import json
import os

import click

from machinable import times
from machinable.errors import MachinableError
from machinable.values import parse_value


def format_value(value) -> str:
    if isinstance(value, str):
        return value if value and parse_value(value) == value and value == value.strip() else json.dumps(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def format_time(seconds: float | None) -> str:
    """`2026-12-04 01:23:03 (5 minutes ago)` in local time; `-` for None."""
    if seconds is None:
        return "-"
    return f"{times.local(seconds)} ({times.humanize(seconds)})"


def echo_config(config: dict) -> None:
    from machinable.config import flatten

    flat = flatten(config)
    if not flat:
        click.echo("config:    (empty)")
        return
    click.echo("config:")
    for key, value in flat.items():
        click.echo(f"  {key} = {format_value(value)}")


def echo_experiment(experiment) -> None:
    click.echo(f"id:        {experiment.experiment_id}")
    click.echo(f"module:    {experiment.module}")
    click.echo(f"status:    {experiment.status}")
    directory = experiment.local_directory() if experiment.is_committed() else "not committed"
    click.echo(f"directory: {directory}")
    echo_config(experiment.config.to_dict())


def experiment_json(experiment) -> dict:
    """One stored experiment as plain JSON values (times as ISO 8601 in UTC), for `--json` output."""
    metadata = experiment.metadata()
    moments = experiment.times()
    return {
        "id": experiment.experiment_id,
        "module": experiment.module,
        "status": experiment.status,
        "directory": experiment.local_directory(),
        "group": metadata["group"],
        "seed": experiment.seed,
        "version": experiment.version(),
        "config": experiment.config.to_dict(),
        "summary": experiment.summary(),
        "ancestor": metadata.get("ancestor"),
        "created_at": times.iso(moments["created"]),
        "started_at": times.iso(moments["started"]),
        "finished_at": times.iso(moments["finished"]),
        "failed_at": times.iso(moments["failed"]),
        "error": experiment.error(),
    }


def storage_root(storage) -> str | None:
    """The directory of a filesystem storage (None for other storages)."""
    root = getattr(storage, "root", None)
    return root if isinstance(root, str) else None


def storage_missing(storage) -> bool:
    root = storage_root(storage)
    return root is not None and not os.path.isdir(root)


def error_message(error: MachinableError) -> str:
    message = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {message}"


def echo_table(rows: list[dict], fixed=None, title: str | None = None) -> None:
    """The rows as a table fitted to the terminal width."""
    from machinable import tables

    width = tables.terminal_size()[0]
    fitted = tables.fit(rows, width, fixed) if fixed else tables.fit(rows, width)
    click.echo(tables.draw(fitted, width, title), nl=False)
