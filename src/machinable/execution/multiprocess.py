"""Run experiments in a pool of worker processes: `get("machinable.execution.multiprocess", {"processes": 2})`."""

from dataclasses import dataclass
from multiprocessing import Pool

from machinable.execution import Execution


def run_experiment(experiment) -> None:
    experiment()


class Multiprocess(Execution):
    @dataclass
    class Config:
        processes: int = 1

    def on_dispatch(self):
        with Pool(self.config.processes, maxtasksperchild=1) as pool:
            pool.map(run_experiment, self.experiments, chunksize=1)
