"""`machinable search MODULE OVERRIDES... --objective NAME [EXECUTION k=v...]`: an adaptive search with Optuna
(`machinable.sweep.search`), its space in Hydra's override syntax, like `machinable sweep`."""

from __future__ import annotations

import click

from machinable.cli.output import error_message
from machinable.cli.sweep import parse_arguments, through
from machinable.errors import ExecutionFailed


@click.command("search", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("module")
@click.argument("args", nargs=-1)
@click.option("--objective", required=True, help="The summary value to optimise, e.g. val_loss.")
@click.option("--direction", type=click.Choice(["minimize", "maximize"]), default="minimize", show_default=True)
@click.option("--trials", type=int, default=50, show_default=True, help="Distinct trials to end with (a rerun continues).")
@click.option("--parallel", type=int, default=1, show_default=True, help="Trials asked for and run at a time.")
@click.option("--sampler-seed", type=int, default=0, show_default=True, help="Seed of Optuna's TPE sampler.")
@click.option("--results", is_flag=True, help="Print the stored trials and the best one; run nothing.")
def search_command(module: str, args: tuple, objective: str, direction: str, trials: int, parallel: int,
                   sampler_seed: int, results: bool) -> None:
    """Search MODULE's config for the best OBJECTIVE: each key of ARGS is sampled from interval(0,1),
    int(interval(1,9)), tag(log,interval(1e-4,1e-1)) or chosen from a list (a,b, choice(a,b),
    range(1,4)); key=value fixes a value and ~name applies a version. A further module name among ARGS,
    with its own key=value pairs, is the execution the trials run through. Every trial is an
    experiment: running the command again resumes the search where it stopped.

    \b
    Examples:
      machinable search train 'lr=tag(log,interval(1e-4,1e-1))' opt=sgd,adam --objective val_loss --trials 30
      machinable search train 'lr=interval(0,1)' --objective acc --direction maximize \\
          --parallel 4 machinable.execution.multiprocess processes=4
      machinable search train 'lr=interval(0,1)' --objective acc --direction maximize --results
    """
    from machinable.sweep.search import Search

    space, version, executions = parse_arguments(module, args, "search", "or interval(...)")
    search = Search(module, space, objective=objective, direction=direction, trials=trials, parallel=parallel,
                    version=version, sampler_seed=sampler_seed)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the command prints its own table, not a line per trial
    if not results:
        try:
            with through(executions):
                search.run()
        except ExecutionFailed as error:
            raise click.ClickException(error_message(error) + " Run the same command again to resume.") from None
    if not search.results():
        click.echo(f"search {search.search_id or '(new)'} of {module}: no trials stored.")
        return
    click.echo(search.as_table(title=f"search {search.search_id or '(new)'} of {module}"))
    best = search.best
    if best is None:
        click.echo("No finished trial yet.")
    else:
        params = " ".join(f"{key}={value}" for key, value in best["params"].items())
        click.echo(f"best: {objective} = {best['value']:g} at {params} ({best['experiment'].experiment_id})")
