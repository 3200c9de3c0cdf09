"""`import machinable` stays light: no optional or heavy dependency at import time."""

import subprocess
import sys


def test_import_does_not_pull_heavy_modules():
    code = (
        "import sys, machinable\n"
        "heavy = {'numpy', 'pandas', 'dask', 'distributed', 'pydantic', 'arrow', 'rich', 'click', 'torch'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_python_dash_m_machinable_runs():
    result = subprocess.run([sys.executable, "-m", "machinable", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "Usage" in result.stdout
