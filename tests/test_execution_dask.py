"""SPEC §5: machinable.execution.dask against a real `distributed` scheduler on loopback.

The scheduler and a worker are started as `python -m dask scheduler|worker` processes on
free loopback ports (nothing outside the repository is needed) and stopped after the module.
"""

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import pytest

pytest.importorskip("distributed", reason="pip install 'machinable[dask]'")

import machinable
from machinable import get
from machinable.errors import ExecutionFailed


# Appends "<experiment id> <pid>" to runs.log beside the module (in the project) on
# every run; fails while the project has no file named "fixed" if config.fail is set.
RECORDED_RUN = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment

HERE = os.path.dirname(os.path.abspath(__file__))


class RecordedRun(Experiment):
    @dataclass
    class Config:
        name: str = "a"
        fail: bool = False

    def on_execute(self):
        with open(os.path.join(HERE, "runs.log"), "a") as f:
            f.write(f"{self.experiment_id} {os.getpid()}\\n")
        print(f"running {self.config.name}")
        time.sleep(0.2)  # long enough for runs in other worker threads to overlap
        if self.config.fail and not os.path.exists(os.path.join(HERE, "fixed")):
            raise ValueError(f"{self.config.name} is broken")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler():
    """The address of a scheduler with one worker process of two threads."""
    from distributed import Client

    run_dir = tempfile.mkdtemp(prefix="machinable-dask-")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {  # the worker imports the machinable under test
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [os.path.dirname(os.path.dirname(machinable.__file__)), os.environ.get("PYTHONPATH")])
        ),
    }

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(os.path.join(run_dir, name + ".log"), "w") as log:
            return subprocess.Popen([sys.executable, "-m", "dask", name, *args], cwd=run_dir, env=env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    processes = [start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                       "--dashboard-address", f"127.0.0.1:{free_port()}")]
    try:
        processes.append(start("worker", address, "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0",
                               "--nworkers", "1", "--nthreads", "2", "--local-directory", run_dir))
        try:
            with Client(address, timeout=60) as client:
                client.wait_for_workers(1, timeout=60)
        except Exception as error:
            logs = "".join(open(os.path.join(run_dir, f"{name}.log")).read() for name in ("scheduler", "worker"))
            pytest.fail(f"The Dask scheduler and worker did not start ({error}):\n{logs}", pytrace=False)
        yield address
    finally:
        for process in reversed(processes):  # each in its own session: the worker's nanny and its child too
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


def runs(project) -> list:
    """(experiment id, pid) of every run, in order."""
    path = os.path.join(project.path, "runs.log")
    return [tuple(line.split()) for line in open(path)] if os.path.exists(path) else []


def test_experiments_run_once_on_the_scheduler_workers(project, scheduler):
    project.write("recorded_run.py", RECORDED_RUN)
    experiments = [get("recorded_run", {"name": name}) for name in "abc"]
    with get("machinable.execution.dask", {"address": scheduler}) as execution:
        for experiment in experiments:
            experiment.launch()
        experiments[0].launch()
    assert execution.experiments == experiments
    assert all(e.is_finished() for e in experiments)
    ran = runs(project)
    assert sorted(id for id, _ in ran) == sorted(e.experiment_id for e in experiments)
    assert str(os.getpid()) not in {pid for _, pid in ran}
    for experiment in experiments:
        record = experiment.execution.record
        assert record["module"] == "machinable.execution.dask"
        assert record["nickname"] == execution.nickname
        assert record["config"]["address"] == scheduler
        # two experiments ran at the same time in the worker; each log has only its own output
        assert experiment.output().strip() == f"running {experiment.config.name}"


def test_failure_names_the_experiment_others_finish_and_relaunch_resumes(project, scheduler):
    project.write("recorded_run.py", RECORDED_RUN)
    good, broken, other = (get("recorded_run", {"name": n, "fail": n == "broken"}) for n in ("good", "broken", "other"))
    with pytest.raises(ExecutionFailed) as failed:
        with get("machinable.execution.dask", {"address": scheduler}):
            for experiment in (good, broken, other):
                experiment.launch()
    message = str(failed.value)
    assert "1 of 3" in message and broken.experiment_id in message and "broken is broken" in message
    assert good.experiment_id not in message and other.experiment_id not in message
    assert isinstance(failed.value.__cause__, ExecutionFailed)
    assert good.is_finished() and other.is_finished() and broken.is_failed()

    open(os.path.join(project.path, "fixed"), "w").close()
    with get("machinable.execution.dask", {"address": scheduler}) as again:
        for experiment in (good, broken, other):
            experiment.launch()
    assert again.experiments == [broken]  # the finished ones are not resubmitted
    assert broken.is_finished() and len(broken.executions) == 2
    assert [id for id, _ in runs(project)].count(broken.experiment_id) == 2
    assert [id for id, _ in runs(project)].count(good.experiment_id) == 1


def test_local_cluster_by_default(project):
    project.write("recorded_run.py", RECORDED_RUN)
    experiments = [get("recorded_run", {"name": name}) for name in "ab"]
    with get("machinable.execution.dask") as execution:
        for experiment in experiments:
            experiment.launch()
    assert execution.config.address is None
    assert all(e.is_finished() for e in experiments)
    assert str(os.getpid()) not in {pid for _, pid in runs(project)}
    assert multiprocessing.active_children() == []  # the cluster's workers are gone


def test_unreachable_scheduler_is_a_clear_error(project):
    import dask

    address = f"tcp://127.0.0.1:{free_port()}"
    experiment = get("estimate_gravity")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ExecutionFailed, match=f"Cannot reach the Dask scheduler at {address}"):
            with get("machinable.execution.dask", {"address": address}):
                experiment.launch()
    assert experiment.status == "committed"


def test_missing_distributed_is_a_clear_error_before_any_side_effect(project):
    result = project.run(
        """
        import sys
        sys.modules["distributed"] = None  # as if it were not installed
        from machinable import get
        from machinable.errors import ModuleNotFound
        import machinable.execution.dask
        assert "distributed" not in sys.modules or sys.modules["distributed"] is None
        assert "dask" not in sys.modules  # imported lazily
        execution = get("machinable.execution.dask")  # e.g. read back from a record: fine
        try:
            with execution:
                get("estimate_gravity").launch()
        except ModuleNotFound as error:
            print(error)
        """
    )
    assert "pip install 'machinable[dask]'" in result.stdout
    assert project.experiment_dirs() == []
