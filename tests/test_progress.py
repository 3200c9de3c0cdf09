"""SPEC §9: progress bars for long work, on a terminal only."""

import os
import pty
import subprocess
import sys

LAUNCH_THREE = """
from machinable import get
with get("machinable.execution.multiprocess", {"processes": 2}):
    for dilation in (1, 2, 3):
        get("estimate_gravity", {"time_dilation": dilation, "verbose": False}).launch()
"""


def run_on_a_terminal(code: str, cwd) -> str:
    """Run `code` with stdout and stderr on a pseudo-terminal; returns what it drew."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, stdin=subprocess.DEVNULL,
                             stdout=terminal, stderr=terminal, close_fds=True,
                             env={**os.environ, "TERM": "xterm"})  # whatever terminal CI has (or none)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert child.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def test_dispatching_many_experiments_draws_a_progress_bar_on_a_terminal(project):
    drawn = run_on_a_terminal(LAUNCH_THREE, project.path)
    assert "experiments done" in drawn and "3/3" in drawn


def test_no_progress_bar_when_stderr_is_not_a_terminal(project):
    result = project.run(LAUNCH_THREE)
    assert "experiments done" not in result.stderr + result.stdout
    assert len(project.experiment_dirs()) == 3
