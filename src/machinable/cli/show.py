"""`machinable show ID`: one stored experiment with its times, config, executions, latest records and output."""

from __future__ import annotations

import json

import click

from machinable import times
from machinable.cli.output import echo_config, echo_table, experiment_json, format_time, storage_missing, storage_root
from machinable.errors import ExperimentNotFound
from machinable.storage.files import list_data


@click.command("show", context_settings={"help_option_names": ["-h", "--help"]})
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
    if storage_missing(storage):  # reading must not create the storage directory
        raise ExperimentNotFound(
            f"No experiment '{experiment_id}': the storage directory {storage_root(storage)} does not exist. "
            "Pass --storage DIR or run from the directory that holds ./storage."
        )
    experiment = Experiment.find_by_id(experiment_id)
    records = latest_records(experiment, n_records)
    output, output_lines = output_tail(experiment, n_lines)
    if as_json:
        shown = {**experiment_json(experiment), "records": records, "output": output}
        click.echo(json.dumps(shown, indent=1, default=str))
        return
    moments = experiment.times()
    click.echo(f"id:        {experiment.experiment_id}")
    click.echo(f"module:    {experiment.module}")
    click.echo(f"status:    {experiment.status}")
    click.echo(f"directory: {experiment.local_directory()}")
    click.echo(f"seed:      {experiment.seed}")
    click.echo(f"created:   {format_time(moments['created'])}")
    click.echo(f"started:   {format_time(moments['started'])}")
    if moments["finished"] is not None:
        click.echo(f"finished:  {format_time(moments['finished'])}")
    elif moments["failed"] is not None:
        click.echo(f"failed:    {format_time(moments['failed'])}")
    else:
        click.echo(f"finished:  {format_time(None)}")
    echo_config(experiment.config.to_dict())
    executions = experiment.executions
    if executions:
        click.echo("executions:")
        for execution in executions:
            host = execution.host or {}
            where = f"{host.get('user')}@{host.get('hostname')} pid {host.get('pid')}"
            jobs = "".join(f", {name}={job}" for name, job in (host.get("job_ids") or {}).items())
            superseded = " — superseded (a later attempt took over its claim)" if execution.superseded else ""
            click.echo(f"  {execution.nickname} ({execution.module}) on {where}{jobs}{superseded}")

    data = list_data(experiment.local_directory("data"))
    if data:
        click.echo("")
        click.echo(f"data: {len(data)} file{'s' if len(data) != 1 else ''}")
        for found in data:
            click.echo(f"  {found['name']}  ({found['size']:,} bytes)")

    if records:
        rows = []
        for row in records:
            row = dict(row)
            timestamp = row.pop("_timestamp", None)
            if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
                row = {"time": times.local(timestamp, "%H:%M:%S"), **row}
            rows.append(row)
        click.echo("")
        click.echo(f"records (default): last {len(records)} of {records_count(experiment)}")
        echo_table(rows, fixed=("time",))

    if output:
        click.echo("")
        click.echo(f"output.log: last {len(output)} of {output_lines} lines")
        for line in output:
            click.echo(f"  {line}")


def _record_segments(experiment) -> list:
    from machinable.records import segments

    return segments(experiment.local_directory("records"), "default")


def latest_records(experiment, n: int) -> list:
    """The last `n` rows of scope "default", read from the end of its files (a huge file is not read whole)."""
    from machinable.records import Records

    return Records.tail(*_record_segments(experiment), n=n) if n else []


def records_count(experiment) -> int:
    from machinable.records import Records

    return Records.count(*_record_segments(experiment))


def output_tail(experiment, n: int) -> tuple:
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
