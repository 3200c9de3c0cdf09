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
    latest = json.loads((tmp_path / "quick-latest.json").read_text())
    assert latest["quick"] is True
