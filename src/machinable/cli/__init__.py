"""The command line: `machinable get|list|show|ui|index|sweep|search` (also `python -m machinable`).

    machinable get estimate_gravity time_dilation=2 --launch
    machinable list estimate_gravity --status finished --where time_dilation=2
    machinable show GDCN4d
    machinable ui --port 8765
    machinable index rebuild
    machinable sweep train lr=0.1,0.01 'epochs=range(1,4)' --launch
    machinable search train 'lr=interval(0,1)' --objective val_loss --trials 30

Global options pick the storage (`--storage DIR`, default `./storage`) and the
project directory (`--project DIR`, default the current directory). Each command
lives in its own module, imported only when that command runs: `machinable list`
never imports what `get --launch` or the dashboard needs (tests/test_cli_imports.py).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from machinable.cli.output import error_message
from machinable.cli.parsing import parse_value, parse_versions
from machinable.errors import MachinableError

# command name -> (module, attribute): imported when the command is run or its help shown
COMMANDS = {
    "get": ("machinable.cli.get", "get_command"),
    "list": ("machinable.cli.listing", "list_command"),
    "show": ("machinable.cli.show", "show_command"),
    "ui": ("machinable.cli.ui", "ui_command"),
    "index": ("machinable.cli.index", "index_group"),
    "sweep": ("machinable.cli.sweep", "sweep_command"),
    "search": ("machinable.cli.search", "search_command"),
}


class _Group(click.Group):
    """Loads a command's module only when it is used; shows machinable's own errors as a clean
    message with exit code 1, no traceback."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MachinableError as error:
            raise click.ClickException(error_message(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--storage",
    metavar="DIR",
    type=click.Path(file_okay=False, dir_okay=True),
    default=None,
    help="Storage directory (default: ./storage in the current directory).",
)
@click.option(
    "--project",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    default=None,
    help="Project directory whose modules define the experiments (default: the current directory).",
)
@click.version_option(package_name="machinable", prog_name="machinable")
@click.pass_context
def cli(ctx: click.Context, storage: str | None, project: str | None) -> None:
    """machinable: research code as configurable experiments that run exactly once."""
    from machinable.element import get
    from machinable.project import Project

    if project is not None:
        ctx.with_resource(Project(os.path.abspath(project)))
    if storage is not None:
        ctx.with_resource(get("machinable.storage.filesystem", {"directory": os.path.abspath(storage)}))


def main(argv=None) -> None:
    """Entry point of `machinable` and `python -m machinable`.

    A closed stdout (`machinable get m --launch | head -1`) must not stop a launch: the
    output that no one reads any more is dropped.
    """
    from machinable.output import Terminal

    sys.stdout = terminal = Terminal(sys.stdout)
    try:
        cli.main(args=argv, prog_name="machinable")
    finally:
        if terminal.broken:  # nothing is left to flush at exit: no "Exception ignored" message
            os.dup2(os.open(os.devnull, os.O_WRONLY), terminal.stream.fileno())


__all__ = ["COMMANDS", "cli", "main", "parse_value", "parse_versions"]
