"""The benchmark suite still runs (smoke sizes, machinable and raw Python only)."""

import json
import subprocess
import sys

from conftest import REPO


def test_benchmarks_quick_mode_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path), "--base", str(tmp_path / "stores")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "per-run overhead" in result.stdout and "every returned save() survives SIGKILL" in result.stdout
    assert "sweep, per point of a 50-point grid" in result.stdout and "--dry-run` of 500 points < 2 s" in result.stdout
    latest = json.loads((tmp_path / "quick-latest.json").read_text())
    assert latest["quick"] is True


def test_the_readme_table_is_the_one_the_latest_results_generate():
    """README.md's benchmark table is `python -m benchmarks --readme` of benchmarks/results/latest.json."""
    import os

    from benchmarks import readme

    with open(readme.LATEST) as f:
        run = json.load(f)
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    assert readme.current(text) == readme.section(run), "run `python -m benchmarks --readme` after a full run"
    shown = readme.current(text)
    for label in ("fsync (survives power loss)", "batch API", "equality on one key among N = 100,000",
                  "1 % range on one key among N = 100,000", "`machinable list` at 10,000",
                  "sweep, per point of a 1,000-point grid", "Hydra multirun", "Optuna (SQLite storage)"):
        assert label in shown, label
