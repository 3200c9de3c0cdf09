"""`machinable get MODULE k=v ... [--launch]`: the stored experiment with that config, or a new one."""

from __future__ import annotations

import click

from machinable.cli.output import echo_experiment, error_message
from machinable.cli.parsing import ARG_FORMS, parse_versions
from machinable.errors import ExecutionFailed, MachinableError


@click.command("get", context_settings={"help_option_names": ["-h", "--help"]})
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

    (_, experiment_class, experiment_versions), *context_modules = module_groups(module, args)
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
        echo_experiment(experiment)
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
                error_message(error) + " Run the same `machinable get ... --launch` again to resume it."
            ) from None
        click.echo(f"status:    {experiment.status}")
        click.echo(f"directory: {experiment.local_directory()}")


def split_modules(module: str, args: tuple) -> list[tuple[str, list]]:
    """`[(module, its args), (next module, its args), ...]`: a bare word (no '=', no '~') starts a module."""
    groups = [(module, [])]
    for arg in args:
        if "=" not in arg and not arg.startswith("~"):
            groups.append((arg, []))
        else:
            groups[-1][1].append(arg)
    return groups


def module_groups(module: str, args: tuple) -> list[tuple[str, type, list]]:
    """Each module's name, element class and versions; usage errors come before anything is loaded or run."""
    from machinable.element import Element
    from machinable.project import Project

    groups = split_modules(module, args)
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
