"""`machinable list`: stored experiments, newest first, as a table that fits the terminal.

By default only the newest rows that fit the terminal are opened and shown (the index
counts the rest), so listing 10,000 experiments reads a screenful of them; `--limit N`
shows N, `--all` every one. `--json` prints every match (or `--limit` of them).
"""

from __future__ import annotations

import json
import warnings

import click

from machinable.cli import runs
from machinable.cli.output import experiment_json, storage_missing, storage_root
from machinable.conditions import STATUSES
from machinable.tables import draw, fit, fitting, terminal_size


@click.command("list", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("module", required=False)
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only experiments with this status.")
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="CONDITIONS",
    help="Only experiments meeting these conditions, e.g. 'model.lr<0.1 penalty!=l1', 'opt in [sgd, adam] or "
         "lr exists', '@created>=2026-11-27' (see machinable.conditions); repeatable (all must hold).",
)
@click.option("--group", default=None, help="Only experiments stored in this group (e.g. 2024_18_Tue).")
@click.option("--sweep", "sweep", default=None, metavar="ID", help="Only the points of this sweep or search.")
@click.option("--sort", default=None, metavar="KEYS",
              help="Order by these config keys or @fields, e.g. -lr,@created (a leading - for descending).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None,
              help="Show at most N (newest first; default: as many as fit the terminal).")
@click.option("--all", "show_all", is_flag=True, help="Show every experiment, however many.")
@click.option("--columns", "-c", default=None, metavar="KEYS",
              help="The columns after id, status and created: config keys and summary.<metric>, e.g. "
                   "alpha,summary.test_acc (default: the config keys that differ among the rows, then the metrics).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array of the experiments instead of a table (all of them, or --limit N).")
@click.option("--csv", "as_csv", is_flag=True,
              help="Print CSV instead of a table (all of them, or --limit N; every config key and metric, or --columns).")
def list_command(module: str | None, status: str | None, where: tuple, group: str | None, sort: str | None,
                 limit: int | None, show_all: bool, columns: str | None, as_json: bool, as_csv: bool,
                 sweep: str | None) -> None:
    """Stored experiments, newest first, as a runs table: id, status, created, then the config keys that
    differ among them and their summary metrics (or --columns)."""
    from machinable.conditions import Where, parse, parse_sort
    from machinable.errors import ConditionError
    from machinable.storage import Storage

    conditions = Where()
    try:
        for text in where:
            conditions &= parse(text)
        order = parse_sort(sort) if sort else None
    except ConditionError as error:
        raise click.UsageError(str(error)) from None
    storage = Storage.current()
    if sweep is not None:
        from machinable.conditions import where as spec
        from machinable.sweep.stored import members_of

        conditions &= spec({"@id": {"in": members_of(sweep, storage)}})
    width, height = terminal_size()
    if show_all or ((as_json or as_csv) and limit is None):
        wanted = None
    else:
        wanted = limit or max(height - 6, 10)  # below the title and the table's frame
    if storage_missing(storage):  # reading must not create the storage directory
        found, unreadable, total = [], [], 0
    else:
        found, unreadable, total = select(storage, module, conditions, status, group, order, wanted)
    if as_json:
        shown = [experiment_json(experiment) for experiment in found]
        click.echo(json.dumps(shown + [entry.as_dict() for entry in unreadable], indent=1))
        return
    if as_csv:
        click.echo(runs.as_csv(found, runs.parse_columns(columns)), nl=False)
        return
    for entry in unreadable:
        click.echo(f"Unreadable: {entry}", err=True)
    if not found and not unreadable:
        click.echo("No experiments found" + (f" in {storage_root(storage)}" if storage_root(storage) else "") + ".")
        return
    fixed = ("id", "module", "status", "created") if len({e.module for e in found}) > 1 else runs.FIXED
    table, _ = runs.rows(found, runs.parse_columns(columns), fixed)
    table = fit(table + [entry.as_row() for entry in unreadable], width, fixed)
    if limit is None and not show_all:  # rows whose config wraps take more lines: keep those that fit
        kept = min(max(fitting(table, width, max(height - 2, 14)) - len(unreadable), 1), len(found))
        table = table[:kept] + table[len(found):]
        found = found[:kept]
    title = f"{total} experiment{'s' if total != 1 else ''}"
    if len(found) < total:
        title += f" ({'first' if sort else 'newest'} {len(found)} shown; --limit N or --all)"
    if unreadable:
        title += f", {len(unreadable)} unreadable"
    click.echo(title)
    click.echo(draw(table, width), nl=False)


def select(storage, module, conditions, status, group, order, wanted: int | None) -> tuple[list, list, int]:
    """The experiments to show (at most `wanted`), the unreadable ones met on the way, and how many match.

    Where the index decides the conditions exactly, only the rows shown are opened and the
    index counts the rest; otherwise (e.g. --status, read from each experiment's files) every
    candidate is opened.
    """
    from machinable.conditions import where as spec
    from machinable.query import find

    def found(limit):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the unreadable ones are listed instead
            return find(module, where=conditions, status=status, group=group, sort=order, limit=limit)

    own = {key: value for key, value in (("@module", module), ("@status", status), ("@group", group))
           if value is not None}
    wanted_where = conditions & spec(own)
    if wanted is not None and storage.select(wanted_where, limit=0)[1]:  # exact: the index can count
        shown = found(wanted)
        indexed = storage.count(wanted_where)  # readable and unreadable alike
        seen = len(shown) + len(shown.unreadable)
        total = len(shown) if seen >= indexed else indexed - len(shown.unreadable)
        return shown, shown.unreadable, total
    every = found(None)
    return (every if wanted is None else every[:wanted]), every.unreadable, len(every)

