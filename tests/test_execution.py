"""SPEC §5 (the part issue 2 needs): execution contexts, resources, picklable experiments."""

import multiprocessing
import os
import pickle
import subprocess
import sys

import pytest

from machinable import Execution, get
from machinable.errors import ExecutionFailed

RECORDING = '''
from machinable import Execution


class Recording(Execution):
    def default_resources(self, experiment):
        return {"cpus": 1, "memory": "1G"}

    def on_dispatch_experiment(self, experiment):
        with open("dispatched.log", "a") as f:
            f.write(experiment.experiment_id + "\\n")
        experiment()
'''

WANTS_GPU = '''
from machinable import Experiment


class WantsGpu(Experiment):
    def resources(self):
        return {"gpus": 1, "memory": "8G"}
'''


def dispatched(project):
    path = os.path.join(project.path, "dispatched.log")
    return open(path).read().split() if os.path.exists(path) else []


def test_context_collects_and_dispatches_on_exit(project):
    project.write("recording.py", RECORDING)
    a = get("estimate_gravity", {"time_dilation": 1})
    b = get("estimate_gravity", {"time_dilation": 2})
    with get("recording") as execution:
        a.launch()
        b.launch()
        a.launch()  # added once however often it is launched
        assert dispatched(project) == [] and not a.is_started()
        assert execution.experiments == [a, b]
    assert dispatched(project) == [a.experiment_id, b.experiment_id]
    assert a.is_finished() and b.is_finished()
    assert a.execution.nickname == execution.nickname and a.execution.module == "recording"
    with get("recording") as again:
        a.launch()  # finished: not added
    assert again.experiments == []
    assert dispatched(project) == [a.experiment_id, b.experiment_id]


def test_no_dispatch_when_the_block_raises(project):
    project.write("recording.py", RECORDING)
    with pytest.raises(KeyError):
        with get("recording"):
            get("estimate_gravity").launch()
            raise KeyError("stop")
    assert dispatched(project) == []
    assert get("estimate_gravity").status == "committed"


def test_resources_defaults_execution_and_experiment_overrides(project):
    project.write("recording.py", RECORDING)
    project.write("wants_gpu.py", WANTS_GPU)
    execution = get("recording", resources={"memory": "4G", "partition": "debug"})
    gravity, gpu = get("estimate_gravity"), get("wants_gpu")
    assert execution.compute_resources(gravity) == {"cpus": 1, "memory": "4G", "partition": "debug"}
    assert execution.compute_resources(gpu) == {"cpus": 1, "memory": "8G", "partition": "debug", "gpus": 1}
    with execution:
        gpu.launch()
    assert gpu.execution.record["resources"] == {"cpus": 1, "memory": "8G", "partition": "debug", "gpus": 1}


def test_builtin_multiprocess_execution(project):
    experiments = [get("estimate_gravity", {"time_dilation": i}) for i in (1, 2, 3)]
    with get("machinable.execution.multiprocess", {"processes": 2}) as execution:
        for experiment in experiments:
            experiment.launch()
    assert all(e.is_finished() for e in experiments)
    pids = {e.execution.host["pid"] for e in experiments}
    assert os.getpid() not in pids
    assert {e.execution.nickname for e in experiments} == {execution.nickname}


def _run(experiment):
    experiment()


def test_experiment_is_picklable_and_runs_in_a_spawned_interpreter(project):
    experiment = get("estimate_gravity", {"time_dilation": 4}).commit()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.map(_run, [experiment])
    assert experiment.is_finished()
    assert "The gravity on the exoplanet is:  72.22222222222223" in experiment.output()


def test_pickled_experiment_runs_from_another_working_directory(project, tmp_path_factory):
    experiment = get("estimate_gravity", {"time_dilation": 5}).commit()
    payload = tmp_path_factory.mktemp("elsewhere") / "experiment.p"
    payload.write_bytes(pickle.dumps(experiment))
    subprocess.run(
        [sys.executable, "-c", f"import pickle; pickle.load(open({str(payload)!r}, 'rb'))()"],
        cwd=payload.parent, check=True, capture_output=True,
    )
    assert experiment.is_finished()
    assert not os.path.exists(payload.parent / "storage")


def test_execution_is_an_element_with_config(project):
    execution = get("machinable.execution.multiprocess", {"processes": 3})
    assert isinstance(execution, Execution)
    assert execution.config.processes == 3
    assert execution.nickname.count("_") == 1
    assert isinstance(execution.timestamp, int)


FAILS_FOR_ONE = '''
from dataclasses import dataclass

from machinable import Experiment


class FailsForOne(Experiment):
    @dataclass
    class Config:
        n: int = 0

    def on_execute(self):
        if self.config.n == 1:
            raise ValueError("n=1 fails")
'''


def test_multiprocess_failure_does_not_stop_the_others(project):
    project.write("fails_for_one.py", FAILS_FOR_ONE)
    experiments = [get("fails_for_one", {"n": n}) for n in (0, 1, 2, 3)]
    with pytest.raises(ExecutionFailed, match=experiments[1].experiment_id) as raised:
        with get("machinable.execution.multiprocess", {"processes": 2}):
            for experiment in experiments:
                experiment.launch()
    assert "n=1 fails" in str(raised.value)
    assert [e.status for e in experiments] == ["finished", "failed", "finished", "finished"]


def test_multiprocess_reuses_its_worker_processes(project):
    experiments = [get("estimate_gravity", {"time_dilation": i}) for i in range(1, 7)]
    with get("machinable.execution.multiprocess", {"processes": 2}):
        for experiment in experiments:
            experiment.launch()
    assert all(e.is_finished() for e in experiments)
    assert len({e.execution.host["pid"] for e in experiments}) <= 2  # not one fresh process per experiment
    assert multiprocessing.active_children() == []
