"""SPEC §3-4: events, failure and resume, status words and times."""

import json
import os
import random

import arrow
import pytest

from machinable import get
from machinable.errors import ExecutionFailed

EVENTS = '''
import json
import os
import random
from dataclasses import dataclass

from machinable import Experiment


class Flaky(Experiment):
    """Fails while a marker file exists; logs every event to events.jsonl in the cwd."""

    @dataclass
    class Config:
        fail: bool = True

    def log(self, *event):
        with open("events.jsonl", "a") as f:
            f.write(json.dumps([self.experiment_id, *event]) + "\\n")

    def on_create(self):
        self.log("create")

    def on_before_dispatch(self):
        self.log("before_dispatch")

    def on_seeding(self):
        super().on_seeding()
        self.log("seeding", self.seed)

    def on_execute(self):
        self.log("execute", random.random())
        self.record().save(step=len(self.records()))
        if self.config.fail and os.path.exists("fail"):
            raise ValueError("boom")

    def on_success(self):
        self.log("success")

    def on_failure(self, exception):
        self.log("failure", repr(exception))

    def on_finish(self, success):
        self.log("finish", success)

    def on_after_dispatch(self):
        self.log("after_dispatch")
'''


def events(project):
    with open(os.path.join(project.path, "events.jsonl")) as f:
        return [json.loads(line)[1:] for line in f]


@pytest.fixture
def flaky(project):
    project.write("flaky.py", EVENTS)
    return project


def test_events_in_order(flaky):
    experiment = get("flaky", {"fail": False}).launch()
    names = [e[0] for e in events(flaky)]
    assert names == ["create", "before_dispatch", "seeding", "execute", "success", "finish", "after_dispatch"]
    assert events(flaky)[2] == ["seeding", experiment.seed]
    assert events(flaky)[5] == ["finish", True]


def test_seeding_makes_random_reproducible(flaky):
    experiment = get("flaky", {"fail": False}).launch()
    random.seed(experiment.seed)
    assert events(flaky)[3] == ["execute", random.random()]


def test_failure_then_resume_with_same_id_seed_and_directory(flaky):
    open(os.path.join(flaky.path, "fail"), "w").close()
    experiment = get("flaky")
    with pytest.raises(ExecutionFailed, match="ValueError: boom") as info:
        experiment.launch()
    assert isinstance(info.value.__cause__, ValueError)
    assert [e[0] for e in events(flaky)][-3:] == ["failure", "finish", "after_dispatch"]
    assert experiment.is_failed() and experiment.is_incomplete() and not experiment.is_finished()
    assert experiment.status == "failed"
    status = json.load(open(experiment.local_directory("status.json")))
    assert status["error"]["type"] == "ValueError" and "raise ValueError" in status["error"]["traceback"]
    assert experiment.error() == status["error"] and experiment.error()["message"] == "boom"
    assert experiment.metadata()["experiment_id"] == experiment.experiment_id
    assert "ValueError: boom" in experiment.output()
    directory, seed, experiment_id = experiment.local_directory(), experiment.seed, experiment.experiment_id
    first_random = events(flaky)[3][1]

    os.unlink(os.path.join(flaky.path, "fail"))
    resumed = get("flaky")  # e.g. the script run again
    assert resumed.experiment_id == experiment_id and resumed.status == "failed"
    resumed.launch()
    assert resumed.is_finished() and not resumed.is_failed() and resumed.status == "finished"
    assert resumed.error() is None
    assert resumed.local_directory() == directory and resumed.seed == seed
    resumed_random = [e for e in events(flaky) if e[0] == "execute"][-1][1]
    assert resumed_random == first_random  # same seed, same random stream
    assert [r["step"] for r in resumed.records()] == [0, 1]  # records appended
    assert len(resumed.executions) == 2
    assert "create" not in [e[0] for e in events(flaky)[7:]]  # on_create ran once
    resumed.launch()
    assert len(resumed.executions) == 2  # finished: no-op


def test_status_words_and_times(project):
    experiment = get("estimate_gravity")
    assert experiment.status == "new" and not experiment.is_committed()
    assert experiment.started_at() is None
    experiment.commit()
    assert experiment.status == "committed" and experiment.is_committed() and not experiment.is_started()
    experiment.launch()
    assert experiment.status == "finished"
    assert experiment.is_started() and experiment.is_finished() and not experiment.is_active()
    assert not experiment.is_incomplete() and not experiment.is_failed()
    for moment in (experiment.created_at(), experiment.started_at(), experiment.finished_at(), experiment.heartbeat_at()):
        assert isinstance(moment, arrow.Arrow)
    assert experiment.created_at().int_timestamp == experiment.timestamp
    assert experiment.started_at() <= experiment.finished_at()
    assert experiment.finished_at().humanize() == "just now"


def test_execution_record_has_host_code_and_packages(project):
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=project.path, check=True)
    subprocess.run(["git", "add", "estimate_gravity.py"], cwd=project.path, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], cwd=project.path, check=True
    )
    with open(os.path.join(project.path, "estimate_gravity.py"), "a") as f:
        f.write("# an uncommitted change\n")
    experiment = get("estimate_gravity").launch()
    execution = experiment.execution
    assert execution.nickname.count("_") == 1 and isinstance(execution.timestamp, int)
    assert execution.host["hostname"] and execution.host["python"]
    record = execution.record
    assert len(record["code"]["git"]["commit"]) == 40
    assert "+# an uncommitted change" in record["code"]["git"]["diff"]
    assert "pydantic" in {name.lower() for name in record["packages"]}
    assert experiment.executions[-1].nickname == execution.nickname
