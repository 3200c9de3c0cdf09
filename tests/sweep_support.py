"""What the sweep and search tests share: a log each run appends to (the proof of how often a point
ran), and drivers started as their own process groups (to SIGKILL with their workers)."""

import os
import signal
import subprocess
import sys

# the head of a project module whose experiments log "start"/"done", the driver's PHASE and what they name
LOGGING = '''
import os
import time
from dataclasses import dataclass

from machinable import Experiment

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "executions.log")


def log(word, *names):
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, " ".join([word, os.environ.get("PHASE", "0"), str(os.getpid()), *map(str, names)]).encode() + b"\\n")
    finally:
        os.close(fd)
'''


def log_lines(project) -> list[tuple]:
    """(word, phase, pid, *names) per logged line."""
    path = os.path.join(str(project.path), "executions.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(line.split()) for line in f if line.strip()]


def start_driver(project, phase: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "driver.py", *args], cwd=project.path, env={**os.environ, "PHASE": phase},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 180) -> str:
    """The driver's output once it exited 0 (killed with its group if it takes longer than `timeout`)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, err
    return out


def kill_when(project, driver: subprocess.Popen, done: int, timeout: float = 120, started_by: str | None = None) -> None:
    """SIGKILL the driver and its workers once `done` runs logged their end (and then, with `started_by`, as soon
    as a run of that driver's PHASE logs its start: it is killed halfway)."""
    import time

    def reached() -> bool:
        lines = log_lines(project)
        if sum(line[0] == "done" for line in lines) < done:
            return False
        if started_by is None:
            return True
        starts = sum(line[0] == "start" and line[1] == started_by for line in lines)
        seen.setdefault("starts", starts)
        return starts > seen["starts"]

    seen: dict = {}
    deadline = time.time() + timeout
    while not reached():
        if driver.poll() is not None or time.time() > deadline:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
            raise AssertionError(f"the driver ended or was too slow: {driver.stderr.read()}")
        time.sleep(0.005)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
