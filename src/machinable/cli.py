"""The command line: `machinable get|list|show|ui|index` (also `python -m machinable`).

    machinable get estimate_gravity time_dilation=2 --launch
    machinable list estimate_gravity --status finished --where time_dilation=2
    machinable show GDCN4d
    machinable ui --port 8765
    machinable index rebuild

Global options pick the storage (`--storage DIR`, default `./storage`) and the
project directory (`--project DIR`, default the current directory). rich is
imported only by the commands that draw tables or progress bars.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import click

from machinable import tables
from machinable.errors import ExecutionFailed, ExperimentNotFound, MachinableError
from machinable.query import STATUSES
from machinable.values import parse_value

ARG_FORMS = (
    "key=value (e.g. time_dilation=2, model.lr=0.1, name=run1, layers=[64,64]) "
    "or ~name (a version method such as ~fast)"
)

# --- parsing key=value arguments --------------------------------------------------------


def parse_pair(arg: str, what: str = "argument", forms: str = ARG_FORMS) -> tuple[str, str]:
    """`"model.lr=0.1"` -> `("model.lr", "0.1")`; raises click.UsageError for a malformed pair."""
    key, sep, value = arg.partition("=")
    problem = "it has no '='" if not sep else _key_problem(key, "=")
    if problem:
        raise click.UsageError(f"Invalid {what} '{arg}': {problem}. Expected {forms}.")
    return key, value


def _key_problem(key: str, operator: str) -> str | None:
    if not key.strip():
        return f"the key before '{operator}' is empty"
    if any(not part or part != part.strip() or any(c.isspace() for c in part) for part in key.split(".")):
        return f"the key '{key}' has an empty part or whitespace"
    return None


def parse_versions(args, schema=None) -> list:
    """Command-line arguments as versions for `get()`.

    All `key=value` pairs form one dict, placed where the first pair appears among
    the `~name` versions (which keep their order); versions merge left to right.
    With the experiment's config `schema`, a value for a plain `str` field keeps
    its text (so `name=2017` stays '2017').
    """
    versions: list = []
    pairs: dict = {}
    for arg in args:
        if arg.startswith("~"):
            if not arg[1:].isidentifier():
                raise click.UsageError(
                    f"Invalid argument '{arg}': a version name is '~' followed by a Python identifier "
                    f"(it calls the method version_<name>()). Expected {ARG_FORMS}."
                )
            versions.append(arg)
            continue
        key, raw = parse_pair(arg)
        if not pairs:
            versions.append(pairs)
        pairs[key] = _typed_value(raw, _annotation(schema, key))
    return versions


def _annotation(schema, key: str):
    for part in key.split(".")[:-1]:
        if schema is None:
            return None
        schema = schema.nested.get(part)
    if schema is None:
        return None
    field = schema.fields.get(key.split(".")[-1])
    return field[0] if field else None


def _typed_value(raw: str, annotation):
    value = parse_value(raw)
    if value is not None and not isinstance(value, str) and _is_text(annotation):
        return raw  # `name=2017` for a str field is the text '2017'
    return value


def _is_text(annotation) -> bool:
    """True for `str`, `Optional[str]` and `Annotated[str, ...]` fields."""
    import typing

    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_text(typing.get_args(annotation)[0])
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_text(args[0])
    return False


# --- output helpers ---------------------------------------------------------------------


def _format_value(value) -> str:
    if isinstance(value, str):
        return value if value and parse_value(value) == value and value == value.strip() else json.dumps(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _format_time(moment) -> str:
    if moment is None:
        return "-"
    return f"{moment.to('local').format('YYYY-MM-DD HH:mm:ss')} ({moment.humanize()})"


def _echo_config(config: dict) -> None:
    from machinable.config import flatten

    flat = flatten(config)
    if not flat:
        click.echo("config:    (empty)")
        return
    click.echo("config:")
    for key, value in flat.items():
        click.echo(f"  {key} = {_format_value(value)}")


def _echo_experiment(experiment) -> None:
    click.echo(f"id:        {experiment.experiment_id}")
    click.echo(f"module:    {experiment.module}")
    click.echo(f"status:    {experiment.status}")
    directory = experiment.local_directory() if experiment.is_committed() else "not committed"
    click.echo(f"directory: {directory}")
    _echo_config(experiment.config.to_dict())


def _experiment_json(experiment) -> dict:
    """One stored experiment as plain JSON values (times as ISO 8601), for `--json` output."""
    metadata = experiment.metadata()

    def iso(moment):
        return moment.isoformat() if moment is not None else None

    return {
        "id": experiment.experiment_id,
        "module": experiment.module,
        "status": experiment.status,
        "directory": experiment.local_directory(),
        "group": metadata["group"],
        "seed": experiment.seed,
        "version": experiment.version(),
        "config": experiment.config.to_dict(),
        "ancestor": metadata.get("ancestor"),
        "created_at": iso(experiment.created_at()),
        "started_at": iso(experiment.started_at()),
        "finished_at": iso(experiment.finished_at()),
        "failed_at": iso(experiment.failed_at()),
        "error": experiment.error(),
    }


def _storage_root(storage) -> str | None:
    """The directory of a filesystem storage (None for other storages)."""
    root = getattr(storage, "root", None)
    return root if isinstance(root, str) else None


def _storage_missing(storage) -> bool:
    root = _storage_root(storage)
    return root is not None and not os.path.isdir(root)


# --- the commands -----------------------------------------------------------------------


class _Group(click.Group):
    """Shows machinable's own errors as a clean message with exit code 1, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MachinableError as error:
            raise click.ClickException(_error_message(error)) from None


def _error_message(error: MachinableError) -> str:
    message = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {message}"


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


@cli.command("get", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("module")
@click.argument("args", nargs=-1)
@click.option("--launch", is_flag=True, help="Run the experiment (once; a finished one is not run again).")
def get_command(module: str, args: tuple, launch: bool) -> None:
    """The experiment MODULE with config ARGS: the stored one if it exists, otherwise a new one.

    ARGS are key=value pairs (dotted keys such as model.lr=0.1 allowed; values are
    read as JSON or YAML scalars: 2, 2.5, true, null, [1,2], {"a":1}, else text)
    and ~name versions, applied left to right. A further module name among ARGS,
    with its own key=value pairs, is an execution or storage to use, as in
    `with get(execution): experiment.launch()`.

    \b
    Examples:
      machinable get estimate_gravity time_dilation=2
      machinable get estimate_gravity ~fast model.lr=0.1 --launch
      machinable get estimate_gravity machinable.execution.slurm partition=debug --launch
    """
    from contextlib import ExitStack

    from machinable.execution import Execution
    from machinable.experiment import Experiment
    from machinable.storage import Storage

    (_, experiment_class, experiment_versions), *context_modules = _module_groups(module, args)
    executions = []
    with ExitStack() as storages:
        for name, element_class, versions in context_modules:
            element = element_class.retrieve(name, versions)
            if isinstance(element, Storage):
                storages.enter_context(element)
            elif isinstance(element, Execution):
                executions.append(element)
            else:
                raise click.UsageError(
                    f"Module '{name}' defines {type(element).__name__}; only executions and storages can "
                    "follow the experiment's arguments (e.g. machinable.execution.subprocess)."
                )
        if not issubclass(experiment_class, Experiment):
            raise click.ClickException(
                f"Module '{module}' defines {experiment_class.__name__}, which is not an Experiment; "
                "`machinable get` retrieves and launches experiments."
            )
        experiment = experiment_class.retrieve(module, experiment_versions)
        _echo_experiment(experiment)
        if not launch:
            return
        try:
            with ExitStack() as dispatch:
                for execution in executions:
                    dispatch.enter_context(execution)
                experiment.launch()
        except ExecutionFailed as error:
            click.echo(f"status:    {experiment.status}")
            raise click.ClickException(
                _error_message(error) + " Run the same `machinable get ... --launch` again to resume it."
            ) from None
        click.echo(f"status:    {experiment.status}")
        click.echo(f"directory: {experiment.local_directory()}")


def _split_modules(module: str, args: tuple) -> list[tuple[str, list]]:
    """`[(module, its args), (next module, its args), ...]`: a bare word (no '=', no '~') starts a module."""
    groups = [(module, [])]
    for arg in args:
        if "=" not in arg and not arg.startswith("~"):
            groups.append((arg, []))
        else:
            groups[-1][1].append(arg)
    return groups


def _module_groups(module: str, args: tuple) -> list[tuple[str, type, list]]:
    """Each module's name, element class and versions; usage errors come before anything is loaded or run."""
    from machinable.element import Element
    from machinable.project import Project

    groups = _split_modules(module, args)
    for _, group_args in groups:
        parse_versions(group_args)  # malformed arguments are usage errors, before anything else
    resolved = []
    for index, (name, group_args) in enumerate(groups):
        try:
            element_class = Project.current().element_class(name, Element)
        except MachinableError as error:
            if index == 0:
                raise
            raise click.UsageError(
                f"Invalid argument '{name}': it has no '=' and is not a module to use as an execution or "
                f"storage ({error}). Expected {ARG_FORMS}, or a module name followed by its own key=value pairs."
            ) from None
        resolved.append((name, element_class, parse_versions(group_args, element_class.config_schema())))
    return resolved


@cli.command("list", context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--sort", default=None, metavar="KEYS",
              help="Order by these config keys or @fields, e.g. -lr,@created (a leading - for descending).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None, help="Show at most N (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the experiments instead of a table.")
def list_command(module: str | None, status: str | None, where: tuple, group: str | None, sort: str | None,
                 limit: int | None, as_json: bool) -> None:
    """Stored experiments, newest first, as a table (id, module, status, created, config)."""
    from machinable.conditions import Where, parse, parse_sort
    from machinable.query import find
    from machinable.storage import Storage

    from machinable.errors import ConditionError

    conditions = Where()
    try:
        for text in where:
            conditions &= parse(text)
        order = parse_sort(sort) if sort else None
    except ConditionError as error:
        raise click.UsageError(str(error)) from None
    storage = Storage.current()
    if _storage_missing(storage):  # reading must not create the storage directory
        found, unreadable = [], []
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the unreadable ones are listed below instead
            found = find(module, where=conditions, status=status, group=group, sort=order)
        unreadable = found.unreadable
    if as_json:
        shown = [_experiment_json(experiment) for experiment in found[:limit]]
        click.echo(json.dumps(shown + [entry.as_dict() for entry in unreadable], indent=1))
        return
    for entry in unreadable:
        click.echo(f"Unreadable: {entry}", err=True)
    if not found and not unreadable:
        click.echo("No experiments found" + (f" in {_storage_root(storage)}" if _storage_root(storage) else "") + ".")
        return
    total = len(found)
    if limit is not None:
        found = found[:limit]
    title = f"{total} experiment{'s' if total != 1 else ''}"
    if len(found) < total:
        title += f" (newest {len(found)} shown)"
    if unreadable:
        title += f", {len(unreadable)} unreadable"
    console = tables.console()
    click.echo(title)
    rows = [experiment.as_row() for experiment in [*found, *unreadable]]
    console.print(tables.table(tables.fit(rows, console.width)))


@cli.command("show", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("experiment_id", metavar="ID")
@click.option("--records", "n_records", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the latest records (scope 'default') to show.")
@click.option("--lines", "n_lines", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many of the last lines of output.log to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the experiment as a JSON object.")
def show_command(experiment_id: str, n_records: int, n_lines: int, as_json: bool) -> None:
    """One stored experiment: status, times, config, latest records and output."""
    from machinable.experiment import Experiment
    from machinable.storage import Storage

    storage = Storage.current()
    if _storage_missing(storage):  # reading must not create the storage directory
        raise ExperimentNotFound(
            f"No experiment '{experiment_id}': the storage directory {_storage_root(storage)} does not exist. "
            "Pass --storage DIR or run from the directory that holds ./storage."
        )
    experiment = Experiment.find_by_id(experiment_id)
    records = _latest_records(experiment, n_records)
    output, output_lines = _output_tail(experiment, n_lines)
    if as_json:
        shown = {**_experiment_json(experiment), "records": records, "output": output}
        click.echo(json.dumps(shown, indent=1, default=str))
        return
    click.echo(f"id:        {experiment.experiment_id}")
    click.echo(f"module:    {experiment.module}")
    click.echo(f"status:    {experiment.status}")
    click.echo(f"directory: {experiment.local_directory()}")
    click.echo(f"seed:      {experiment.seed}")
    click.echo(f"created:   {_format_time(experiment.created_at())}")
    click.echo(f"started:   {_format_time(experiment.started_at())}")
    if experiment.is_finished():
        click.echo(f"finished:  {_format_time(experiment.finished_at())}")
    elif experiment.failed_at() is not None:
        click.echo(f"failed:    {_format_time(experiment.failed_at())}")
    else:
        click.echo(f"finished:  {_format_time(None)}")
    _echo_config(experiment.config.to_dict())
    executions = experiment.executions
    if executions:
        click.echo("executions:")
        for execution in executions:
            host = execution.host or {}
            where = f"{host.get('user')}@{host.get('hostname')} pid {host.get('pid')}"
            jobs = "".join(f", {name}={job}" for name, job in (host.get("job_ids") or {}).items())
            superseded = " — superseded (a later attempt took over its claim)" if execution.superseded else ""
            click.echo(f"  {execution.nickname} ({execution.module}) on {where}{jobs}{superseded}")

    if records:
        rows = []
        for row in records:
            row = dict(row)
            timestamp = row.pop("_timestamp", None)
            if isinstance(timestamp, (int, float)):
                import arrow

                row = {"time": arrow.get(timestamp).to("local").format("HH:mm:ss"), **row}
            rows.append(row)
        click.echo("")
        click.echo(f"records (default): last {len(records)} of {_records_count(experiment)}")
        console = tables.console()
        console.print(tables.table(tables.fit(rows, console.width, fixed=("time",))))

    if output:
        click.echo("")
        click.echo(f"output.log: last {len(output)} of {output_lines} lines")
        for line in output:
            click.echo(f"  {line}")


def _record_segments(experiment) -> list:
    from machinable.records import segments

    return segments(experiment.local_directory("records"), "default")


def _latest_records(experiment, n: int) -> list:
    """The last `n` rows of scope "default", read from the end of its files (a huge file is not read whole)."""
    from machinable.records import Records

    return Records.tail(*_record_segments(experiment), n=n) if n else []


def _records_count(experiment) -> int:
    from machinable.records import Records

    return Records.count(*_record_segments(experiment))


def _output_tail(experiment, n: int) -> tuple:
    """The last `n` lines of output.log read from its end, and how many lines it has."""
    from machinable.tail import count_lines, lines_backwards

    if not n:
        return [], 0
    try:
        f = open(experiment.local_directory("output.log"), "rb")
    except FileNotFoundError:
        return [], 0
    with f:
        lines = []
        for line in lines_backwards(f, 1 << 16):
            lines.append(line.decode("utf-8", errors="replace"))
            if len(lines) == n:
                break
        f.seek(0)
        return lines[::-1], count_lines(f)


@cli.command("ui", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to serve on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but a loopback address makes the dashboard readable from other machines "
                   "and requires --allow-host.")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A host name (or address) browsers may reach the dashboard by; repeatable. Requests naming any "
                   "other host are refused (DNS rebinding).")
def ui_command(port: int, host: str, allowed_hosts: tuple) -> None:
    """Serve the read-only dashboard (experiments, records, plots, comparisons) until Ctrl+C."""
    import errno

    from machinable import ui
    from machinable.storage import Storage
    from machinable.ui.server import Exposed, is_loopback

    storage = Storage.current()
    try:
        server = ui.create_server(storage, host, port, allowed_hosts=allowed_hosts)
    except Exposed as error:
        raise click.ClickException(str(error))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(f"Port {port} on {host} is in use; pass --port N, or --port 0 for a free one.")
        raise click.ClickException(f"Cannot serve on {host}:{port}: {error.strerror or error}.")
    if not is_loopback(host):
        click.echo(f"Warning: bound to {host}, so anyone who can reach this machine can read the experiments.", err=True)
    where = _storage_root(storage) or repr(storage)
    click.echo(f"machinable dashboard: {server.url} (storage {where}; Ctrl+C to stop)")
    server.run()


@cli.group("index", context_settings={"help_option_names": ["-h", "--help"]})
def index_group() -> None:
    """The storage's lookup index (a cache of the experiment files)."""


@index_group.command("rebuild", context_settings={"help_option_names": ["-h", "--help"]})
def index_rebuild_command() -> None:
    """Recreate the index from the experiment files on disk (nothing is lost)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from machinable.storage import Storage

    storage = Storage.current()
    root = _storage_root(storage)
    if _storage_missing(storage):
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


if __name__ == "__main__":  # pragma: no cover
    main()
