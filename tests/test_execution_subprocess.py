"""SPEC §5: `machinable.execution.subprocess` and `experiment.to_dispatch_code()`."""

import os
import subprocess
import warnings

import pytest

from machinable import get
from machinable.errors import ExecutionFailed, StateError

PIDS = '''
import os
from dataclasses import dataclass

from machinable import Experiment


class Pids(Experiment):
    @dataclass
    class Config:
        name: str = "a"
        fail_while: str = ""

    def on_execute(self):
        print("running", self.config.name, "in", os.getpid())
        with open("pids.log", "a") as f:
            f.write(f"{self.experiment_id} {os.getpid()} {self.seed}\\n")
        if self.config.fail_while and os.path.exists(self.config.fail_while):
            raise RuntimeError("asked to fail")
'''

SUBMIT_TO_FILE = '''
from machinable import Execution


class SubmitToFile(Execution):
    """A stand-in batch queue: submitting writes each experiment's dispatch command to a file."""

    asynchronous = True

    def on_dispatch_experiment(self, experiment):
        with open("queue.sh", "a") as f:
            f.write(experiment.to_dispatch_code(inline=True) + "\\n")
'''


def executions_log(project) -> list:
    with open(os.path.join(project.path, "pids.log")) as f:
        return [line.split() for line in f.read().splitlines()]


def test_each_experiment_runs_once_in_a_fresh_interpreter(project, capfd):
    project.write("pids.py", PIDS)
    a, b = get("pids", {"name": "a"}), get("pids", {"name": "b"})
    with get("machinable.execution.subprocess") as execution:
        a.launch()
        b.launch()
    assert a.is_finished() and b.is_finished()
    ran = executions_log(project)
    assert [row[0] for row in ran] == [a.experiment_id, b.experiment_id]
    assert all(int(pid) != os.getpid() for _, pid, _ in ran)
    assert len({pid for _, pid, _ in ran}) == 2  # one interpreter each
    for experiment in (a, b):
        assert experiment.execution.module == "machinable.execution.subprocess"
        assert experiment.execution.nickname == execution.nickname
        assert f"running {experiment.config.name} in" in experiment.output()
    assert "running a in" in capfd.readouterr().out  # the child's output reaches this terminal
    with get("machinable.execution.subprocess") as again:
        a.launch()  # finished: not run again
    assert again.experiments == [] and len(executions_log(project)) == 2


def test_a_failure_in_the_subprocess_raises_and_relaunching_resumes(project):
    project.write("pids.py", PIDS)
    marker = project.write("fail-now", "")
    experiment = get("pids", {"name": "f", "fail_while": "fail-now"})
    with pytest.raises(ExecutionFailed, match=experiment.experiment_id + r".*RuntimeError: asked to fail\n.*output.log"):
        with get("machinable.execution.subprocess"):
            experiment.launch()
    assert experiment.is_failed() and "RuntimeError: asked to fail" in experiment.output()
    os.unlink(marker)
    with get("machinable.execution.subprocess"):
        experiment.launch()
    assert experiment.is_finished() and len(experiment.executions) == 2
    runs = executions_log(project)
    assert [row[0] for row in runs] == [experiment.experiment_id] * 2
    assert {row[2] for row in runs} == {str(experiment.seed)}  # resumed with the same seed


def test_dispatch_code_of_an_uncommitted_experiment_is_refused(project):
    experiment = get("estimate_gravity", {"time_dilation": 4})
    with pytest.raises(StateError, match="not committed.*commit\\(\\) it first"):
        experiment.to_dispatch_code()
    assert not os.path.exists(project.storage)


def test_dispatch_code_runs_from_any_directory_against_the_same_storage(project, tmp_path_factory):
    with get("machinable.storage.filesystem", {"directory": "./relative-storage"}):
        experiment = get("estimate_gravity", {"time_dilation": 4}).commit()
        code = experiment.to_dispatch_code()
        command = experiment.to_dispatch_code(inline=True)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = subprocess.run(command, shell=True, cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "The gravity on the exoplanet is" in result.stdout
    assert experiment.is_finished() and experiment.execution.module == "machinable.execution.local"
    assert os.listdir(elsewhere) == []  # nothing written where it ran
    assert "relative-storage" in code and os.path.isabs(code.split("'directory': '")[1].split("'")[0])


def test_an_asynchronous_execution_submits_without_the_never_started_warning(project):
    project.write("submit_to_file.py", SUBMIT_TO_FILE)
    project.write("pids.py", PIDS)
    experiments = [get("pids", {"name": name}) for name in "xy"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a never-started warning would fail here
        with get("submit_to_file") as execution:
            for experiment in experiments:
                experiment.launch()
    assert [e.status for e in experiments] == ["committed", "committed"]
    result = subprocess.run(["bash", "queue.sh"], cwd=project.path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for experiment in experiments:
        assert experiment.is_finished()
        assert experiment.execution.nickname == execution.nickname
        assert experiment.execution.module == "submit_to_file"
