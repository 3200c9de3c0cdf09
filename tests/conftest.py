import os
import subprocess
import sys
import textwrap

import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="Run the long reliability suites (thousands of kill points).")


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GRAVITY = open(os.path.join(REPO, "examples", "estimate_gravity.py")).read()


class ProjectDir:
    """A temporary project directory that is also the working directory."""

    def __init__(self, path):
        self.path = path
        self.storage = os.path.join(str(path), "storage")

    def write(self, name: str, source: str) -> str:
        target = self.path.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
        return str(target)

    def run(self, code: str, *args, timeout=120, check=True, **kwargs) -> subprocess.CompletedProcess:
        """Run Python code in a fresh interpreter inside the project."""
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=self.path, capture_output=True, text=True, timeout=timeout, **kwargs,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def experiment_dirs(self) -> list:
        found = []
        for current, dirs, files in os.walk(self.storage):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            if "experiment.json" in files:
                found.append(current)
                dirs[:] = []
        return found


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    directory = ProjectDir(tmp_path)
    directory.write("estimate_gravity.py", GRAVITY)
    return directory
