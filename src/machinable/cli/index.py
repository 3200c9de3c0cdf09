"""`machinable index rebuild`: recreate the storage's lookup index from the experiment files."""

from __future__ import annotations

import click

from machinable.cli.output import storage_missing, storage_root


@click.group("index", context_settings={"help_option_names": ["-h", "--help"]})
def index_group() -> None:
    """The storage's lookup index (a cache of the experiment files)."""


@index_group.command("rebuild", context_settings={"help_option_names": ["-h", "--help"]})
def index_rebuild_command() -> None:
    """Recreate the index from the experiment files on disk (nothing is lost)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from machinable.storage import Storage

    storage = Storage.current()
    root = storage_root(storage)
    if storage_missing(storage):
        raise click.ClickException(
            f"Storage directory {root} does not exist, so there is nothing to index. "
            "Pass --storage DIR or run from the directory that holds ./storage."
        )
    console = Console(stderr=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("Rebuilding index: {task.completed} experiments"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    skipped = []
    with progress:
        task = progress.add_task("rebuild", total=None)
        count = storage.rebuild_index(progress=lambda *_: progress.advance(task), on_damaged=skipped.append)
    where = root if root is not None else repr(storage)
    click.echo(f"Indexed {count} experiment{'s' if count != 1 else ''} in {where}.")
    for error in skipped:
        click.echo(f"Skipped (cannot be read): {error}", err=True)
