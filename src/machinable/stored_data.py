"""What an experiment stores besides its runs: data files, records, summary metrics and checkpoints.

`Experiment` inherits these methods; they need its `is_committed()`, `storage`, `_metadata` (once
committed), `_attempt` (the attempt this process runs, or None) and `_records`.
"""

from __future__ import annotations

import os

from machinable.errors import StateError, StorageError, ValidationError
from machinable.records import Record, Records, attempt_of, segment, segments
from machinable.storage.files import data_format, decode_data, encode_data, safe_join, write_atomic
from machinable.storage.trust import check_trusted, sign, write_signature


class StoredData:
    """The part of `Experiment` that reads and writes its files (public API: local_directory, save_data,
    load_data, record, records, summary, save_checkpoint, load_checkpoint, checkpoint_directory)."""

    # --- files ------------------------------------------------------------------------

    def local_directory(self, *parts: str, create: bool = False) -> str:
        """A path inside the experiment's directory (which exists once committed)."""
        if not self.is_committed():
            raise StateError(f"{self} is not committed yet, so it has no directory; call launch() or commit() first.")
        directory = self.__dict__.get("_directory")
        if directory is None:
            directory = self.__dict__["_directory"] = self.storage.directory_of(self._metadata)
        path = safe_join(directory, *parts) if parts else directory
        if create:
            os.makedirs(path, exist_ok=True)
        return path

    def _file(self, name: str) -> str:
        """One of machinable's own files in the experiment directory (no user input: no path checks)."""
        return os.path.join(self.local_directory(), name)

    def save_data(self, name: str, obj) -> str:
        """Store `obj` as `data/<name>`; the extension picks the format (.txt .json .npy .p .pkl .png .svg).

        .png/.svg take a matplotlib figure, a PIL image or uint8 array (.png), or the file's bytes;
        the dashboard shows them inline (see `machinable.storage.figures`).
        .p/.pkl are pickles, which run code when loaded: share them only with people who trust you.
        """
        ext = data_format(name)
        path = self.local_directory("data", name)
        raw = encode_data(ext, obj)
        signature = sign(raw) if ext in (".p", ".pkl") else None
        check = self._check()
        if check is not None:
            check()
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as e:
            raise StorageError(f"Cannot store {name!r}: {e.strerror}: {e.filename} (a file where a directory is needed?).") from e
        write_atomic(path, raw, check)
        if signature is not None:
            write_signature(self._signature(name), signature, check)
        return path

    def _signature(self, name: str) -> str:
        return self.local_directory(".signatures", name + ".sig")

    def _check(self):
        """The fence of the attempt this process runs (None outside a run): raises ClaimLost once it was taken over."""
        return self._attempt.check if self._attempt is not None else None

    def load_data(self, name: str, default=None, *, trust: bool = False):
        """Load `data/<name>`, or `default` if there is none (.png/.svg: the file's bytes, see `figures.PNG`).

        Pickles (.p/.pkl) run code when loaded: one you did not save yourself (signed with
        your machinable key, see `machinable.storage.trust`; e.g. another user's, or one from
        a copied or unpacked storage) is refused unless `trust=True`.
        """
        ext = data_format(name)
        path = self.local_directory("data", name)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return default
        if ext in (".p", ".pkl") and not trust:
            check_trusted(path, self._signature(name), raw)
        return decode_data(ext, raw)

    # --- records ----------------------------------------------------------------------

    def record(self, scope: str = "default") -> Record:
        """The row-writer of `scope`: set values, then `save()` appends the row."""
        record = self._records.get(scope)
        if record is None:
            attempt = self._attempt
            path = self.local_directory(segment("records", scope, attempt.number if attempt else None))
            record = self._records[scope] = Record(path, self._check())
        return record

    @property
    def summary(self):
        """The summary metrics: `experiment.summary()` is the dict; `self.summary["test_acc"] = 0.96` sets one
        (see `machinable.summary`)."""
        from machinable.summary import Summary

        return Summary(self)

    def records(self, scope: str = "default", attempt: int | str | None = None, superseded: bool = False) -> Records:
        """The saved rows of `scope`: of every attempt in order (each row's `_attempt` says which), or of one
        attempt (`attempt=2`, or `"latest"`: the newest that saved rows to this scope). Rows an attempt
        saved after the step a later attempt resumed from (`load_checkpoint`) are left out unless
        `superseded=True`, so the rows read as one continued run."""
        self.local_directory("records", scope + ".jsonl")  # refuses a scope that leaves the directory
        paths = segments(self.local_directory("records"), scope)
        if attempt is not None:
            if attempt != "latest" and (not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1):
                raise ValidationError(f"attempt must be None, 'latest' or a number from 1, not {attempt!r}.")
            wanted = attempt_of(paths[-1]) if attempt == "latest" and paths else attempt
            paths = [path for path in paths if attempt_of(path) == wanted]
        records = Records.read(*paths)
        if superseded:
            return records
        from machinable import checkpoints

        cut = checkpoints.superseded_after(self)
        if not cut:
            return records
        continued = Records(checkpoints.continued(records, cut))
        continued.skipped = records.skipped
        return continued

    # --- checkpoints (see machinable.checkpoints) -------------------------------------

    def save_checkpoint(self, obj, step: int | None = None, keep: int = 3):
        """Store `obj` (picklable) as the checkpoint of `step`; the newest `keep` are kept."""
        from machinable import checkpoints

        return checkpoints.save(self, obj, step, keep)

    def load_checkpoint(self):
        """The newest checkpoint of this or an earlier attempt (`.value`, `.step`, `.attempt`, `.path`), or None."""
        from machinable import checkpoints

        return checkpoints.latest(self)

    def checkpoint_directory(self, step: int | None = None, keep: int = 3):
        """`with self.checkpoint_directory(step) as path:` for frameworks that write files (e.g. torch.save)."""
        from machinable import checkpoints

        return checkpoints.directory(self, step, keep)
