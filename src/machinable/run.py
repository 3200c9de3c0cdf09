"""The run protocol: one attempt of an experiment, executed exactly once and fenced.

`run(experiment, execution)` takes the experiment's claim (waiting while a live
process holds it), numbers the attempt, records the execution, keeps the heartbeat,
captures the output and writes the final status.

Fencing: every write of the attempt (record rows, data files, status and execution
files, the output log) first calls `Attempt.check()`. Once another process took the
claim over (this one was paused, e.g. by Ctrl-Z or a suspended VM, or cut off from a
shared filesystem, for longer than its stale window), each write raises `ClaimLost`
and this attempt writes nothing more. Attempt numbers only grow (one file per number
in `executions/`, created exclusively). A write already past its check when the pause
came cannot harm the newer attempt either: each attempt writes its records to its own
segment, and the attempt that takes over removes the temporary files that a paused
rename would have moved into place. (Such a row still lands in the superseded
attempt's own segment and is read back; a line of output can still be appended.)
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

from machinable.errors import ClaimLost, ExecutionFailed
from machinable.output import captured
from machinable import system
from machinable.storage.claim import HOST, Claim, Heartbeat, heartbeat_seconds, process_state
from machinable.storage.files import read_json, remove_temporaries, write_json
from machinable.summary import close_attempt

STATUS = "status.json"
CLAIM = "claim.json"
EXECUTIONS = "executions"


class Attempt:
    """One attempt at running an experiment: its number and the claim that fences its writes."""

    def __init__(self, experiment, claim: Claim, number: int):
        self.experiment = experiment
        self.claim = claim
        self.number = number

    def check(self, confirm: bool = False) -> None:
        """Raise `ClaimLost` if another process took the claim over; `confirm` re-reads it now."""
        if confirm:
            self.claim.confirm()
        if not self.claim.check():
            raise ClaimLost(self._lost_message())

    def _lost_message(self) -> str:
        other = self.claim.lost or {}
        if "pid" not in other:  # released by now: the latest attempt says who it was
            other = read_json(_marker(self.experiment, latest_number(self.experiment)), default=None) or {}
        info = self.claim.info
        who = f"process {other['pid']} on {other.get('host')}" if "pid" in other else "another process"
        return (
            f"{self.experiment} was taken over by {who} while this process ({info['pid']} on {info['host']}, "
            f"attempt {self.number}) was paused or cut off for longer than its stale window "
            f"({info['stale']:g} s). This attempt stops and writes nothing more; the records, data and "
            "status of the run that took over are the experiment's."
        )

    def execute(self, execution) -> ExecutionFailed | None:
        """Run the experiment's events under the heartbeat; store how it ended."""
        experiment = self.experiment
        self.check()
        for directory in (experiment.local_directory(), experiment._file(EXECUTIONS)):
            remove_temporaries(directory)  # of a killed or superseded run; only the claim's holder writes there
        for directory in ("data", ".signatures"):  # a paused rename there must not replace the newer file
            remove_temporaries(experiment._file(directory), recursive=True)
        previous = experiment._status()
        started = time.time()
        name = execution.write_record(experiment, started, self.describe(), self.check)
        experiment.storage.index_status(experiment.experiment_id, "started")
        status = {"started_at": started, "execution": name, "attempt": self.number}
        if previous:
            status["resumed_from"] = previous
        path = experiment._file(STATUS)
        with Heartbeat(self.claim), captured(experiment._file("output.log"), self.check), \
                system.sampling(experiment, heartbeat_seconds()):
            try:
                experiment.on_seeding()
                experiment.on_execute()
                experiment.on_success()
            except (Exception, SystemExit) as error:
                if isinstance(error, ClaimLost):
                    raise
                self.check(confirm=True)  # a superseded attempt reports nothing: it raises ClaimLost
                close_attempt(experiment, list(experiment._records))
                now = time.time()
                trace = traceback.format_exc()
                print(trace, file=sys.stderr, end="")
                failed = {**status, "failed_at": now, "heartbeat_at": now}
                failed["error"] = {"type": type(error).__name__, "message": str(error), "traceback": trace}
                write_json(path, failed, self.check)
                experiment.storage.index_status(experiment.experiment_id, "failed")
                experiment.on_failure(error)
                experiment.on_finish(False)
                failure = ExecutionFailed(
                    f"{experiment} failed: {type(error).__name__}: {error}. The traceback is in "
                    f"{experiment._file('output.log')}; launch() again resumes it with the same seed."
                )
                failure.__cause__ = error
                return failure
            self.check(confirm=True)
            close_attempt(experiment, list(experiment._records))
            now = time.time()
            write_json(path, {**status, "finished_at": now, "heartbeat_at": now}, self.check)
            experiment.storage.index_status(experiment.experiment_id, "finished")
            experiment.on_finish(True)
        return None

    def describe(self) -> dict:
        """What the execution record says about this attempt: its number and claim token, and
        whose claim it took over: an owner that was `gone` (its process ended on this host),
        `stopped` (paused on this host) or `silent` (another host, heartbeat stale)."""
        attempt = {"number": self.number, "claim": self.claim.token}
        owner = self.claim.took_over
        if owner:
            if owner.get("host") != HOST:
                reason = "silent"
            elif isinstance(owner.get("pid"), int) and process_state(owner["pid"], owner.get("start")) is not None:
                reason = "stopped"
            else:
                reason = "gone"
            attempt["took_over"] = {"host": owner.get("host"), "pid": owner.get("pid"), "claim": owner.get("token"), "reason": reason}
        return attempt


def superseded(records: list[dict]) -> set:
    """The claim tokens, among execution `records`, that a later attempt took over while their
    process may still have been running (paused on its host, or silent on another): those
    attempts were fenced, not merely dead."""
    taken = set()
    for record in records:
        took_over = (record.get("attempt") or {}).get("took_over") or {}
        if took_over.get("reason") in ("stopped", "silent") and took_over.get("claim"):
            taken.add(took_over["claim"])
    return taken


def claim_token(record: dict) -> str | None:
    """The claim token of the attempt an execution record describes."""
    return (record.get("attempt") or {}).get("claim")


def next_number(experiment, claim: Claim) -> int:
    """A new attempt number, higher than every earlier one (also those of other hosts).

    Its file `executions/<number>.attempt` is created exclusively and names the claim's owner.
    """
    number = latest_number(experiment) + 1
    owner = json.dumps({key: claim.info[key] for key in ("host", "pid", "token", "since")}).encode()
    while True:
        try:
            fd = os.open(_marker(experiment, number), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            number += 1
            continue
        try:
            os.write(fd, owner)
        finally:
            os.close(fd)
        return number


def latest_number(experiment) -> int:
    """The highest attempt number handed out so far (0: none); creates `executions/`."""
    directory = experiment._file(EXECUTIONS)
    try:
        os.mkdir(directory)
        return 0
    except FileExistsError:
        pass
    numbers = (name[: -len(".attempt")] for name in os.listdir(directory) if name.endswith(".attempt"))
    return max((int(n) for n in numbers if n.isdigit()), default=0)


def _marker(experiment, number: int) -> str:
    return os.path.join(experiment._file(EXECUTIONS), f"{number}.attempt")


def run(experiment, execution) -> ExecutionFailed | None:
    """Execute `experiment` in this process unless it is finished; its failure is returned.

    Raises ClaimLost if the attempt was taken over, and lets KeyboardInterrupt through
    (the experiment is left resumable: "died").
    """
    claim = Claim(experiment._file(CLAIM))
    claim.acquire(on_wait=lambda holder: _report_waiting(experiment, holder))
    _close_records(experiment, cut=True)  # writers opened outside a run (they append to the first segment)
    try:
        if experiment.is_finished():
            return None
        attempt = experiment._attempt = Attempt(experiment, claim, next_number(experiment, claim))
        try:
            return attempt.execute(execution)
        except Exception:
            attempt.check(confirm=True)  # a write that failed because the attempt was taken over: ClaimLost
            raise
    finally:
        experiment._attempt = None
        _close_records(experiment, cut=claim.lost is None)
        claim.release()


def _close_records(experiment, cut: bool) -> None:
    for record in experiment._records.values():
        record.close(cut)
    experiment._records.clear()


def _report_waiting(experiment, holder: dict | None) -> None:
    where = f"process {holder['pid']} on {holder['host']}" if holder and "pid" in holder else "another process"
    print(f"machinable: {experiment} is being executed by {where}; waiting for it to finish.", file=sys.stderr)
