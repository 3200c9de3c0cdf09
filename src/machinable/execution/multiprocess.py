"""Run experiments in worker processes: `get("machinable.execution.multiprocess", {"processes": 2})`.

Each of the `processes` workers lives for the whole dispatch and runs one experiment
at a time, so a module's imports are paid once per worker, not once per experiment.
A worker that dies (`os._exit()`, a signal, a segfault, the OOM killer) fails only
the experiment it was running, with its exit code or signal, and is replaced.
Workers ignore Ctrl-C: the interrupted driver stops them all, which leaves every
running experiment "died" and resumable; so does `fail_fast` at the first failure.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from dataclasses import dataclass
from multiprocessing.connection import wait

from machinable.errors import ExecutionFailed
from machinable.execution import Execution, call_experiment, process_ended
from machinable.progress import track


def serve(connection) -> None:
    """A worker's loop: run each experiment received, send back its failure (or None); stop at None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the driver, which stops the workers
    with contextlib.suppress(EOFError):  # end of file: the driver is gone
        while (experiment := connection.recv()) is not None:
            try:
                failure = call_experiment(experiment)
            except Exception as error:  # machinable could not run it (e.g. storage unreadable): its outcome too
                failure = error
            connection.send(failure)


class Worker:
    """One long-lived worker process (started when first needed) and the experiment it runs now."""

    def __init__(self, context):
        self.context = context
        self.process = None
        self.connection = None
        self.experiment = None

    def start(self, experiment) -> None:
        if self.process is None:
            self.connection, child = self.context.Pipe()
            # not a daemon, so that experiments may start processes of their own; stop() ends it
            self.process = self.context.Process(target=serve, args=(child,))
            self.process.start()
            child.close()  # so that the worker's death shows as end-of-file here
        self.connection.send(experiment)
        self.experiment = experiment

    def waitables(self) -> list:
        return [self.connection, self.process.sentinel]

    def outcome(self) -> tuple:
        """(experiment, failure or None) once `waitables()` is ready: it sent the outcome, or died."""
        experiment, self.experiment = self.experiment, None
        try:
            return experiment, self.connection.recv()
        except (EOFError, OSError):
            pass
        self.process.join()
        failure = ExecutionFailed(f"its worker process {process_ended(self.process.exitcode)} while running it")
        self.connection.close()
        self.process = self.connection = None  # replaced by a fresh one if more experiments come
        return experiment, failure

    def stop(self) -> None:
        """Let an idle worker exit; terminate a busy one (its experiment is left "died", resumable)."""
        if self.process is None:
            return
        if self.experiment is None:
            with contextlib.suppress(OSError):
                self.connection.send(None)
        else:
            self.process.terminate()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class Multiprocess(Execution):
    @dataclass
    class Config:
        processes: int = 1

    def on_dispatch(self) -> None:
        experiments = self.experiments
        context = multiprocessing.get_context()
        workers = [Worker(context) for _ in range(max(1, min(self.config.processes, len(experiments))))]
        try:
            for _ in track(self._run(workers, experiments), len(experiments), f"{self.nickname}: experiments done"):
                pass
        finally:
            for worker in workers:
                worker.stop()

    def _run(self, workers: list, experiments: list):
        """Hand the experiments to idle workers; yield each one as it ends, reported."""
        waiting = list(experiments)
        while True:
            for worker in workers:
                if worker.experiment is None and waiting:
                    worker.start(waiting.pop(0))
            busy = [worker for worker in workers if worker.experiment is not None]
            if not busy:
                return
            ready = set(wait([w for worker in busy for w in worker.waitables()]))
            for worker in busy:
                if ready.intersection(worker.waitables()):
                    experiment, failure = worker.outcome()
                    if self.report(experiment, failure):
                        return  # fail_fast: on_dispatch() stops the workers still running one
                    yield experiment
