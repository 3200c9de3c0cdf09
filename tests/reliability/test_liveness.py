"""SPEC §3: running / finished / failed / died are told apart, the same in Python and on the CLI.

A run is "died" when its owner's pid is gone on this host, or when its heartbeat is stale
(a hung process, or an owner on another host that stopped); "running" only while the
owner is alive and heartbeating.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from machinable import find, get
from machinable.cli import cli

STAGES = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment


class Stage(Experiment):
    @dataclass
    class Config:
        name: str = "x"
        seconds: float = 0.0
        fail: bool = False

    def on_execute(self):
        print("started", flush=True)
        time.sleep(self.config.seconds)
        if self.config.fail:
            raise RuntimeError("diverged")
'''

FLAGS = {
    "running": dict(is_active=True, is_started=True, is_finished=False, is_failed=False, is_incomplete=False),
    "finished": dict(is_active=False, is_started=True, is_finished=True, is_failed=False, is_incomplete=False),
    "failed": dict(is_active=False, is_started=True, is_finished=False, is_failed=True, is_incomplete=True),
    "died": dict(is_active=False, is_started=True, is_finished=False, is_failed=False, is_incomplete=True),
    "committed": dict(is_active=False, is_started=False, is_finished=False, is_failed=False, is_incomplete=False),
}


def cli_output(*args) -> str:
    result = CliRunner().invoke(cli, list(args), prog_name="machinable")
    assert result.exit_code == 0, result.output
    return result.output


def assert_status(experiment, word: str) -> None:
    """The same status in the Python API, `machinable show`, `machinable list` and `find()`."""
    fresh = get("stage", experiment.config.to_dict())  # as another script would see it
    for seen in (experiment, fresh):
        assert seen.status == word, (seen.status, word)
        assert {flag: getattr(seen, flag)() for flag in FLAGS[word]} == FLAGS[word], word
    assert f"status:    {word}\n" in cli_output("show", experiment.experiment_id)
    listed = cli_output("list", "stage", "--status", word)
    assert experiment.experiment_id in listed
    assert experiment.experiment_id in [e.experiment_id for e in find("stage", status=word)]
    for other in FLAGS:
        if other != word:
            assert experiment.experiment_id not in cli_output("list", "stage", "--status", other)


@pytest.fixture
def stages(project, monkeypatch):
    project.write("stage.py", STAGES)
    monkeypatch.setenv("MACHINABLE_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("MACHINABLE_STALE_SECONDS", "1")
    return project


def launch_in_child(project, name: str, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", f"from machinable import get\nget('stage', {{'name': {name!r}, 'seconds': {seconds}}}).launch()"],
        cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert child.stdout.readline().strip() == "started"
    return child


def test_committed_finished_and_failed(stages):
    committed = get("stage", {"name": "committed"}).commit()
    assert_status(committed, "committed")
    finished = get("stage", {"name": "finished"}).launch()
    assert_status(finished, "finished")
    failed = get("stage", {"name": "failed", "fail": True})
    with pytest.raises(Exception, match="diverged"):
        failed.launch()
    assert_status(failed, "failed")


def test_running_then_killed_reads_died(stages):
    child = launch_in_child(stages, "killed", 600)
    try:
        experiment = get("stage", {"name": "killed", "seconds": 600})
        assert_status(experiment, "running")
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
        child.wait()
    assert_status(experiment, "died")  # at once: the pid is gone on this host, no staleness wait


def test_running_then_finished(stages):
    child = launch_in_child(stages, "short", 4)
    try:
        experiment = get("stage", {"name": "short", "seconds": 4})
        assert_status(experiment, "running")
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        child.wait()
    assert_status(experiment, "finished")


def test_a_hung_process_reads_died_once_its_heartbeat_is_stale(stages):
    child = launch_in_child(stages, "hung", 600)
    try:
        experiment = get("stage", {"name": "hung", "seconds": 600})
        assert_status(experiment, "running")
        child.send_signal(signal.SIGSTOP)  # alive, but its heartbeat stops
        time.sleep(1.6)
        assert_status(experiment, "died")
    finally:
        child.kill()
        child.wait()


def test_an_owner_on_another_host_reads_running_while_heartbeating_then_died(stages):
    experiment = get("stage", {"name": "remote"}).commit()
    os.makedirs(experiment.local_directory("executions"))
    with open(experiment.local_directory("executions", f"{time.time():.6f}-remote_run.json"), "w") as f:
        json.dump({"nickname": "remote_run", "module": "machinable.execution.local", "version": [], "config": {}}, f)
    claim = experiment.local_directory("claim.json")
    with open(claim, "w") as f:  # pid 1 exists here too: only the heartbeat can tell
        json.dump({"host": "another-host", "pid": 1, "start": None, "token": "t", "since": time.time()}, f)
    assert_status(experiment, "running")
    past = time.time() - 5
    os.utime(claim, (past, past))
    assert_status(experiment, "died")
