"""Run experiments on a Dask `distributed` cluster.

    with get("machinable.execution.dask", {"address": "tcp://127.0.0.1:8786"}):
        experiment.launch()

Each experiment becomes one task on the scheduler at `address`. The task calls
`experiment()` on a worker, so the workers need the same storage (same machine or a
shared filesystem) and can import machinable and the project's modules. Without an
`address`, a `LocalCluster` of `workers` processes is started on 127.0.0.1 for this
dispatch and closed afterwards. It spawns its worker processes, which re-import your
main script, so keep the launching code under `if __name__ == "__main__":`.

The dispatch waits for every task; failures are reported as by every execution (one
`ExecutionFailed` names all of them; `fail_fast=True` cancels the rest at the first).
A worker process that dies while running an experiment fails that experiment: when
the scheduler reschedules the task, it sees the died attempt of this execution and
does not run it again.

A worker process runs one experiment at a time, even if it has several threads:
output capture and seeding are process-wide.

Resources: if `compute_resources(experiment)` is not empty, for example because of
`get(..., resources={"GPU": 1})` or the experiment's `resources()`, it is passed to
Dask as the task's `resources=`. Dask treats these as abstract numbers that workers
must offer (`dask worker --resources "GPU=1"`). A task that asks for something no
worker offers waits forever.

Needs `pip install 'machinable[dask]'` (dask and distributed). They are imported only
when experiments are added, so reading stored records works without them.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from machinable.errors import ExecutionFailed, ModuleNotFound
from machinable.execution import Execution, call_experiment
from machinable.progress import track

_one_experiment_at_a_time = threading.Lock()


def run_experiment(experiment) -> BaseException | None:
    """The Dask task: execute `experiment` in the worker process; its failure or None."""
    with _one_experiment_at_a_time:
        if _died_in(experiment, experiment._execution):
            return ExecutionFailed("its Dask worker process died while running it")
        return call_experiment(experiment)


def _died_in(experiment, execution) -> bool:
    """Did `experiment`'s latest attempt, made by `execution`, die (the scheduler retries a lost task)?"""
    if experiment.status != "died":
        return False
    latest = experiment.execution
    return latest is not None and latest.nickname == execution.nickname


def import_distributed():
    try:
        import distributed
    except ImportError as error:
        raise ModuleNotFound(
            "machinable.execution.dask needs the packages dask and distributed, which cannot be "
            f"imported ({error}). Install them with: pip install 'machinable[dask]'"
        ) from error
    return distributed


class Dask(Execution):
    @dataclass
    class Config:
        address: str | None = None  # scheduler, e.g. "tcp://127.0.0.1:8786"; None: a LocalCluster
        workers: int = 2  # worker processes of the LocalCluster

    def add(self, experiment) -> None:
        import_distributed()  # before add() commits anything
        super().add(experiment)

    def on_dispatch(self) -> None:
        distributed = import_distributed()
        if self.config.address is None:
            with distributed.LocalCluster(
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                n_workers=self.config.workers,
                threads_per_worker=1,
                processes=True,
            ) as cluster, distributed.Client(cluster) as client:
                self._run_on(client, distributed)
            return
        try:
            client = distributed.Client(self.config.address)
        except OSError as error:
            raise ExecutionFailed(
                f"Cannot reach the Dask scheduler at {self.config.address} ({error}), so none of "
                f"the {len(self.experiments)} experiment(s) ran. Start the scheduler, fix the "
                "address, or leave 'address' unset to use a local cluster."
            ) from error
        with client:
            self._run_on(client, distributed)

    def _run_on(self, client, distributed) -> None:
        experiments = self.experiments
        futures = [
            client.submit(
                run_experiment,
                experiment,
                pure=False,
                key=f"machinable-{experiment.experiment_id}-{uuid.uuid4().hex[:8]}",
                resources=self.compute_resources(experiment) or None,
            )
            for experiment in experiments
        ]
        experiment_of = {future.key: experiment for future, experiment in zip(futures, experiments)}
        for future in track(distributed.as_completed(futures), len(futures), f"{self.nickname}: experiments done"):
            if self.report(experiment_of[future.key], _failure_of(future, distributed)):
                client.cancel(futures)
                break


def _failure_of(future, distributed) -> BaseException | None:
    if future.status == "finished":
        return future.result()
    if future.status == "error":
        error = future.exception()
        if isinstance(error, distributed.KilledWorker):
            return ExecutionFailed(f"its Dask worker process died while running it ({error})")
        return error
    return ExecutionFailed(f"its Dask task {future.key} ended as '{future.status}' (scheduler or worker lost?)")
