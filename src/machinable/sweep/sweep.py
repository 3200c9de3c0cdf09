"""Sweeps: every point of a space is an experiment, found again by its config and run exactly once.

    sweep = Sweep("train", {"lr": [0.1, 0.01], "epochs": range(1, 4)}, version="~fast")
    sweep.plan()                       # each point, its experiment and status
    with get("machinable.execution.multiprocess", {"processes": 4}):
        sweep.launch()                 # what is not finished; failed points only with retry_failed=True

A driver that is killed and run again launches only what did not finish; a point running in
another driver is waited for, not run twice (the experiments' claims, see `machinable.run`).
"""

from __future__ import annotations

import contextlib

from machinable import context
from machinable.config import flatten, normalize_version
from machinable.errors import ValidationError
from machinable.sweep.space import Space
from machinable.sweep.stored import MODULE


class PlanRow:
    """One point of a plan: its values, its experiment (stored or new) and that experiment's status."""

    __slots__ = ("point", "experiment", "status")

    def __init__(self, point: dict, experiment, status: str):
        self.point, self.experiment, self.status = point, experiment, status

    @property
    def experiment_id(self) -> str | None:
        return self.experiment.experiment_id if self.experiment.is_committed() else None

    def __repr__(self):
        return f"PlanRow({self.point!r}, {self.experiment_id}, {self.status!r})"


class Plan(list):
    """The rows of `Sweep.plan()`, with counts and a table."""

    def counts(self) -> dict:
        out: dict = {}
        for row in self:
            out[row.status] = out.get(row.status, 0) + 1
        return out

    def to_run(self, retry_failed: bool = False) -> list:
        """The rows that `launch(retry_failed)` runs."""
        return [row for row in self if row.status != "finished" and (retry_failed or row.status != "failed")]

    def as_table(self, title: str | None = None) -> str:
        from machinable.tables import render

        rows = [{"#": n, **row.point, "experiment": row.experiment_id or "-", "status": row.status}
                for n, row in enumerate(self)]
        return render(rows, title=title)


class Sweep:
    """The points of `space` (see `machinable.sweep.space`) as experiments of `module`, each configured
    with the fixed `version` (e.g. `"~fast"`, `{"model.depth": 3}`) and then the point's values."""

    def __init__(self, module: str, space, *, version=None, samples: int | None = None, sampler_seed: int = 0):
        if not isinstance(module, str) or not module:
            raise ValidationError(f"A sweep's module is a module name such as 'train', not {module!r}.")
        self.module = module
        self.space = space if isinstance(space, Space) else Space(space, samples, sampler_seed)
        self.version = normalize_version(version)
        self._record = None
        self.points = self.space.points()
        self._check()

    def versions(self, point: dict) -> list:
        """The versions of the point's experiment: the fixed ones, then the point's values."""
        return [*self.version, point]

    def _check(self) -> None:
        """Every point's config is valid (an unknown key gets the config's typo suggestion), before anything is
        written or the storage is opened."""
        from machinable.experiment import Experiment
        from machinable.project import Project

        element_class = Project.current().element_class(self.module, Experiment)
        for point in self.points:
            element_class._new(self.module, self.versions(point)).config

    def definition(self) -> dict:
        return {"kind": "sweep", "module": self.module, "version": self.version, "space": self.space.to_json()}

    def record(self):
        """The stored sweep (a `StoredSweep`, new until launched)."""
        if self._record is None:
            from machinable.element import get

            self._record = get(MODULE, self.definition())
        return self._record

    @property
    def sweep_id(self) -> str | None:
        record = self.record()
        return record.experiment_id if record.is_committed() else None

    def experiments(self) -> list:
        from machinable.element import get

        return [get(self.module, self.versions(point)) for point in self.points]

    def plan(self) -> Plan:
        """Every point with its experiment and status: finished, failed, running, died or new. Writes nothing."""
        rows = Plan()
        for point, experiment in zip(self.points, self.experiments()):
            status = experiment.status
            rows.append(PlanRow(point, experiment, "new" if status == "committed" else status))
        return rows

    def launch(self, retry_failed: bool = False) -> "Sweep":
        """Launch the points that are not finished (failed ones only with `retry_failed`) through the current
        execution (`with get(execution):`; else one after another in this process)."""
        from machinable.execution import Execution
        from machinable.execution.local import Local

        plan = self.plan()
        todo = [row.experiment for row in plan.to_run(retry_failed)]
        for experiment in todo:
            experiment.commit()  # before the run, so a killed driver's points are already members
        self.record().add_members(row.experiment.experiment_id for row in plan if row.experiment.is_committed())
        execution = context.current(Execution)
        with Local() if execution is None else contextlib.nullcontext():  # else the surrounding one collects
            for experiment in todo:
                experiment.launch()
        return self

    def find(self):
        """The stored experiments of its points (`find(sweep=...)`)."""
        from machinable.query import find

        return find(sweep=self)

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self):
        return f"Sweep('{self.module}', {len(self.points)} points)"


def point_of(experiment, keys) -> dict:
    """The values of `keys` (dotted) in an experiment's config."""
    flat = flatten(experiment.config.to_dict())
    return {key: flat.get(key) for key in keys}
