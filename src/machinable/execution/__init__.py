"""Executions decide where and how experiments run, separately from what they do.

`with execution: a.launch(); b.launch()` collects experiments and dispatches them
when the block exits. Subclasses override `on_dispatch()` (all experiments) or
`on_dispatch_experiment()` (one); the default runs each in this process by calling
`experiment()`, which is also what a worker in another process or machine calls.
"""

from __future__ import annotations

import os
import time
import warnings

from machinable import context, environment, ids
from machinable.config import deep_merge
from machinable.element import Element
from machinable.errors import ModuleNotFound
from machinable.project import Project
from machinable.storage.files import readable_json, write_atomic


class Execution(Element):
    #: True for executions whose on_dispatch() returns once the experiments are submitted
    #: (a batch queue), before they start; the never-started warning does not apply.
    asynchronous = False

    def __init__(self, version=None, *, resources: dict | None = None):
        super().__init__(version)
        self.timestamp = int(time.time())
        self.nickname = ids.nickname()
        self.host: dict | None = None
        self._resources = dict(resources or {})
        self._experiments: list = []

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
        experiments = self.experiments
        if not experiments:
            return self
        self.on_before_dispatch()
        for experiment in experiments:
            experiment.on_before_dispatch()
        try:
            self.on_dispatch()
        finally:
            for experiment in experiments:
                experiment.on_after_dispatch()
            self.on_after_dispatch()
        if not self.asynchronous:
            self._warn_never_started(experiments)
        return self

    def _warn_never_started(self, experiments) -> None:
        missing = [e for e in experiments if not e.is_started()]
        if missing:
            names = ", ".join(repr(e) for e in missing)
            warnings.warn(
                f"{type(self).__name__} '{self.nickname}' dispatched {len(missing)} experiment(s) that never "
                f"started: {names}. on_dispatch() returned without running them; make sure it calls "
                "experiment() for each (a lambda passed to multiprocessing cannot be pickled and is "
                "silently dropped: use a module-level function) and waits for the results.",
                RuntimeWarning,
                stacklevel=3,
            )

    def on_before_dispatch(self) -> None:
        """Called before the experiments are dispatched."""

    def on_dispatch(self) -> None:
        """Run `self.experiments`; by default one after another in this process."""
        for experiment in self.experiments:
            self.on_dispatch_experiment(experiment)

    def on_dispatch_experiment(self, experiment) -> None:
        failure = experiment()
        if failure is not None:
            raise failure

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

    def write_record(self, experiment, started_at: float) -> str:
        """Store this execution with `experiment` (host, code version, packages, resources).

        Returns the record's file name in `executions/`; its existence marks the start.
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
        }
        directory = experiment.local_directory("executions", create=True)
        name = f"{started_at:.6f}-{self.nickname}.json"
        # the environment part is large and rarely changes: encoded again only when it does
        text = readable_json(record, *environment.encoded(experiment._project, type(experiment).__module__))
        write_atomic(os.path.join(directory, name), text.encode())
        return name

    def portable_record(self) -> dict:
        """What `from_record()` needs to rebuild this execution in another process."""
        return {
            "module": self.module,
            "version": self.version(),
            "config": self.config.to_dict(),
            "resources": self._resources,
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
        execution = element_class(record.get("version") or [], resources=record.get("resources"))
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
        return state

    def __repr__(self):
        return f"Execution [{self.nickname}] {self.module}"
