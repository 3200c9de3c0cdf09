"""The example project runs end to end, and a second run finds everything stored."""

import shutil
import subprocess
import sys

from conftest import REPO


def test_example_project_runs_and_reruns_without_work(tmp_path):
    project = tmp_path / "examples"
    shutil.copytree(f"{REPO}/examples", project, ignore=shutil.ignore_patterns("storage", "__pycache__"))
    first = subprocess.run([sys.executable, "main.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "The gravity on the exoplanet is:  1155.5555555555557" in first.stdout
    assert first.stdout.count("pi is about") == 3
    assert "1000000 samples: pi = 3.1" in first.stdout
    second = subprocess.run([sys.executable, "main.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "The gravity on the exoplanet is" not in second.stdout  # found, not run again
    assert "pi is about" not in second.stdout
    assert "1000000 samples: pi = 3.1" in second.stdout
