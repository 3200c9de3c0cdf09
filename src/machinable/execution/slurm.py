"""Submit each experiment as a Slurm batch job: `get("machinable.execution.slurm", {"partition": "debug"})`.

`launch()` in its context returns once `sbatch` accepted the jobs; they run later,
each calling `experiment()` against the same storage, so `experiment.status` and
`is_finished()` work as for any execution. Resources become `#SBATCH` options::

    with get("machinable.execution.slurm", resources={"cpus-per-task": 2, "mem": "1G", "time": "1:00:00"}):
        experiment.launch()

`{"cpus-per-task": 2}` gives `--cpus-per-task=2`, a key with leading dashes is used
as is (`{"-c": 2}` gives `-c 2`), `True` gives a bare flag and `None`/`False` omit
the option. Each submission's script is kept in the experiment's directory
(`slurm-<nickname>.sh`, resubmit it with `sbatch`), Slurm's own output of the job
goes to `slurm-<job id>.out` beside it, and `slurm.json` lists the submissions
(job id, script, time, execution nickname). Poll a job with `job_status(experiment)`.

With `{"array": True}` the experiments that share their options (directory, partition,
resources) are submitted as one job array instead of one job each, so a sweep is one
`sbatch` and does not flood the scheduler; `max_parallel` caps how many of its tasks
run at once. An experiment's job id is then `<array job id>_<task index>`.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from dataclasses import dataclass

from machinable.errors import SlurmError
from machinable.execution import Execution
from machinable.storage.files import read_json, write_atomic

SUBMISSIONS = "slurm.json"


class Slurm(Execution):
    asynchronous = True

    @dataclass
    class Config:
        partition: str | None = None
        array: bool = False  # one job array per set of experiments with equal options, not one job each
        max_parallel: int | None = None  # of an array's tasks running at once (`--array=0-N%max_parallel`)
        sbatch: str = "sbatch"
        scontrol: str = "scontrol"

    def on_dispatch(self) -> None:
        if not self.config.array:
            super().on_dispatch()
            return
        arrays: dict = {}
        for experiment in self.experiments:
            arrays.setdefault(tuple(self.shared_options(experiment)), []).append(experiment)
        for options, experiments in arrays.items():
            self.submit_array(experiments, list(options))

    def on_dispatch_experiment(self, experiment) -> None:
        """Submit the experiment's batch script; store the script and the job id in its directory."""
        options = [
            *resource_options({
                "job-name": f"{experiment.module}-{experiment.experiment_id}",
                "output": experiment.local_directory("slurm-%j.out"),
            }),
            *self.shared_options(experiment),
        ]
        script = batch_script(options, [experiment.to_dispatch_code(inline=True)])
        job_id = self._submit(str(experiment), script, options)
        record_submission(experiment, job_id, script, self.nickname)

    def submit_array(self, experiments: list, options: list[str]) -> None:
        """Submit `experiments` as the tasks of one job array; task i runs experiment i."""
        array = f"0-{len(experiments) - 1}" + (f"%{self.config.max_parallel}" if self.config.max_parallel else "")
        options = [
            *resource_options({"job-name": f"{self.nickname}-array", "output": "/dev/null", "array": array}),
            *options,
        ]
        lines = ['case "$SLURM_ARRAY_TASK_ID" in']
        for index, experiment in enumerate(experiments):
            output = shlex.quote(experiment.local_directory("slurm-")) + f'"$SLURM_ARRAY_JOB_ID"_{index}.out'
            lines.append(f"{index}) exec >{output} 2>&1; {experiment.to_dispatch_code(inline=True)} ;;")
        lines.append("esac")
        script = batch_script(options, lines)
        names = ", ".join(e.experiment_id for e in experiments)
        job_id = self._submit(f"the job array of {len(experiments)} experiment(s) ({names})", script, options)
        for index, experiment in enumerate(experiments):
            record_submission(experiment, f"{job_id}_{index}", script, self.nickname)

    def shared_options(self, experiment) -> list[str]:
        """Directory, partition, then the computed resources: what the tasks of one array must share.

        sbatch takes the last of repeated options, so resources can override the partition.
        """
        options = resource_options({"chdir": experiment._project, "partition": self.config.partition})
        return options + resource_options(self.compute_resources(experiment))

    def _submit(self, what: str, script: str, options: list[str]) -> str:
        """Pass the script to `sbatch --parsable` on stdin; returns the job id."""
        try:
            result = subprocess.run([self.config.sbatch, "--parsable"], input=script, capture_output=True, text=True)
        except FileNotFoundError:
            raise SlurmError(
                f"Cannot submit {what}: the sbatch command {self.config.sbatch!r} was not found. Install "
                "Slurm's client tools (e.g. apt-get install slurm-client) or set the execution's config "
                "'sbatch' to the path of sbatch."
            ) from None
        if result.returncode != 0:
            raise SlurmError(
                f"sbatch refused {what} (exit code {result.returncode}): {result.stderr.strip()}\n"
                f"The job's options were: {' '.join(options)}. Fix the resources (the execution's "
                "resources= or the experiment's resources()) or the config, then launch again."
            )
        return result.stdout.strip().split(";")[0]  # --parsable prints "jobid" or "jobid;cluster"

    def job_status(self, experiment) -> str:
        """Slurm's JobState of the experiment's latest job, using this execution's `scontrol`."""
        return job_status(experiment, self.config.scontrol)


def batch_script(options: list[str], commands: list[str]) -> str:
    return "\n".join(["#!/bin/bash", *(f"#SBATCH {option}" for option in options), *commands]) + "\n"


def record_submission(experiment, job_id: str, script: str, nickname: str) -> None:
    """Keep the script and the job id in the experiment's directory, once sbatch accepted the job.

    A refused submission leaves no files behind.
    """
    path = experiment.local_directory(f"slurm-{nickname}.sh")
    write_atomic(path, script.encode())
    submission = {"job_id": job_id, "script": path, "submitted_at": time.time(), "execution": nickname}
    jobs = [*submissions(experiment), submission]
    write_atomic(experiment.local_directory(SUBMISSIONS), json.dumps(jobs, indent=1).encode())


def resource_options(resources: dict) -> list[str]:
    """`{"cpus-per-task": 2, "exclusive": True, "-c": 2, "mem": None}` -> `["--cpus-per-task=2", "--exclusive", "-c 2"]`.

    Values are quoted as in a shell, which is also how sbatch reads `#SBATCH` lines.
    """
    options = []
    for key, value in resources.items():
        if value is None or value is False:
            continue
        option = key if key.startswith("-") else f"--{key}"
        if value is True:
            options.append(option)
        elif option.startswith("--"):
            options.append(f"{option}={shlex.quote(str(value))}")
        else:
            options.append(f"{option} {shlex.quote(str(value))}")
    return options


def submissions(experiment) -> list[dict]:
    """The experiment's Slurm submissions, oldest first: `{"job_id", "script", "submitted_at", "execution"}`."""
    return read_json(experiment.local_directory(SUBMISSIONS), default=[])


def job_status(experiment, scontrol: str = "scontrol") -> str:
    """Slurm's JobState (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...) of the experiment's latest job.

    Asks `scontrol show job`, since clusters without an accounting database have no
    `sacct`. slurmctld forgets a job some minutes after it ended (MinJobAge, 300 s by
    default); then this raises SlurmError and `experiment.status` tells how it ended.
    """
    jobs = submissions(experiment)
    if not jobs:
        raise SlurmError(f"{experiment} was never submitted to Slurm (no {SUBMISSIONS} in its directory).")
    job_id = jobs[-1]["job_id"]
    try:
        result = subprocess.run([scontrol, "show", "job", job_id, "-o"], capture_output=True, text=True)
    except FileNotFoundError:
        raise SlurmError(
            f"Cannot ask Slurm about job {job_id}: the scontrol command {scontrol!r} was not found. Install "
            "Slurm's client tools or pass the path of scontrol."
        ) from None
    state = re.search(r"\bJobState=(\S+)", result.stdout)
    if state is not None:
        return state.group(1)
    if "Invalid job id" in result.stderr:
        raise SlurmError(
            f"Slurm no longer knows job {job_id} of {experiment}: slurmctld forgets jobs a while after they end "
            f"(MinJobAge). The experiment's status is '{experiment.status}'; Slurm's output of the job is in "
            f"{experiment.local_directory(f'slurm-{job_id}.out')}."
        )
    raise SlurmError(
        f"Cannot ask Slurm about job {job_id} of {experiment}: `{scontrol} show job {job_id} -o` exited with "
        f"{result.returncode}: {result.stderr.strip()}. Check that slurmctld is running (`scontrol ping`)."
    )
