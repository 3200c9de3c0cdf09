"""`machinable sweep MODULE OVERRIDES... [EXECUTION k=v...] [--dry-run | --launch]`: a sweep in Hydra's
multirun override syntax (see `machinable.sweep.overrides`), its plan, and launching what is not finished."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import click

from machinable.cli.output import error_message
from machinable.errors import ExecutionFailed


@click.command("sweep", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("module")
@click.argument("args", nargs=-1)
@click.option("--samples", type=int, default=None, help="Points to draw from the distributions (interval(...)).")
@click.option("--sampler-seed", type=int, default=0, show_default=True, help="Seed of the draws: the same points every time.")
@click.option("--dry-run", is_flag=True, help="Print the plan and how many points would run; write nothing (the default).")
@click.option("--launch", is_flag=True, help="Launch the points that are not finished.")
@click.option("--retry-failed", is_flag=True, help="With --launch, run failed points again too.")
def sweep_command(module: str, args: tuple, samples, sampler_seed: int, dry_run: bool, launch: bool,
                  retry_failed: bool) -> None:
    """Sweep MODULE over ARGS, Hydra's multirun overrides: lists (lr=0.1,0.01), range(1,4), choice(a,b),
    and with --samples N draws from interval(0,1), int(interval(1,9)), tag(log,interval(1e-4,1e-1));
    key=value fixes a value and ~name applies a version. A further module name among ARGS, with its
    own key=value pairs, is the execution to launch through.

    \b
    Examples:
      machinable sweep train lr=0.1,0.01 'epochs=range(1,4)' 'opt=choice(sgd,adam)' --dry-run
      machinable sweep train 'lr=interval(0,1)' --samples 20 --sampler-seed 1 --launch
      machinable sweep train lr=0.1,0.01 machinable.execution.multiprocess processes=4 --launch
    """
    from machinable.sweep import Space, Sweep

    if dry_run and launch:
        raise click.UsageError("Give --dry-run or --launch, not both.")
    space, version, executions = parse_arguments(module, args, "sweep", "or, with --samples, interval(...)")
    sweep = Sweep(module, Space(space, samples, sampler_seed), version=version)
    plan = sweep.plan()
    to_run = plan.to_run(retry_failed)
    if not launch:
        click.echo(plan.as_table(title=f"sweep {sweep.sweep_id or '(new)'} of {module}"))
        click.echo(f"{len(to_run)} of {len(plan)} points would run ({_counts(plan)}).")
        return
    try:
        with through(executions):
            sweep.launch(retry_failed=retry_failed)
    except ExecutionFailed as error:
        raise click.ClickException(error_message(error) + " Run the same command again to resume.") from None
    finally:
        if sweep.sweep_id is not None:
            click.echo(f"sweep {sweep.sweep_id}: {_counts(sweep.plan())}; launched {len(to_run)} of {len(plan)} points.")


def parse_arguments(module: str, args: tuple, what: str, sampled: str) -> tuple[dict, list, list]:
    """(space, fixed versions, executions as (module, versions)) of `MODULE OVERRIDES... [EXECUTION k=v...]`;
    malformed arguments are errors before anything is run."""
    from machinable.cli.get import split_modules
    from machinable.cli.parsing import parse_versions
    from machinable.errors import ValidationError
    from machinable.sweep.overrides import parse

    (_, own), *executions = split_modules(module, args)
    versions = [arg for arg in own if arg.startswith("~")]
    space, fixed = parse([arg for arg in own if not arg.startswith("~")])
    if not space:
        raise ValidationError(f"Nothing to {what} in {' '.join(own) or 'no arguments'}: give a key a list "
                              f"(lr=0.1,0.01), range(...), choice(...) {sampled}.")
    return space, [*versions, fixed] if fixed else versions, [(name, parse_versions(a)) for name, a in executions]


@contextmanager
def through(executions: list):
    """Inside the executions given on the command line (none: in this process)."""
    from machinable.element import get

    with ExitStack() as stack:
        for name, version in executions:
            stack.enter_context(get(name, version))
        yield


def _counts(plan) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(plan.counts().items()))
