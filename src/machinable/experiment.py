"""Experiments: configured research code that runs exactly once and is found again by its config."""

from __future__ import annotations

import os
import random
import shlex
import sys
import time

from machinable import context, ids
from machinable.config import deep_merge
from machinable.element import Element
from machinable.errors import CorruptMetadata, MachinableError, ModuleNotFound, StateError, ValidationError
from machinable.identity import Request, keys_hash, keys_of
from machinable.project import Project
from machinable.status import StoredRuns
from machinable.run import run
from machinable.storage import Storage
from machinable.storage import metadata as stored_metadata
from machinable.stored_data import StoredData
from machinable.times import humanize


class Experiment(StoredRuns, StoredData, Element):
    """Subclass it, give it a `Config` and implement `on_execute()`.

    `get(module, version)` returns the stored experiment with that config or a new
    one; `launch()` runs it once. Direct instantiation always gives a new experiment.
    """

    def __init__(self, version=None, *, seed: int | None = None, derived_from: "Experiment | None" = None, uses=()):
        super().__init__(version)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32):
            raise ValidationError(f"seed must be an integer between 0 and 2**32 - 1, got {seed!r}.")
        self.experiment_id = ids.experiment_id()
        self.timestamp = int(time.time())
        self.seed = ids.seed() if seed is None else seed
        self._fixed_seed = seed is not None
        self._derived_from = derived_from
        self._uses = list(uses)
        self._project = Project.current().directory
        self._storage: Storage | None = None
        self._metadata: dict | None = None
        self._group_pattern: str | None = None
        self._reuse = False
        self._execution = None
        self._records: dict = {}
        self._attempt = None  # the run.Attempt while this process runs it

    # --- retrieval --------------------------------------------------------------------

    @classmethod
    def retrieve(cls, module: str, version=None, **kwargs) -> "Experiment":
        """`get()`: the stored experiment with this module, config and relations, or a new one."""
        experiment = cls._new(module, version, **kwargs)
        experiment._reuse = True
        experiment._storage = Storage.current()
        found = experiment._storage.find(experiment._request(), seed=experiment._seed_filter())
        if found is not None:
            experiment._bind(found)
        return experiment

    @classmethod
    def find_by_id(cls, experiment_id: str, storage: Storage | None = None, load_class: bool = True) -> "Experiment":
        """The stored experiment with this id; CorruptMetadata naming the file if it is damaged."""
        storage = storage or Storage.current()
        return open_experiment(storage, storage.locate(experiment_id), load_class=load_class)

    @classmethod
    def from_metadata(cls, metadata: dict, storage: Storage, load_class: bool = True) -> "Experiment":
        """The stored experiment, as an instance of its class, or of plain `Experiment` without `load_class`.

        Without `load_class` the project's module is not imported (no user code runs, e.g. in
        the dashboard); status, times, records, data and output work the same.
        """
        module = metadata["module"]
        element_class = Experiment
        if load_class:
            try:
                element_class = Project.current().element_class(module, Experiment)
            except ModuleNotFound:
                with Project(metadata["project"]):
                    element_class = Project.current().element_class(module, Experiment)
        experiment = element_class._new(module, metadata["version"], seed=metadata["seed"])
        experiment._storage = storage
        experiment._bind(metadata)
        return experiment

    def _bind(self, metadata: dict) -> None:
        """Become the stored experiment described by `metadata`."""
        self._metadata = metadata
        self.experiment_id = metadata["experiment_id"]
        self.timestamp = metadata["timestamp"]
        self.seed = metadata["seed"]
        self._version = metadata["version"]
        schema = self.config_schema()
        self._config_data = deep_merge(schema.defaults(), metadata["config"]) if schema else dict(metadata["config"])

    # --- identity ---------------------------------------------------------------------

    def _relations(self) -> dict:
        ancestor = self._derived_from
        return {
            "ancestor": ancestor.experiment_id if ancestor is not None else None,
            "uses": [_use_entry(element) for element in self._uses],
        }

    def _request(self) -> Request:
        schema = self.config_schema()
        config = self.config.to_dict()
        return Request(
            module=self.module,
            config=schema.identifying(config) if schema else config,
            defaults=schema.identifying_defaults() if schema else {},
            relations=self._relations(),
        )

    def _seed_filter(self) -> int | None:
        return self.seed if self._fixed_seed else None

    # --- committing -------------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = Storage.current()
        return self._storage

    def is_committed(self) -> bool:
        return self._metadata is not None

    def metadata(self) -> dict:
        """What `experiment.json` stores: module, class, config, versions, ids, seed, group, relations, project."""
        if not self.is_committed():
            raise StateError(f"{self} is not committed yet, so nothing is stored; call launch() or commit() first.")
        return dict(self._metadata)

    def group_as(self, pattern: str) -> "Experiment":
        """Store under `<storage>/<pattern>/<id>`; strftime codes such as %Y are filled in at commit."""
        if self.is_committed():
            raise StateError(f"{self} is already committed in {self.local_directory()}; its group cannot change.")
        self._group_pattern = pattern
        return self

    def _group(self) -> str:
        pattern = self._group_pattern
        if pattern is None:
            pattern = getattr(self.storage.config, "default_group", "%Y_%U_%a")
        group = time.strftime(pattern, time.localtime(self.timestamp)).strip("/")
        parts = group.split("/")
        if os.path.isabs(group) or ".." in parts or "" in parts:
            raise ValidationError(
                f"Group {group!r} (from pattern {pattern!r}) must be a relative path without '..' "
                "or empty parts, e.g. '%Y/lab-reports'."
            )
        return group

    def commit(self) -> "Experiment":
        """Create the experiment's directory and files (once). `launch()` calls this."""
        if self.is_committed():
            return self
        if self._derived_from is not None:
            self._derived_from.commit()  # first: committing may give it a stored experiment's id
        request = self._request()
        identity = request.identity
        keys = keys_of(request.config)
        metadata = {
            "experiment_id": self.experiment_id,
            "module": self.module,
            "class": type(self).__name__,
            "version": self._version,
            "config": self.config.to_dict(),
            "seed": self.seed,
            "timestamp": self.timestamp,
            "created_at": time.time(),
            "group": self._group(),
            "ancestor": request.relations["ancestor"],
            "uses": request.relations["uses"],
            "identity": identity,
            "keys": keys,
            "keys_hash": keys_hash(keys),
            "project": self._project,
        }
        stored = self.storage.commit(
            metadata, keys, request if self._reuse else None, seed=self._seed_filter()
        )
        self._bind(stored)
        if stored is metadata:
            self.on_create()
        return self

    # --- relations --------------------------------------------------------------------

    def derive(self, module: str | None = None, version=None, **kwargs) -> "Experiment":
        """A new child experiment of this one (of `module`, or of the same class)."""
        if module is None:
            return type(self)._new(self.module, version, derived_from=self, **kwargs)
        return Experiment.make(module, version, derived_from=self, **kwargs)

    def use(self, element: Element) -> "Experiment":
        """Attach a configured element (e.g. a dataset); its config counts for identity."""
        if self.is_committed():
            raise StateError(f"{self} is already committed; use() elements before launching it.")
        self._uses.append(element)
        return self

    @property
    def uses(self) -> list:
        if not self.is_committed():
            return list(self._uses)
        return [Element.make(entry["module"], entry["version"]) for entry in self._metadata["uses"]]

    @property
    def ancestor(self) -> "Experiment | None":
        if self.is_committed():
            ancestor_id = self._metadata.get("ancestor")
            return Experiment.find_by_id(ancestor_id, self.storage) if ancestor_id else None
        return self._derived_from

    @property
    def derived(self):
        from machinable.collection import Collection

        if not self.is_committed():
            return Collection()
        from machinable.conditions import where

        found, _ = self.storage.select(where({"@ancestor": self.experiment_id}))
        return Collection(open_experiment(self.storage, directory) for directory in found)

    # --- executing ------------------------------------------------------------------

    def resources(self) -> dict | None:
        """Resources this experiment asks of any execution (override to set)."""
        return None

    def launch(self) -> "Experiment":
        """Run it once: commit, then execute (or queue it in the surrounding `with execution:`).

        A finished experiment is not run again; a failed or died one resumes with the
        same id, seed and directory.
        """
        from machinable.execution import Execution

        execution = context.current(Execution)
        if execution is not None:
            execution.add(self)
            return self
        from machinable.execution.local import Local

        with Local() as local:
            local.add(self)
        return self

    def __call__(self, execution=None) -> BaseException | None:
        """Execute in this process (executions call this, possibly in another process).

        Exactly once: the experiment's claim file is taken first; while another live
        process holds it we wait, and afterwards find the experiment finished.
        `execution` is recorded as running it (default: the one it was queued in, else local).
        The protocol (claim, heartbeat, fencing, output, status) is `machinable.run`.

        A failure (an exception or `sys.exit()` in its code) is stored. If an execution
        runs the experiment, the `ExecutionFailed` is returned for the execution to report,
        so a loop or pool over many experiments runs them all; called on its own, it is raised.
        `ClaimLost` is raised when another process took this run over.
        """
        if execution is not None:
            self._execution = execution
        self.commit()
        if self.is_finished():  # also raises, before any write, if status.json is damaged
            return None
        self.storage.check_writable()
        from machinable.execution.local import Local

        failure = run(self, self._execution or Local())
        if failure is not None and self._execution is None:
            raise failure
        return failure

    def to_dispatch_code(self, inline: bool = False) -> str:
        """Python code that executes this committed experiment in a fresh interpreter.

        The code reopens the same project and storage (absolute paths), finds the
        experiment by id and calls it with the execution it was queued in. With
        `inline=True`, a shell command running that code with this Python.
        """
        if not self.is_committed():
            raise StateError(
                f"{self} is not committed, so another interpreter could not find it; "
                "commit() it first (launch() inside an execution context commits it)."
            )
        storage = self.storage
        call = "experiment()"
        if self._execution is not None:
            call = f"experiment(Execution.from_record({self._execution.portable_record()!r}))"
        code = (
            "from machinable import Execution, Experiment, Project, get\n\n"
            f"with Project({self._project!r}), get({storage.module!r}, {storage.portable_config()!r}):\n"
            f"    experiment = Experiment.find_by_id({self.experiment_id!r})\n"
            f"    if {call} is not None:\n"
            "        raise SystemExit(1)  # it failed: stored with its traceback, printed above\n"
        )
        if inline:
            return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
        return code

    # --- events (override these) ------------------------------------------------------

    def on_create(self) -> None:
        """Called once, when the experiment is committed to storage."""

    def on_before_dispatch(self) -> None:
        """Called in the dispatching process before the execution runs it."""

    def on_seeding(self) -> None:
        """Seed the random number generators with `self.seed`.

        Seeds `random`, and numpy and torch when the experiment's module imported them.
        """
        random.seed(self.seed)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed(self.seed)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.manual_seed(self.seed)

    def on_execute(self) -> None:
        """The experiment's code."""

    def on_success(self) -> None:
        """Called after `on_execute` returned without error."""

    def on_failure(self, exception: BaseException) -> None:
        """Called after `on_execute` raised."""

    def on_finish(self, success: bool) -> None:
        """Called at the end of every execution."""

    def on_after_dispatch(self) -> None:
        """Called in the dispatching process after the execution dispatched it."""

    # --- plumbing ---------------------------------------------------------------------

    def as_row(self) -> dict:
        """A summary for tables: id, module, status, creation time and config values."""
        row = {"id": self.experiment_id, "module": self.module, "status": self.status}
        if self.is_committed():
            row["created"] = humanize(self.timestamp)
        from machinable.config import flatten

        row.update(flatten(self.config.to_dict()))
        return row

    def __repr__(self):
        return f"Experiment [{self.experiment_id}] {self.module}"

    def __eq__(self, other):
        return isinstance(other, Experiment) and other.experiment_id == self.experiment_id

    def __hash__(self):
        return hash(self.experiment_id)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_records"] = {}
        state["_attempt"] = None
        return state

    def __reduce_ex__(self, protocol):
        """Pickle by module name, so the experiment can be rebuilt in any interpreter."""
        if self._module is None:
            return super().__reduce_ex__(protocol)
        return (_restore, (self._project, self._module, self.__getstate__()))


def open_experiment(storage: Storage, directory: str, metadata: dict | None = None, load_class: bool = True):
    """The experiment stored in `directory` (as its class, or plain `Experiment` without `load_class`).

    Raises CorruptMetadata naming the file, what is wrong and the fix if one of its metadata files is damaged
    or its class rejects its stored version (readers that list many use `machinable.opening.open_stored`).
    """
    path = os.path.join(directory, stored_metadata.METADATA)
    try:
        if metadata is None:
            metadata = stored_metadata.read(directory)
        else:
            stored_metadata.check(metadata, path)
        experiment = Experiment.from_metadata(metadata, storage, load_class=load_class)
        experiment._status()  # a damaged status.json makes it unreadable, never silently "committed"
    except CorruptMetadata:
        raise
    except MachinableError as error:  # e.g. a stored version the class rejects
        raise CorruptMetadata(
            f"Experiment {directory} cannot be opened from {path}: {type(error).__name__}: {error} "
            "Its files are untouched; fix the stored version or the experiment's class.",
            path, f"{type(error).__name__}: {error}",
        ) from error
    return experiment


def _restore(project: str, module: str, state: dict) -> Experiment:
    with Project(project):
        element_class = Project.current().element_class(module, Experiment)
    experiment = element_class.__new__(element_class)
    experiment.__dict__.update(state)
    return experiment


def _use_entry(element: Element) -> dict:
    schema = element.config_schema()
    config = element.config.to_dict()
    return {
        "module": element.module,
        "version": element.version(),
        "config": schema.identifying(config) if schema else config,
    }
