"""SPEC §5: the built-in `machinable.execution.slurm`, against a real single-node Slurm on loopback.

The cluster comes from ../shared/services/slurm/{start,stop} (start installs Slurm
with apt if it is missing). If it cannot start, these tests fail with its output; in a clone
of the repository without ../shared beside it, they are skipped (the rest of this file runs).
"""

import glob
import json
import os
import subprocess
import time
import warnings

import pytest

from machinable import get
from machinable.execution.slurm import Slurm, SlurmError, job_status, resource_options, submissions

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLURM_SERVICE = os.path.join(os.path.dirname(REPO), "shared", "services", "slurm")

JOB = '''
import os
from dataclasses import dataclass

from machinable import Experiment


class Job(Experiment):
    @dataclass
    class Config:
        name: str = "a"

    def resources(self):
        return {"time": "00:05:00"}

    def on_execute(self):
        print("hello from job", self.config.name)
        self.save_data("job.json", {"pid": os.getpid(), "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "cwd": os.getcwd()})
        if os.path.exists("fail"):  # in the project directory, the job's --chdir
            raise RuntimeError("asked to fail")
'''


def run_service(action: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", os.path.join(SLURM_SERVICE, action)], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def slurm():
    if not os.path.isdir(SLURM_SERVICE):
        pytest.skip(f"the Slurm test cluster's scripts are not here ({SLURM_SERVICE}, beside the repository in CI)")
    started = run_service("start")
    if started.returncode != 0:
        run_service("stop")  # the daemons start did start stay recorded: stop them
        pytest.fail(
            f"Could not start Slurm with {SLURM_SERVICE}/start (exit {started.returncode}):\n"
            f"{started.stdout}{started.stderr}",
            pytrace=False,
        )
    yield
    stopped = run_service("stop")
    assert stopped.returncode == 0, f"{SLURM_SERVICE}/stop failed:\n{stopped.stdout}{stopped.stderr}"


def wait_until(condition, experiments, timeout=60):
    """Poll `condition()`; on timeout fail with the queue and the jobs' Slurm output."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            queue = subprocess.run(["squeue"], capture_output=True, text=True).stdout
            outputs = [
                f"{path}:\n{open(path).read()}"
                for experiment in experiments
                for path in glob.glob(experiment.local_directory("slurm-*.out"))
            ]
            pytest.fail(f"Timed out after {timeout} s. squeue:\n{queue}\n" + "\n".join(outputs))
        time.sleep(0.1)


def final_job_status(experiment, timeout=30) -> str:
    """The job's state once it ended (its process exits a moment after the experiment finished)."""
    deadline = time.monotonic() + timeout
    while (state := job_status(experiment)) in ("PENDING", "RUNNING", "COMPLETING"):
        assert time.monotonic() < deadline, f"job of {experiment} still {state} after {timeout} s"
        time.sleep(0.1)
    return state


def test_launch_submits_one_batch_job_per_experiment_and_returns(project, slurm):
    project.write("job.py", JOB)
    a, b = get("job", {"name": "a"}), get("job", {"name": "b"})
    execution = get("machinable.execution.slurm", {"partition": "debug"},
                    resources={"cpus-per-task": 1, "mem": "100M", "requeue": False})
    begin = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an asynchronous execution is not warned about unstarted experiments
        with execution:
            a.launch()
            b.launch()
    assert time.monotonic() - begin < 10  # submitted, not waited for

    for experiment in (a, b):
        [submission] = submissions(experiment)
        assert submission["job_id"].isdigit() and submission["execution"] == execution.nickname
        script = open(submission["script"]).read()
        assert script.startswith("#!/bin/bash\n")
        for line in ("--partition=debug", "--cpus-per-task=1", "--mem=100M", "--time=00:05:00",
                     f"--chdir={project.path}", f"--job-name=job-{experiment.experiment_id}",
                     f"--output={experiment.local_directory('slurm-%j.out')}"):
            assert f"#SBATCH {line}\n" in script
        assert "#SBATCH --requeue" not in script
        assert experiment.to_dispatch_code(inline=True) in script
    assert submissions(a)[0]["job_id"] != submissions(b)[0]["job_id"]

    wait_until(lambda: a.is_finished() and b.is_finished(), [a, b])
    for experiment in (a, b):
        job_id = submissions(experiment)[0]["job_id"]
        assert isinstance(experiment.execution, Slurm)
        assert experiment.execution.module == "machinable.execution.slurm"
        assert experiment.execution.nickname == execution.nickname
        assert experiment.execution.record["resources"]["cpus-per-task"] == 1
        job = experiment.load_data("job.json")
        assert job["pid"] != os.getpid() and job["slurm_job_id"] == job_id and job["cwd"] == str(project.path)
        assert experiment.execution.host["job_ids"] == {"SLURM_JOB_ID": job_id}  # recorded with the execution
        assert f"hello from job {experiment.config.name}" in experiment.output()
        assert os.path.exists(experiment.local_directory(f"slurm-{job_id}.out"))
        assert execution.job_status(experiment) in ("RUNNING", "COMPLETING", "COMPLETED")
        assert final_job_status(experiment) == "COMPLETED"

    with get("machinable.execution.slurm") as again:
        a.launch()  # finished: not submitted again
    assert again.experiments == [] and len(submissions(a)) == 1


# asks for more memory than Job, so its experiments go into an array of their own
BIG_JOB = JOB.replace("class Job(", "class BigJob(").replace('{"time": "00:05:00"}', '{"time": "00:05:00", "mem": "200M"}')


def test_array_mode_submits_one_job_array_per_set_of_equal_options(project, slurm):
    project.write("job.py", JOB)
    project.write("big_job.py", BIG_JOB)
    small = [get("job", {"name": name}) for name in ("x", "y", "z")]
    big = get("big_job", {"name": "w"})
    with get("machinable.execution.slurm", {"array": True, "max_parallel": 2}) as execution:
        for experiment in (*small, big):
            experiment.launch()

    small_ids = [submissions(e)[0]["job_id"] for e in small]
    array_job = small_ids[0].split("_")[0]
    assert small_ids == [f"{array_job}_{index}" for index in range(3)]  # one array, task i = experiment i
    [big_id] = [s["job_id"] for s in submissions(big)]
    assert big_id.endswith("_0") and not big_id.startswith(array_job + "_")  # other options: another array
    script = open(submissions(small[0])[0]["script"]).read()
    assert "#SBATCH --array=0-2%2\n" in script and "#SBATCH --mem=200M" not in script
    assert all(e.to_dispatch_code(inline=True) in script for e in small)

    wait_until(lambda: all(e.is_finished() for e in (*small, big)), [*small, big])
    for index, experiment in enumerate(small):
        assert experiment.execution.nickname == execution.nickname
        assert experiment.execution.host["job_ids"]["SLURM_ARRAY_JOB_ID"] == array_job
        assert experiment.execution.host["job_ids"]["SLURM_ARRAY_TASK_ID"] == str(index)
        assert f"hello from job {experiment.config.name}" in experiment.output()
        assert os.path.exists(experiment.local_directory(f"slurm-{array_job}_{index}.out"))
        assert final_job_status(experiment) == "COMPLETED"


def test_failed_job_marks_the_experiment_failed_and_relaunch_resumes_it(project, slurm):
    project.write("job.py", JOB)
    project.write("fail", "")
    experiment = get("job", {"name": "failing"})
    with get("machinable.execution.slurm"):
        experiment.launch()
    wait_until(experiment.is_failed, [experiment])
    assert "RuntimeError: asked to fail" in experiment.output()
    assert final_job_status(experiment) == "FAILED"

    os.remove(project.path / "fail")
    with get("machinable.execution.slurm") as execution:
        experiment.launch()
    wait_until(experiment.is_finished, [experiment])
    first, second = submissions(experiment)
    assert second["execution"] == execution.nickname and second["job_id"] != first["job_id"]
    assert len(experiment.executions) == 2
    assert experiment._status()["resumed_from"]["error"]["message"] == "asked to fail"


def test_sbatch_refusal_is_a_clear_error_and_records_nothing(project, slurm):
    project.write("job.py", JOB)
    experiment = get("job", {"name": "too-big"})
    with pytest.raises(SlurmError) as error:
        with get("machinable.execution.slurm", resources={"cpus-per-task": 3}):  # the node has 2 CPUs
            experiment.launch()
    message = str(error.value)
    assert "sbatch refused" in message and "More processors requested than permitted" in message
    assert "--cpus-per-task=3" in message and "resources" in message
    assert experiment.status == "committed"
    assert not glob.glob(experiment.local_directory("slurm*"))
    with pytest.raises(SlurmError, match="never submitted"):
        job_status(experiment)


def test_job_status_of_a_job_slurm_forgot_says_so(project, slurm):
    experiment = get("estimate_gravity").commit()
    with open(experiment.local_directory("slurm.json"), "w") as f:
        json.dump([{"job_id": "99999", "script": "", "submitted_at": 0, "execution": "gone"}], f)
    with pytest.raises(SlurmError, match=r"no longer knows job 99999 .* \(MinJobAge\)\. The experiment's status is 'committed'"):
        job_status(experiment)


def test_missing_sbatch_is_a_clear_error(project, tmp_path):
    experiment = get("estimate_gravity")
    with pytest.raises(SlurmError, match="sbatch command .* was not found. Install"):
        with get("machinable.execution.slurm", {"sbatch": str(tmp_path / "no-sbatch")}):
            experiment.launch()
    assert experiment.status == "committed"
    assert not glob.glob(experiment.local_directory("slurm*"))


def test_resources_become_sbatch_options():
    resources = {"cpus-per-task": 2, "mem": "1G", "exclusive": True, "gres": None, "requeue": False,
                 "--comment": "two words", "-N": 1}
    assert resource_options(resources) == [
        "--cpus-per-task=2", "--mem=1G", "--exclusive", "--comment='two words'", "-N 1"
    ]
