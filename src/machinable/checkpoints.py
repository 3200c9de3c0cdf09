"""Checkpoints: a run saves its state now and then; the attempt that resumes it continues from the last one.

    def on_execute(self):
        checkpoint = self.load_checkpoint()            # None on a fresh start
        model, start = (checkpoint.value, checkpoint.step + 1) if checkpoint else (Model(), 0)
        for step in range(start, 50):
            model.fit_step()
            self.record().save(step=step, loss=model.loss)
            if step % 10 == 0:
                self.save_checkpoint(model, step=step)

Each checkpoint is `checkpoints/<step>.pkl` (a pickle signed with the user's key, as `save_data`'s
are, written atomically and fenced like every write of a run), the newest `keep` are kept.
Frameworks that write their own files use `with self.checkpoint_directory(step) as path:`
(a directory, renamed into place when the block ends). When an attempt resumes from a checkpoint
of an earlier attempt at step S, that attempt's rows with a step after S are superseded:
`records()` reads the continued run (`records(superseded=True)` everything), and
`executions/<attempt>.resume` says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
from dataclasses import dataclass

from machinable.errors import StateError, ValidationError
from machinable.storage.files import read_json, remove_temporaries, write_atomic, write_json
from machinable.storage.trust import check_trusted, sign, write_signature

DIRECTORY = "checkpoints"
STEP_COLUMNS = ("step", "iteration", "epoch")  # the column a row's step is read from, first found


@dataclass(frozen=True)
class Checkpoint:
    step: int
    attempt: int
    path: str  # the .pkl file, or the directory of `checkpoint_directory`

    @property
    def value(self):
        """The saved object (None for a directory checkpoint: read its files from `path`)."""
        if os.path.isdir(self.path):
            return None
        with open(self.path, "rb") as f:
            raw = f.read()
        check_trusted(self.path, _signature(self.path), raw)
        return pickle.loads(raw)


def save(experiment, obj, step: int | None = None, keep: int = 3) -> Checkpoint:
    """Store `obj` as the checkpoint of `step` (the next number if None); keeps the newest `keep`."""
    step = _step(experiment, step)
    _check_keep(keep)
    try:
        raw = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise ValidationError(f"Cannot save the checkpoint of step {step}: the object cannot be pickled ({error}).") from None
    directory = _directory(experiment)
    path = os.path.join(directory, f"{step}.pkl")
    signature = sign(raw)
    check = experiment._check()
    write_atomic(path, raw, check)
    write_signature(_signature(path), signature, check)
    _write_attempt(path, experiment)
    _prune(directory, keep)
    return Checkpoint(step, _attempt_number(experiment), path)


@contextlib.contextmanager
def directory(experiment, step: int | None = None, keep: int = 3):
    """A directory to write the checkpoint of `step` into; renamed into place when the block ends without error."""
    step = _step(experiment, step)
    _check_keep(keep)
    root = _directory(experiment)
    final = os.path.join(root, str(step))
    partial = os.path.join(root, f".{step}.{os.getpid()}.tmp")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    check = experiment._check()
    if check is not None:
        check()
    if os.path.isdir(final):
        shutil.rmtree(final)
    os.rename(partial, final)
    _write_attempt(final, experiment)
    _prune(root, keep)


def latest(experiment) -> Checkpoint | None:
    """The newest checkpoint (highest step) of any attempt; in a run, marks the rows it supersedes."""
    found = _all(experiment)
    if not found:
        return None
    newest = found[-1]
    attempt = experiment._attempt
    if attempt is not None and newest.attempt < attempt.number:
        write_json(os.path.join(experiment._file("executions"), f"{attempt.number}.resume"),
                   {"attempt": attempt.number, "from_attempt": newest.attempt, "step": newest.step}, attempt.check)
    return newest


def superseded_after(experiment) -> dict[int, float]:
    """{attempt: step}: the rows of an attempt with a step above it were superseded by a later attempt's resume."""
    cut: dict = {}
    try:
        names = sorted(os.listdir(experiment._file("executions")))
    except FileNotFoundError:
        return cut
    for name in names:
        if name.endswith(".resume") and not name.startswith("."):
            info = read_json(os.path.join(experiment._file("executions"), name), None) or {}
            for earlier in range(1, int(info.get("attempt", 1))):
                cut[earlier] = min(cut.get(earlier, float("inf")), float(info.get("step", float("inf"))))
    return cut


def continued(rows, cut: dict):
    """The rows of the continued run: those no resume superseded (see `superseded_after`)."""
    for row in rows:
        limit = cut.get(row.get("_attempt", 1))
        step = next((row[column] for column in STEP_COLUMNS if isinstance(row.get(column), (int, float))), None)
        if limit is None or step is None or step <= limit:
            yield row


def _all(experiment) -> list[Checkpoint]:
    root = experiment.local_directory(DIRECTORY)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        stem = name[:-4] if name.endswith(".pkl") else name
        if stem.isdigit() and not name.startswith("."):
            path = os.path.join(root, name)
            found.append(Checkpoint(int(stem), _read_attempt(path), path))
    return sorted(found, key=lambda checkpoint: checkpoint.step)


def _step(experiment, step) -> int:
    if step is None:
        found = _all(experiment)
        return found[-1].step + 1 if found else 0
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValidationError(f"A checkpoint's step is a whole number from 0, not {step!r}.")
    return step


def _directory(experiment) -> str:
    if not experiment.is_committed():
        raise StateError(f"{experiment} is not committed yet; checkpoints are saved while it runs.")
    root = experiment.local_directory(DIRECTORY)
    os.makedirs(root, exist_ok=True)
    remove_temporaries(root)
    return root


def _attempt_number(experiment) -> int:
    return experiment._attempt.number if experiment._attempt is not None else 1


def _signature(path: str) -> str:
    root, name = os.path.split(path)
    return os.path.join(root, ".signatures", name + ".sig")


def _write_attempt(path: str, experiment) -> None:
    root, name = os.path.split(path)
    os.makedirs(os.path.join(root, ".signatures"), exist_ok=True)
    write_atomic(os.path.join(root, ".signatures", name + ".attempt"),
                 json.dumps(_attempt_number(experiment)).encode(), experiment._check())


def _read_attempt(path: str) -> int:
    root, name = os.path.split(path)
    found = read_json(os.path.join(root, ".signatures", name + ".attempt"), None)
    return found if isinstance(found, int) else 1


def _check_keep(keep) -> None:
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise ValidationError(f"keep is how many checkpoints to keep, at least 1, not {keep!r}.")


def _prune(root: str, keep: int) -> None:
    names = sorted((name for name in os.listdir(root) if (name[:-4] if name.endswith(".pkl") else name).isdigit()),
                   key=lambda name: int(name[:-4] if name.endswith(".pkl") else name))
    for name in names[:-keep]:
        path = os.path.join(root, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        for suffix in (".sig", ".attempt"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(root, ".signatures", name + suffix))
