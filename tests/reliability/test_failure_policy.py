"""Issue 7: one failure policy for every execution, enforced in the `Execution` base class.

Every queued experiment runs; one `ExecutionFailed` names each failure; `fail_fast=True`
stops at the first; a process that dies in any way is its experiment's failure, with the
exit code or signal; Ctrl-C leaves every experiment resumable. Each dispatch runs in a
fresh interpreter with a timeout, so a hang fails the test instead of blocking the suite.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# how=...: what on_execute does; "wait" blocks while the project has a file named "hold"
OUTCOME = '''
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass

from machinable import Experiment


class Outcome(Experiment):
    @dataclass
    class Config:
        how: str = "succeed"
        n: int = 0

    def on_execute(self):
        print(f"{self.config.how} in {os.getpid()}")
        if self.config.how == "raise":
            raise ValueError("broken on purpose")
        if self.config.how == "exit":
            sys.exit(3)
        if self.config.how == "os_exit":
            os._exit(9)
        if self.config.how == "segfault":
            ctypes.string_at(0)
        if self.config.how == "sigkill":  # what the OOM killer does
            os.kill(os.getpid(), signal.SIGKILL)
        if self.config.how == "wait":
            deadline = time.time() + 60
            while os.path.exists("hold") and time.time() < deadline:
                time.sleep(0.05)
'''

# a user's executions that implement only on_dispatch, the two usual ways
USER_POOL = '''
from multiprocessing import Pool

from machinable import Execution


def run(experiment):
    experiment()


class UserPool(Execution):
    def on_dispatch(self):
        with Pool(2) as pool:
            pool.map(run, self.experiments)
'''

USER_LOOP = '''
from machinable import Execution


class UserLoop(Execution):
    def on_dispatch(self):
        for experiment in self.experiments:
            experiment()
'''

# launches one experiment per `how` in the execution, prints what happened as JSON on the last line
DISPATCH = '''
import json
import sys
import time

from machinable import get
from machinable.errors import ExecutionFailed

if __name__ == "__main__":
    hows, module, version, fail_fast = json.loads(sys.argv[1])
    experiments = [get("outcome", {"how": how, "n": n}) for n, how in enumerate(hows)]
    started, message, cause = time.time(), None, None
    try:
        with get(module, version, fail_fast=fail_fast):
            for experiment in experiments:
                experiment.launch()
    except ExecutionFailed as error:
        message, cause = str(error), type(error.__cause__).__name__
    print(json.dumps({
        "ids": [e.experiment_id for e in experiments],
        "statuses": [e.status for e in experiments],
        "message": message,
        "cause": cause,
        "seconds": time.time() - started,
    }))
'''

FAILURES = {
    "raise": "ValueError: broken on purpose",
    "exit": "SystemExit: 3",
    "os_exit": "exited with code 9",
    "segfault": "killed by signal 11 (SIGSEGV)",
    "sigkill": "killed by signal 9 (SIGKILL)",
}
FINAL = {"raise": "failed", "exit": "failed", "succeed": "finished"}  # the others: "died"


def dispatch(project, hows, module, version=None, fail_fast=False) -> dict:
    project.write("outcome.py", OUTCOME)
    project.write("user_pool.py", USER_POOL)
    project.write("user_loop.py", USER_LOOP)
    result = project.run(DISPATCH, json.dumps([hows, module, version, fail_fast]), timeout=180)
    return json.loads(result.stdout.splitlines()[-1])


def assert_all_ran_and_failures_named(outcome, hows, **expected):
    assert outcome["statuses"] == [FINAL.get(how, "died") for how in hows]
    message = outcome["message"]
    failed = [how for how in hows if how != "succeed"]
    assert message.startswith(f"{len(failed)} of {len(hows)} experiment(s) failed"), message
    for how, experiment_id in zip(hows, outcome["ids"]):
        line = next((line for line in message.splitlines() if experiment_id in line), None)
        if how == "succeed":
            assert line is None, message
        else:
            assert line is not None and {**FAILURES, **expected}[how] in line, message


@pytest.mark.parametrize(
    "module, version, hows",
    [
        ("machinable.execution.local", None, ["raise", "exit", "succeed"]),
        ("user_loop", None, ["raise", "exit", "succeed"]),
        ("user_pool", None, ["raise", "exit", "succeed"]),
        ("machinable.execution.subprocess", None, ["raise", "exit", "os_exit", "succeed"]),
        (
            "machinable.execution.multiprocess",
            {"processes": 2},
            ["raise", "exit", "os_exit", "segfault", "sigkill", "succeed", "succeed"],
        ),
    ],
)
def test_every_experiment_runs_and_one_error_names_every_failure(project, module, version, hows):
    outcome = dispatch(project, hows, module, version)
    assert_all_ran_and_failures_named(outcome, hows)
    if module == "machinable.execution.local":
        assert outcome["cause"] == "ValueError"  # chained to the first failure's exception


def test_dask_reports_a_dead_worker_as_its_experiments_failure_without_rerunning_it(project):
    pytest.importorskip("distributed")
    hows = ["raise", "exit", "os_exit", "succeed"]
    outcome = dispatch(project, hows, "machinable.execution.dask", {"workers": 2})
    assert_all_ran_and_failures_named(outcome, hows, os_exit="its Dask worker process died while running it")
    crashed = outcome["ids"][hows.index("os_exit")]
    log = open(next(d for d in project.experiment_dirs() if d.endswith(crashed)) + "/output.log").read()
    assert log.count("os_exit in") == 1  # the scheduler retried the task; it was not run again


@pytest.mark.parametrize(
    "module, version",
    [
        ("machinable.execution.local", None),
        ("machinable.execution.subprocess", None),
        ("machinable.execution.multiprocess", {"processes": 1}),
    ],
)
def test_fail_fast_stops_at_the_first_failure(project, module, version):
    hows = ["raise", "exit", "succeed"]
    outcome = dispatch(project, hows, module, version, fail_fast=True)
    assert outcome["statuses"] == ["failed", "committed", "committed"]
    message = outcome["message"]
    assert message.startswith("1 of 3 experiment(s) failed") and "ValueError: broken on purpose" in message
    assert "fail_fast=True stopped" in message and all(i in message for i in outcome["ids"])


@pytest.mark.parametrize(
    "module, version",
    [("machinable.execution.multiprocess", {"processes": 2}), ("machinable.execution.dask", {"workers": 1})],
)
def test_fail_fast_also_stops_the_running_ones(project, module, version):
    if module.endswith("dask"):
        pytest.importorskip("distributed")
    project.write("hold", "")  # the others wait (up to 60 s) while it exists: they cannot finish first
    hows = ["raise", "wait", "wait", "wait"]
    outcome = dispatch(project, hows, module, version, fail_fast=True)
    message = outcome["message"]
    assert message.startswith("1 of 4") and "ValueError: broken on purpose" in message
    assert "fail_fast=True stopped" in message and all(i in message for i in outcome["ids"])
    assert outcome["statuses"][0] == "failed" and "committed" in outcome["statuses"]  # (Dask's order varies)
    assert set(outcome["statuses"][1:]) <= {"died", "committed"} and outcome["seconds"] < 45


def test_fail_fast_reaches_the_interpreter_of_a_subprocess(project):
    project.run(
        """
        from machinable import Execution, get
        execution = get("machinable.execution.subprocess", fail_fast=True)
        assert execution.fail_fast and Execution.from_record(execution.portable_record()).fail_fast
        assert not get("machinable.execution.local").fail_fast
        """
    )


INTERRUPTED = '''
import sys

from machinable import get

if __name__ == "__main__":
    with get("machinable.execution.multiprocess", {"processes": 2}):
        for n in range(2):
            get("outcome", {"how": "wait", "n": n}).launch()
'''


def test_ctrl_c_stops_every_worker_and_leaves_every_experiment_resumable(project):
    project.write("outcome.py", OUTCOME)
    project.write("hold", "")
    driver = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(INTERRUPTED)], cwd=project.path, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # as a terminal's program gets it: a shell's background job (e.g. `pytest &`) ignores Ctrl-C, and
        # Python keeps a SIGINT that was ignored at its start ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        from machinable import get

        experiments = [get("outcome", {"how": "wait", "n": n}) for n in range(2)]
        deadline = time.time() + 60
        while not all(e.is_committed() and "wait in" in (e.output() or "") for e in experiments):
            assert time.time() < deadline and driver.poll() is None, driver.communicate()[0]
            time.sleep(0.1)
            experiments = [get("outcome", {"how": "wait", "n": n}) for n in range(2)]
        os.killpg(driver.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
        output = driver.communicate(timeout=60)[0]
        assert "KeyboardInterrupt" in output
        assert [e.status for e in experiments] == ["died", "died"], output
        assert all(e.error() is None for e in experiments)
        deadline = time.time() + 20
        while group_alive(driver.pid):  # the workers are gone too
            assert time.time() < deadline, "worker processes survived the interrupted driver"
            time.sleep(0.1)
    finally:
        if group_alive(driver.pid):
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    os.unlink(os.path.join(project.path, "hold"))
    project.run(INTERRUPTED, timeout=120)
    assert [e.status for e in experiments] == ["finished", "finished"]
    assert all(len(e.executions) == 2 for e in experiments)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
