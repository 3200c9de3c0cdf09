"""MACHINABLE_DURABILITY: page-cache by default, fsync on request; an unknown value is an error before any write."""

import os
import subprocess
import sys

import pytest

SCRIPT = '''
import os, sys
calls = {"fsync": 0, "fdatasync": 0}
real_fsync, real_fdatasync = os.fsync, os.fdatasync
def counting(name, real):
    def call(fd):
        calls[name] += 1
        return real(fd)
    return call
os.fsync = counting("fsync", real_fsync)
os.fdatasync = counting("fdatasync", real_fdatasync)

from machinable import get
experiment = get("estimate_gravity", {"time_dilation": 3}).commit()
before = dict(calls)
for step in range(10):
    experiment.record().save(step=step)
rows = calls["fdatasync"] - before["fdatasync"]
experiment.launch()
print(before["fsync"], rows, calls["fsync"] - before["fsync"])
'''


def run(project, durability):
    env = {**os.environ, "MACHINABLE_DURABILITY": durability}
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=str(project.path), env=env, capture_output=True, text=True)


def test_page_cache_writes_never_fsync(project):
    result = run(project, "page-cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["0", "0", "0"]


def test_fsync_makes_commits_rows_and_runs_durable(project):
    result = run(project, "fsync")
    assert result.returncode == 0, result.stderr
    commit, rows, launch = map(int, result.stdout.strip().splitlines()[-1].split())
    assert commit >= 3  # experiment.json, its directory, the identity markers
    assert rows == 10  # one per saved row
    assert launch >= 2  # execution record, status


def test_an_unknown_durability_is_an_error_before_anything_is_written(project):
    result = run(project, "always")
    assert result.returncode == 1
    assert "MACHINABLE_DURABILITY='always' is not a durability; use one of page-cache, fsync" in result.stderr
    assert not os.path.exists(project.storage)


@pytest.mark.parametrize("value", ["", "page-cache", " fsync "])
def test_accepted_spellings(value, monkeypatch):
    from machinable.storage import durability

    monkeypatch.setenv("MACHINABLE_DURABILITY", value)
    assert durability.fsync() == (value.strip() == "fsync")
