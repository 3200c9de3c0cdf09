"""What an experiment's stored runs say: its status word and flags, times, error, output and executions.

Read from the files the run protocol (`machinable.run`) writes: `status.json` when a run
ends, one execution record per start, the claim while it runs, `output.log`. `Experiment`
inherits these methods; they need its `is_committed()`, `_file()` and `timestamp`.
"""

from __future__ import annotations

import os

from machinable.errors import CorruptMetadata
from machinable.run import CLAIM, STATUS, claim_token, superseded
from machinable.storage.claim import Claim
from machinable.storage.files import read_json, read_metadata


def indexed_status(directory: str) -> str:
    """What the index records of an experiment's runs, read from its files: committed, started (running
    or died: a heartbeat tells which), finished or failed. Damaged files read as started (checked on reading)."""
    try:
        status = read_metadata(os.path.join(directory, STATUS), default={})
        attempts = sorted(n for n in os.listdir(os.path.join(directory, "executions")) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        attempts = []
    except (OSError, CorruptMetadata):
        return "started"
    if "finished_at" in status:
        return "finished"
    if not attempts:
        return "committed"
    return "failed" if "failed_at" in status and status.get("execution") == attempts[-1] else "started"


class StoredRuns:
    """The part of `Experiment` that reads how its runs went (public API: status, is_*(), *_at(), error(), output(), executions)."""

    def _status(self) -> dict:
        """status.json; a damaged one raises CorruptMetadata, so a finished experiment is never run again by mistake."""
        if not self.is_committed():
            return {}
        path = self._file(STATUS)
        try:
            return read_metadata(path, default={})
        except CorruptMetadata as error:
            raise CorruptMetadata(
                f"Status file {path} of {self} is corrupt ({error.reason}), so whether it finished is unknown; "
                "it is not run again until this is repaired. Restore the file from a backup; or, if the "
                "experiment should resume, replace its content with {} (its records and data are kept).",
                path, error.reason,
            ) from None

    def _claim(self) -> Claim:
        return Claim(self._file(CLAIM))

    def _attempts(self) -> list[str]:
        """File names of the execution records, oldest first: one per start."""
        try:
            names = os.listdir(self._file("executions"))
        except FileNotFoundError:
            return []
        return sorted(name for name in names if name.endswith(".json") and not name.startswith("."))

    @property
    def status(self) -> str:
        """One word: new, committed, running, finished, failed or died.

        status.json is written when a run ends; a start is marked by its execution
        record. So a run that started and neither ended nor holds its claim any more
        died, and "failed" means the latest attempt failed.
        """
        if not self.is_committed():
            return "new"
        status = self._status()
        if "finished_at" in status:
            return "finished"
        if self._claim().is_held():
            return "running"
        attempts = self._attempts()
        if not attempts:
            return "committed"
        if "failed_at" in status and status.get("execution") == attempts[-1]:
            return "failed"
        return "died"

    def is_started(self) -> bool:
        return self.status not in ("new", "committed")

    def is_finished(self) -> bool:
        return "finished_at" in self._status()

    def is_active(self) -> bool:
        """Running now: its owner's heartbeat is recent and (on this host) its process alive."""
        return self.status == "running"

    def is_failed(self) -> bool:
        """Its latest attempt failed (raised), and it is not running again."""
        return self.status == "failed"

    def is_incomplete(self) -> bool:
        """Started but neither finished nor running: it failed or its process died."""
        return self.status in ("failed", "died")

    def error(self) -> dict | None:
        """Why the latest run failed (`type`, `message`, `traceback`); None unless it failed."""
        return self._status().get("error") if self.is_failed() else None

    def times(self) -> dict:
        """Unix seconds (None where it has not happened) of `created`, `started` (the latest attempt),
        `finished` and `failed`: what `created_at()` etc. give, without importing arrow."""
        status = self._status()
        return {"created": self.timestamp, "started": self._started_seconds(),
                "finished": _seconds(status.get("finished_at")), "failed": _seconds(status.get("failed_at"))}

    def created_at(self):
        import arrow

        return arrow.get(self.timestamp)

    def _status_time(self, key: str):
        value = self._status().get(key)
        if value is None:
            return None
        import arrow

        return arrow.get(value)

    def _started_seconds(self) -> float | None:
        attempts = self._attempts() if self.is_committed() else []
        return float(attempts[-1].split("-", 1)[0]) if attempts else None

    def started_at(self):
        """When the latest attempt started."""
        started = self._started_seconds()
        if started is None:
            return None
        import arrow

        return arrow.get(started)

    def finished_at(self):
        return self._status_time("finished_at")

    def failed_at(self):
        return self._status_time("failed_at")

    def heartbeat_at(self):
        if self.is_committed():
            holder = self._claim().holder()
            if holder is not None:
                import arrow

                return arrow.get(holder[1])
        return self._status_time("heartbeat_at")

    def output(self) -> str | None:
        """The captured output (stdout and stderr) of all its executions."""
        try:
            with open(self._file("output.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None

    # --- executions ---------------------------------------------------------------

    @property
    def executions(self) -> list:
        """Every execution that ran this experiment, oldest first.

        `execution.superseded` is True for one whose claim a later attempt took over while
        its process may still have been running (paused, starved, cut off): it was fenced.
        """
        from machinable.execution import Execution

        if not self.is_committed():
            return []
        directory = self._file("executions")
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        executions = [Execution.from_record(read_json(os.path.join(directory, name))) for name in names if name.endswith(".json")]
        taken = superseded([execution.record for execution in executions])
        for execution in executions:
            execution.superseded = claim_token(execution.record) in taken
        return executions

    @property
    def execution(self):
        """The latest execution, or None if it has not run."""
        executions = self.executions
        return executions[-1] if executions else None


def _seconds(value) -> float | None:
    """A stored time as Unix seconds (written as a number; an ISO 8601 text is read too)."""
    if value is None or isinstance(value, (int, float)):
        return value
    import arrow

    return arrow.get(value).timestamp()
