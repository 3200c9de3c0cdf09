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
    assert first.stdout.count("pi is about") == 6  # three sample sizes, then three seeds of one (replicates)
    assert "Replicates of samples=10000: n=4 seeds, pi = 3.1" in first.stdout
    assert "6 experiments" in first.stdout and "summary.estimate" in first.stdout  # the runs table
    assert "1000000 samples: pi = 3.1" in first.stdout
    second = subprocess.run([sys.executable, "main.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "The gravity on the exoplanet is" not in second.stdout  # found, not run again
    assert "pi is about" not in second.stdout
    assert "1000000 samples: pi = 3.1" in second.stdout


def test_the_scikit_learn_example_resumes_from_its_checkpoint(tmp_path):
    """examples/sgd_regression.py: a partial_fit loop killed at step 25 continues from step 20's checkpoint."""
    import pytest

    pytest.importorskip("sklearn", reason="the example needs scikit-learn (pip install 'machinable[examples]')")
    project = tmp_path / "examples"
    shutil.copytree(f"{REPO}/examples", project, ignore=shutil.ignore_patterns("storage", "__pycache__"))
    kill_at_25 = (
        "import os, signal\n"
        "from machinable import get, Experiment\n"
        "from machinable.records import Record\n"
        "save = Record.save\n"
        "def dying(self, **row):\n"
        "    saved = save(self, **row)\n"
        "    if row.get('step') == 25:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return saved\n"
        "Record.save = dying\n"
        "get('sgd_regression', {'steps': 50}).launch()\n"
    )
    killed = subprocess.run([sys.executable, "-c", kill_at_25], cwd=project, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    resumed = subprocess.run([sys.executable, "sgd_regression.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the checkpoint of step 20" in resumed.stdout
    assert "50 steps, final loss" in resumed.stdout and "coef_error" in resumed.stdout


def test_the_sweep_example_runs_its_points_once(tmp_path):
    """examples/sweep.py: a 6-point grid on the multiprocess execution; run again, nothing runs."""
    project = tmp_path / "examples"
    shutil.copytree(f"{REPO}/examples", project, ignore=shutil.ignore_patterns("storage", "__pycache__"))
    first = subprocess.run([sys.executable, "sweep.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "6 of 6 points to run" in first.stdout and first.stdout.count("pi is about") == 6
    assert first.stdout.count("(error 0.0") == 6  # every estimate within 0.1 of pi
    second = subprocess.run([sys.executable, "sweep.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "0 of 6 points to run" in second.stdout and "pi is about" not in second.stdout
    assert second.stdout.split("sweep ")[1] == first.stdout.split("sweep ")[1]  # the same sweep, the same results
