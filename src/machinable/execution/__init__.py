"""Executions decide where and how experiments run, separately from what they do.

`with execution: a.launch(); b.launch()` collects experiments and dispatches them
when the block exits. Subclasses override `on_dispatch()` (all experiments) or
`on_dispatch_experiment()` (one); the default runs each in this process by calling
`experiment()`, which is also what a worker in another process or machine calls.

The failure policy is the same for every backend and lives here, in `dispatch()`:
every queued experiment runs, then one `ExecutionFailed` names each that failed (its
stored error, or how its process ended as the backend `report()`ed it). With
`fail_fast=True` the first failure stops the dispatch. A backend only says where an
experiment runs; one that runs experiments elsewhere reports what it saw of each.
"""

from __future__ import annotations

import os
import time
import warnings

from machinable import context, environment, ids
from machinable.config import deep_merge
from machinable.element import Element
from machinable.errors import ClaimLost, ExecutionFailed, ModuleNotFound
from machinable.project import Project
from machinable.storage.files import readable_json, write_atomic


class Execution(Element):
    #: True for executions whose on_dispatch() returns once the experiments are submitted
    #: (a batch queue), before they start; the never-started warning does not apply.
    asynchronous = False
    #: set on the executions of `experiment.executions`: a later attempt took this one's claim over
    superseded = False

    def __init__(self, version=None, *, resources: dict | None = None, fail_fast: bool = False):
        super().__init__(version)
        self.timestamp = int(time.time())
        self.nickname = ids.nickname()
        self.host: dict | None = None
        self._resources = dict(resources or {})
        #: stop at the first failed experiment (running ones are stopped, resumable; the rest stay committed)
        self.fail_fast = bool(fail_fast)
        self._experiments: list = []
        self._reported: dict = {}  # experiment -> the failure a backend saw when it ended, or None

    @property
    def experiments(self) -> list:
        """The experiments this execution will dispatch (or has dispatched)."""
        return list(self._experiments)

    def add(self, experiment) -> None:
        """Commit `experiment` and queue it, unless it is finished or already queued."""
        experiment.commit()
        if experiment.is_finished() or experiment in self._experiments:
            return
        experiment._execution = self
        self._experiments.append(experiment)

    def __enter__(self):
        context.push(Execution, self)
        return self

    def __exit__(self, exc_type, *exc):
        context.pop(Execution, self)
        if exc_type is None:
            self.dispatch()

    # --- dispatching ------------------------------------------------------------------

    def dispatch(self) -> "Execution":
        """Run the queued experiments (`on_dispatch()`), then raise one `ExecutionFailed` for all failures."""
        experiments = self.experiments
        if not experiments:
            return self
        self._reported = {}
        self.on_before_dispatch()
        for experiment in experiments:
            experiment.on_before_dispatch()
        try:
            self.on_dispatch()
        finally:
            for experiment in experiments:
                if not self.asynchronous:  # it ran: called on its own later, experiment() raises its failure
                    experiment._execution = None
                experiment.on_after_dispatch()
            self.on_after_dispatch()
        if not self.asynchronous:
            self._raise_failures(experiments)
        return self

    def report(self, experiment, failure: BaseException | None = None) -> bool:
        """A backend tells that `experiment` ended, with the `failure` it saw (e.g. "its process
        died with exit code 9", or what `experiment()` returned) or None.

        The stored status counts too, so reporting is optional. Returns True when the dispatch
        should stop now: `fail_fast` is set and this experiment failed.
        """
        self._reported[experiment] = failure
        return self.fail_fast and not self.asynchronous and self.failure_of(experiment) is not None

    def failure_of(self, experiment) -> str | None:
        """Why `experiment` failed in this dispatch ("ValueError: boom"), or None if it did not."""
        status = experiment.status
        if status == "failed":
            error = experiment.error() or {}
            return f"{error.get('type')}: {error.get('message')}"
        reported = self._reported.get(experiment)
        if type(reported) is ExecutionFailed:  # a backend's description, e.g. of a dead process
            return str(reported)
        if reported is not None:
            return f"{type(reported).__name__}: {reported}"
        if status == "died":
            return "its process died without storing a failure (killed?)"
        return None

    def _raise_failures(self, experiments) -> None:
        failures = [(e, why) for e in experiments if (why := self.failure_of(e)) is not None]
        stopped = self.fail_fast and any(e in self._reported for e, _ in failures)
        if stopped:  # what fail_fast did not let finish is not a failure of its own
            failures = [(e, why) for e, why in failures if e in self._reported]
            unfinished = [e for e in experiments if e not in self._reported and not e.is_finished()]
        else:
            not_started = [e for e in experiments if e not in self._reported and not e.is_started()]
            if not_started:
                self._warn_never_started(not_started)
        if not failures:
            return
        lost = [self._reported.get(e) for e, _ in failures]
        if all(isinstance(error, ClaimLost) for error in lost):
            raise lost[0]  # superseded, not failed: the run that took over owns the outcome
        lines = "".join(f"  {e!r}: {why}\n    output: {e.local_directory('output.log')}\n" for e, why in failures)
        message = (
            f"{len(failures)} of {len(experiments)} experiment(s) failed in {type(self).__name__} execution "
            f"'{self.nickname}':\n{lines}launch() them again to resume them with the same seed."
        )
        if stopped and unfinished:
            message += (
                f"\nfail_fast=True stopped the dispatch at the first failure; {len(unfinished)} experiment(s) "
                f"did not run to the end: {', '.join(repr(e) for e in unfinished)}."
            )
        first = next((self._reported[e] for e, _ in failures if self._reported.get(e) is not None), None)
        raise ExecutionFailed(message) from ((first.__cause__ or first) if first is not None else None)

    def _warn_never_started(self, missing) -> None:
        names = ", ".join(repr(e) for e in missing)
        warnings.warn(
            f"{type(self).__name__} '{self.nickname}' dispatched {len(missing)} experiment(s) that never "
            f"started: {names}. on_dispatch() returned without running them; make sure it calls "
            "experiment() for each (a lambda passed to multiprocessing cannot be pickled and is "
            "silently dropped: use a module-level function) and waits for the results.",
            RuntimeWarning,
            stacklevel=4,
        )

    def on_before_dispatch(self) -> None:
        """Called before the experiments are dispatched."""

    def on_dispatch(self) -> None:
        """Run `self.experiments`; by default one after another in this process."""
        for experiment in self.experiments:
            if self.report(experiment, self.on_dispatch_experiment(experiment)):
                break

    def on_dispatch_experiment(self, experiment) -> BaseException | None:
        """Run one experiment; return its failure, if the backend saw one (see `report()`)."""
        return call_experiment(experiment)

    def on_after_dispatch(self) -> None:
        """Called after `on_dispatch()` returned."""

    # --- resources --------------------------------------------------------------------

    def default_resources(self, experiment) -> dict:
        """Resources an experiment gets unless the execution or the experiment says otherwise."""
        return {}

    def compute_resources(self, experiment) -> dict:
        """Defaults, overridden by the execution's `resources`, overridden by `experiment.resources()`."""
        resources = deep_merge(self.default_resources(experiment) or {}, self._resources)
        return deep_merge(resources, experiment.resources() or {})

    # --- the stored record ------------------------------------------------------------

    def write_record(self, experiment, started_at: float, attempt: dict | None = None, check=None) -> str:
        """Store this execution with `experiment` (host, code version, packages, resources).

        `attempt` describes the run's attempt (number, whose claim it took over) and
        `check` is its fence. Returns the record's file name in `executions/`; its
        existence marks the start.
        """
        self.host = environment.host()
        record = {
            "nickname": self.nickname,
            "timestamp": self.timestamp,
            "started_at": started_at,
            "module": self.module,
            "version": self.version(),
            "config": self.config.to_dict(),
            "resources": self.compute_resources(experiment),
            "host": self.host,
            "attempt": attempt,
        }
        directory = experiment._file("executions")  # created with the attempt's number
        name = f"{started_at:.6f}-{self.nickname}.json"
        # the environment part is large and rarely changes: encoded again only when it does
        text = readable_json(record, *environment.encoded(experiment._project, type(experiment).__module__))
        write_atomic(os.path.join(directory, name), text.encode(), check)
        return name

    def portable_record(self) -> dict:
        """What `from_record()` needs to rebuild this execution in another process."""
        return {
            "module": self.module,
            "version": self.version(),
            "config": self.config.to_dict(),
            "resources": self._resources,
            "fail_fast": self.fail_fast,
            "nickname": self.nickname,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_record(cls, record: dict) -> "Execution":
        """The execution described by a stored record (its class if it can still be imported).

        Only `module` is required: a record from another machinable version or written by
        hand still reads, with None or empty values for what it lacks.
        """
        try:
            element_class = Project.current().element_class(record["module"], Execution)
        except ModuleNotFound:
            element_class = Execution
        execution = element_class(
            record.get("version") or [], resources=record.get("resources"), fail_fast=record.get("fail_fast", False)
        )
        execution._module = record["module"]
        execution._config_data = record.get("config") or {}
        execution.nickname = record.get("nickname")
        execution.timestamp = record.get("timestamp")
        execution.host = record.get("host")
        execution.record = record
        return execution

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_experiments"] = []
        state["_reported"] = {}
        return state

    def __repr__(self):
        return f"Execution [{self.nickname}] {self.module}"


def call_experiment(experiment) -> ExecutionFailed | None:
    """Call `experiment()` in this process; its failure, returned or raised (a lost claim), or None."""
    try:
        return experiment()
    except ExecutionFailed as failure:
        return failure


def process_ended(exitcode: int) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if exitcode >= 0:
        return f"exited with code {exitcode}"
    import signal

    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = "unknown signal"
    return f"was killed by signal {-exitcode} ({name})"
