from dataclasses import dataclass
from multiprocessing import Pool

from machinable import Execution


def run_experiment(experiment):
    # A module-level function, because multiprocessing cannot pickle a lambda.
    experiment()


class Multiprocess(Execution):
    @dataclass
    class Config:
        processes: int = 1

    def on_dispatch(self):
        with Pool(self.config.processes) as pool:
            pool.map(run_experiment, self.experiments)
