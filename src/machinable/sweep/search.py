"""Adaptive search with Optuna (`pip install machinable[optuna]`), where every trial is an experiment.

    search = Search("train", {"lr": loguniform(1e-4, 1e-1), "opt": ["sgd", "adam"]},
                    objective="val_loss", direction="minimize", trials=50, parallel=4)
    with get("machinable.execution.multiprocess", {"processes": 4}):
        search.run()
    search.best, search.results(), search.importances()

A trial's config finds its experiment (`get()`): a config asked again reuses the stored result. The
objective is read from the experiment's summary (`machinable.summary`: the last value of a record
column, or `self.summary[...]`). The search is stored (`machinable.sweep.stored`, kind "search") and
lists its trials' experiments before they run, so a driver restarted after a kill rebuilds the study
from the stored experiments (no Optuna database), resumes the trials that were running and asks only
for the rest: no trial is lost or run twice. `trials` and `parallel` are not part of the search's
identity: running it again with more trials continues it.
"""

from __future__ import annotations

import os
import time
import warnings

from machinable import context
from machinable.config import flatten, normalize_version
from machinable.errors import ExecutionFailed, ModuleNotFound, ValidationError
from machinable.sweep.space import Distribution
from machinable.sweep.stored import MODULE

DIRECTIONS = ("minimize", "maximize")
BATCH_CLAIM = "batch.claim"  # in the stored search's directory: held while a driver asks for and lists a batch
DRIVERS = "drivers"  # in the stored search's directory: each running driver's claim, held for its whole run()
LOST = object()  # what _next_batch returns when its claim was taken over before it listed the batch


class Search:
    def __init__(self, module: str, space: dict, *, objective: str, direction: str = "minimize", trials: int = 50,
                 parallel: int = 1, version=None, sampler_seed: int = 0):
        try:
            import optuna  # noqa: F401  (now, not in the middle of a run)
        except ImportError as error:
            raise ModuleNotFound(f"Search needs the package optuna, which cannot be imported ({error}). Install it "
                                 "with: pip install 'machinable[optuna]'") from error

        if direction not in DIRECTIONS:
            raise ValidationError(f"direction must be 'minimize' or 'maximize', not {direction!r}.")
        for name, number, low in (("trials", trials, 0), ("parallel", parallel, 1)):
            if not isinstance(number, int) or isinstance(number, bool) or number < low:
                raise ValidationError(f"{name} must be a whole number {low} or more, got {number!r}.")
        if not isinstance(objective, str) or not objective:
            raise ValidationError(f"objective names a summary value such as 'val_loss', not {objective!r}.")
        if not isinstance(space, dict) or not space:
            raise ValidationError(f"A search needs a non-empty dict of keys and distributions, got {space!r}.")
        self.module, self.objective, self.direction = module, objective, direction
        self.trials, self.parallel, self.sampler_seed = trials, parallel, sampler_seed
        self.version = normalize_version(version)
        self.space = {key: _distribution(key, values) for key, values in space.items()}
        self._record = None
        self._study = None
        self._check()

    # --- definition and storage ----------------------------------------------------------

    def versions(self, params: dict) -> list:
        return [*self.version, params]

    def _check(self) -> None:
        """A point of the space configures the module (unknown keys get the config's typo suggestion)."""
        from machinable.experiment import Experiment
        from machinable.project import Project

        params = {key: _example(dist) for key, dist in self.space.items()}
        Project.current().element_class(self.module, Experiment)._new(self.module, self.versions(params)).config

    def definition(self) -> dict:
        import json

        from optuna.distributions import distribution_to_json

        space = {key: json.loads(distribution_to_json(d)) for key, d in self.space.items()}
        options = {"objective": self.objective, "direction": self.direction, "sampler_seed": self.sampler_seed}
        return {"kind": "search", "module": self.module, "version": self.version, "space": space, "options": options}

    def record(self):
        if self._record is None:
            from machinable.element import get

            self._record = get(MODULE, self.definition())
        return self._record

    @property
    def search_id(self) -> str | None:
        return self.record().experiment_id if self.record().is_committed() else None

    # --- the study ----------------------------------------------------------------------

    def study(self):
        """The Optuna study of the stored trials (rebuilt from the experiments, then kept up to date by run())."""
        if self._study is None:
            self._study = self._new_study()
            self._sync(self._study, set(), self.record().members(), {}, None)
        return self._study

    def _new_study(self):
        import optuna

        return optuna.create_study(direction=self.direction, sampler=self._sampler(0))

    def _sampler(self, trials: int):
        """The TPE sampler of a study that starts from `trials` stored trials: seeded by the sampler seed and that
        count, so drivers running at once (each starts after a different count: batches are listed one at a
        time) do not ask for the same random start-up points."""
        import random

        import optuna

        seed = random.Random(f"{self.sampler_seed}/{trials}").getrandbits(32)
        return optuna.samplers.TPESampler(seed=seed)

    def _sync(self, study, told: set, members: list, listers: dict, me: str | None) -> list:
        """Add the finished and failed trials among `members` that the study has not been told of (to `told` too);
        the unfinished ones that no process runs and no live driver but `me` listed (never started, or their
        driver was killed) are returned, to be resumed. The others are added once they end."""
        from machinable.experiment import Experiment
        from machinable.storage.claim import Claim

        resume = []
        for experiment_id in members:
            if experiment_id in told:
                continue
            experiment = Experiment.find_by_id(experiment_id, self.record().storage)
            status = experiment.status  # read once: a trial may end meanwhile
            if status in ("finished", "failed"):
                study.add_trial(self._trial(experiment))
                told.add(experiment_id)
            elif status != "running":
                lister = listers.get(experiment_id)
                if lister is None or lister == me or not Claim(self.record()._file(os.path.join(DRIVERS, lister))).is_held():
                    resume.append(experiment)
        return resume

    def _trial(self, experiment):
        import optuna

        flat = flatten(experiment.config.to_dict())
        params = {key: flat.get(key) for key in self.space}
        attrs = {"experiment": experiment.experiment_id}
        value = self._objective(experiment)
        if value is None:
            return optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params=params,
                                             distributions=self.space, user_attrs=attrs)
        return optuna.trial.create_trial(value=value, params=params, distributions=self.space, user_attrs=attrs)

    def _objective(self, experiment) -> float | None:
        if not experiment.is_finished():
            return None
        summary = experiment.summary()
        if self.objective not in summary:
            raise ValidationError(
                f"{experiment!r} finished without the objective {self.objective!r} in its summary "
                f"(it has: {', '.join(summary) or 'nothing'}); record it, or set self.summary[{self.objective!r}]."
            )
        return float(summary[self.objective])

    # --- running ------------------------------------------------------------------------

    def run(self, poll: float = 0.5) -> "Search":
        """Run trials until `trials` distinct experiments are stored and have ended, `parallel` at a time, each
        batch through a copy of the current execution (`with get(execution):`; else in this process). A trial
        whose run died here (e.g. its worker was killed) counts as failed for this run; a later run resumes it.

        Several drivers may run the same search at once (e.g. one per node): each batch is asked for and listed
        under the search's batch claim, after the study has been told of every trial the others finished, so
        no trial is run twice and the search stops at `trials`; a trial another live driver listed is left to
        it; a driver with nothing left to ask waits, polling every `poll` seconds, for the trials still running
        elsewhere, then returns with all of them in its study."""
        import uuid

        from machinable.execution import Execution
        from machinable.storage.claim import HOST, Claim, Heartbeat

        current = context.current(Execution)
        if current is not None and current.asynchronous:
            raise ValidationError(
                f"{self!r} needs each batch's objectives before it asks for the next, but {current!r} returns once "
                "the experiments are submitted; run the search in a process of the batch job (e.g. with the "
                "multiprocess execution there), or use a Sweep."
            )
        record = self.record().commit()
        me = f"{HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.makedirs(record._file(DRIVERS), exist_ok=True)
        driver = Claim(record._file(os.path.join(DRIVERS, me)))
        driver.acquire()
        try:
            with Heartbeat(driver):
                self._drive(record, me, poll)
        finally:
            driver.release()
        return self

    def _drive(self, record, me: str, poll: float) -> None:
        study, told = self._new_study(), set()
        self._study = study
        stale = 0
        while True:
            batch = self._next_batch(record, study, told, me)
            if batch is None:
                break
            if batch is LOST:  # its asked trials were not listed: start again from what is stored
                self._study = study = self._new_study()
                told = set()
                continue
            resume, asked, experiments, new = batch
            if not (resume or asked):
                time.sleep(poll)  # the last trials run in another driver
                continue
            self._dispatch([*resume, *(e for e in experiments if not e.is_finished())])
            for experiment in resume:
                study.add_trial(self._trial(experiment))
                told.add(experiment.experiment_id)
            for trial, experiment in zip(asked, experiments):
                trial.set_user_attr("experiment", experiment.experiment_id)
                value = self._objective(experiment)
                study.tell(trial, value) if value is not None else study.tell(trial, state=_failed())
                told.add(experiment.experiment_id)
            stale = 0 if new or not asked else stale + 1
            if stale >= 20:
                warnings.warn(f"{self!r}: the sampler asked only for configs already tried, 20 batches in a row; "
                              f"stopping at {len(record.members())} distinct trials (is the space exhausted?).",
                              RuntimeWarning, stacklevel=3)
                break

    def _next_batch(self, record, study, told: set, me: str):
        """Under the batch claim: tell the study what the stored trials say, then ask for the next batch and list
        its experiments as trials of driver `me` (before they run: a restart finds them). None when every trial
        is done, LOST when the claim was taken over before the batch was listed; else (trials to resume, asked
        trials, their experiments, the experiments that are new trials), all empty while the last trials run
        elsewhere."""
        from machinable.element import get
        from machinable.errors import ClaimLost
        from machinable.storage.claim import Claim, Heartbeat

        claim = Claim(record._file(BATCH_CLAIM))
        claim.acquire()

        def fence():
            if not claim.check():  # paused past the stale window while holding it: another driver went on
                raise ClaimLost(f"{self!r}: the batch claim was taken over")

        try:
            with Heartbeat(claim):
                members = record.members()
                if not study.trials:  # this study's sampler: seeded by the stored trials it starts from
                    study.sampler = self._sampler(len(members))
                resume = self._sync(study, told, members, record.listers(), me)
                wanted = min(self.parallel, max(0, self.trials - len(members))) if not resume else 0
                if not resume and not wanted:
                    return None if told >= set(members) else ([], [], [], [])
                asked = [study.ask(self.space) for _ in range(wanted)]
                experiments = [get(self.module, self.versions(trial.params)) for trial in asked]
                for experiment in experiments:
                    experiment.commit()
                known = set(members)
                new = [e for e in experiments if e.experiment_id not in known]
                record.add_members((e.experiment_id for e in experiments), lister=me, check=fence)
                return resume, asked, experiments, new
        except ClaimLost:
            return LOST
        finally:
            claim.release()

    def _dispatch(self, experiments: list) -> None:
        from machinable.execution import Execution
        from machinable.execution.local import Local

        if not experiments:
            return
        current = context.current(Execution)
        execution = Local() if current is None else type(current)._new(
            current.module, current.version(), resources=current._resources, fail_fast=current.fail_fast)
        try:
            with execution:
                for experiment in experiments:
                    experiment.launch()
        except ExecutionFailed as failure:  # failed trials are failed trials; the search goes on
            warnings.warn(f"{self!r}: {failure}", RuntimeWarning, stacklevel=3)

    # --- results ------------------------------------------------------------------------

    @property
    def best(self) -> dict | None:
        """The best finished trial: {"params", "value", "experiment"}, or None before any finished."""
        study = self.study()
        if not any(t.state.name == "COMPLETE" for t in study.trials):
            return None
        trial = study.best_trial
        from machinable.experiment import Experiment

        experiment = Experiment.find_by_id(trial.user_attrs["experiment"], self.record().storage)
        return {"params": dict(trial.params), "value": trial.value, "experiment": experiment}

    def results(self) -> list[dict]:
        """One row per stored trial: its number, params, objective value, state and experiment id."""
        return [{"trial": t.number, **t.params, self.objective: t.value, "state": t.state.name.lower(),
                 "experiment": t.user_attrs.get("experiment")} for t in self.study().trials]

    def as_table(self, title: str | None = None) -> str:
        from machinable.tables import render

        return render(self.results(), title=title)

    def importances(self, **kwargs) -> dict:
        """Optuna's parameter importances on the rebuilt study (`optuna.importance.get_param_importances`)."""
        import optuna

        return optuna.importance.get_param_importances(self.study(), **kwargs)

    def find(self):
        from machinable.query import find

        return find(sweep=self)

    def __repr__(self):
        return f"Search('{self.module}', {self.direction} {self.objective!r}, {self.trials} trials)"


def _failed():
    import optuna

    return optuna.trial.TrialState.FAIL


def _distribution(key, values):
    import optuna.distributions as od

    if not isinstance(key, str) or not key:
        raise ValidationError(f"A search key is a config key such as 'lr' or 'model.depth', not {key!r}.")
    if isinstance(values, Distribution):
        kind, args = values.kind, values.args
        if kind == "choice":
            return od.CategoricalDistribution(args[0])
        if kind == "randint":
            return od.IntDistribution(*args)
        return od.FloatDistribution(float(args[0]), float(args[1]), log=kind == "loguniform")
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__") or not list(values):
        raise ValidationError(f"{key!r}: a search samples from a distribution such as uniform(0, 1) or a non-empty "
                              f"list of choices, not {values!r}.")
    return od.CategoricalDistribution(list(values))


def _example(distribution):
    choices = getattr(distribution, "choices", None)
    return choices[0] if choices is not None else distribution.low

