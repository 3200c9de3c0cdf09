"""Progress bars for long work, drawn on stderr only when it is a terminal (rich imported lazily)."""

from __future__ import annotations

import sys


def track(iterable, total: int, description: str):
    """Yield from `iterable`, advancing a bar of `total` steps after each item.

    Nothing is drawn for a single step or when stderr is not a terminal (logs, pipes, CI).
    """
    if total < 2 or not sys.stderr.isatty():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total)
        for item in iterable:
            yield item
            progress.advance(task)
