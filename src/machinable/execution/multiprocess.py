"""Run experiments in a pool of worker processes: `get("machinable.execution.multiprocess", {"processes": 2})`."""

from dataclasses import dataclass
from multiprocessing import Pool

from machinable.execution import Execution
from machinable.progress import track


def run_experiment(experiment) -> BaseException | None:
    """Run it in a worker; its exception is returned, so the other experiments keep running."""
    try:
        return experiment()
    except Exception as error:
        return error


class Multiprocess(Execution):
    @dataclass
    class Config:
        processes: int = 1

    def on_dispatch(self):
        experiments = self.experiments
        with Pool(self.config.processes, maxtasksperchild=1) as pool:
            outcomes = pool.imap_unordered(run_experiment, experiments, chunksize=1)
            errors = [e for e in track(outcomes, len(experiments), f"{self.nickname}: experiments done") if e]
        if errors:
            raise errors[0]
