"""Issue 8: a storage this user cannot write (shared lab storage, an archive) stays readable.

Before: `get` of finished work, `list`, `show` and the read-only dashboard all failed
("SQLite keeps its lock files there"). Now reading works through the index opened
immutable, or a private index in memory when there is none; writing fails clearly first.

The reader runs as the user `nobody`, allowed to read every file (the tests run as root, where file modes do not stop
writes), or as root on a read-only bind mount; a test is skipped where that is not possible.
"""

import json
import os
import shutil
import stat
import subprocess
import sqlite3
import sys
import tempfile

import pytest

from machinable import Storage, get

COUNTER = '''
from dataclasses import dataclass

from machinable import Experiment


class Counter(Experiment):
    @dataclass
    class Config:
        n: int = 0

    def on_execute(self):
        print("ran", self.config.n)
'''

READER = '''
import json, sys, warnings
from machinable import find, get
from machinable.errors import StorageError
from machinable.ui import api
from machinable import Storage

finished = get("counter", {"n": 1})
out = {"status": finished.status, "id": finished.experiment_id, "found": len(find("counter"))}
out["index"] = type(Storage.current().index).__name__
data = api.list_experiments(Storage.current(), {})
out["dashboard"] = sorted(e["id"] for e in data["experiments"])
detail = api.route(Storage.current(), ["experiments", finished.experiment_id], {})
out["detail"] = [detail.status, json.loads(detail.body)["status"]]
import http.client
from machinable import ui
server = ui.create_server(port=0).start()  # the dashboard itself, over HTTP
connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
connection.request("GET", "/api/experiments")
response = connection.getresponse()
out["served"] = [response.status, len(json.loads(response.read())["experiments"])]
server.stop()
finished.launch()  # finished: nothing to write, nothing to run
try:
    get("counter", {"n": 9}).launch()
except StorageError as error:
    out["write"] = str(error)
print(json.dumps(out))
'''


def as_nobody(*command, cwd):
    env = {**os.environ, "HOME": "/nonexistent"}
    return subprocess.run(
        # CAP_DAC_READ_SEARCH: nobody may read anything (Python lives under /root here), but write nothing
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=+dac_read_search",
         "--ambient-caps=+dac_read_search", *command],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def snapshot(root) -> dict:
    return {
        os.path.join(current, name): os.lstat(os.path.join(current, name)).st_mtime_ns
        for current, dirs, names in os.walk(root) for name in dirs + names
    }


@pytest.fixture
def shared(project):
    """A copy of a project whose storage holds two finished experiments, readable by all, writable by none."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running the reader as another user needs root and setpriv")
    project.write("counter.py", COUNTER)
    for n in (1, 2):
        get("counter", {"n": n}).launch()
    Storage.current().index.close()
    root = tempfile.mkdtemp(prefix="machinable-shared-")
    os.chmod(root, 0o755)
    copy = os.path.join(root, "project")
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for current, dirs, names in os.walk(copy):
        for name in dirs + names:
            path = os.path.join(current, name)
            mode = os.lstat(path).st_mode
            os.chmod(path, (mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (0o555 if name in dirs else 0)) & ~0o222)
    os.chmod(copy, 0o555)
    if as_nobody(sys.executable, "-c", "open('probe', 'w')", cwd=copy).returncode == 0:
        shutil.rmtree(root)
        pytest.skip("the user nobody can still write here")
    yield copy
    for current, dirs, names in os.walk(root):
        os.chmod(current, 0o755)
    shutil.rmtree(root)


@pytest.mark.parametrize("index", ["kept", "missing", "written-before-markers"])
def test_everything_that_only_reads_works_and_writes_fail_clearly_first(shared, index):
    """An index without identity markers (from a storage written by an earlier machinable) is used as
    it is; before, it was rebuilt in memory from every experiment's files at every start."""
    storage = os.path.join(shared, "storage")
    if index == "missing":  # root may write here
        os.unlink(os.path.join(storage, "index.sqlite"))
    if index == "written-before-markers":
        shutil.rmtree(os.path.join(storage, ".identities"))
        with sqlite3.connect(os.path.join(storage, "index.sqlite")) as db:
            db.execute("DROP TABLE state")
        sqlite3.connect(os.path.join(storage, "index.sqlite")).close()  # the last connection: WAL checkpointed
    before = snapshot(shared)
    result = as_nobody(sys.executable, "-c", READER, cwd=shared)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["status"] == "finished" and out["found"] == 2 and len(out["dashboard"]) == 2
    assert out["index"] == ("MemoryIndex" if index == "missing" else "Index")
    assert out["detail"] == [200, "finished"] and out["served"] == [200, out["found"]]
    assert out["write"].startswith(f"Storage directory {storage} is not writable (Permission denied")
    assert "choose another directory" in out["write"]
    listed = as_nobody(sys.executable, "-m", "machinable", "list", cwd=shared)
    assert listed.returncode == 0 and "2 experiments" in listed.stdout, listed.stderr
    shown = as_nobody(sys.executable, "-m", "machinable", "show", out["id"], cwd=shared)
    assert shown.returncode == 0 and "status:    finished" in shown.stdout, shown.stderr
    assert snapshot(shared) == before  # nothing was written: no lock files, no index, no directory


def test_commits_of_the_owner_still_in_the_write_ahead_log_are_seen(shared):
    """While the owner has the index open, its newest commits live in index.sqlite-wal; before, the
    reader opened the index immutable, so it missed them (and rescanned every experiment's files)."""
    from machinable.storage.filesystem import Filesystem

    owner = Filesystem({"directory": os.path.join(shared, "storage")})
    with owner:
        get("counter", {"n": 3}).launch()
    assert os.path.getsize(os.path.join(shared, "storage", "index.sqlite-wal")) > 0
    before = snapshot(shared)
    result = as_nobody(sys.executable, "-c", READER, cwd=shared)
    after = snapshot(shared)
    owner.index.close()
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["found"] == 3 and out["index"] == "Index"
    assert after == before


@pytest.fixture
def mounted(project):
    """A project whose storage holds two finished experiments, on a read-only bind mount (root cannot write either)."""
    project.write("counter.py", COUNTER)
    for n in (1, 2):
        get("counter", {"n": n}).launch()
    Storage.current().index.close()
    mount = tempfile.mkdtemp(prefix="machinable-mounted-")
    if subprocess.run(["mount", "--bind", project.path, mount], capture_output=True).returncode != 0:
        os.rmdir(mount)
        pytest.skip("a read-only bind mount needs root (CAP_SYS_ADMIN)")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", mount], check=True, capture_output=True)
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)
        os.rmdir(mount)


def test_a_storage_on_a_read_only_mount_is_read_by_root_too(mounted):
    """os.access() says yes to root on a read-only mount; writes are tried for real and fail clearly first."""
    before = snapshot(mounted)
    result = subprocess.run([sys.executable, "-c", READER], cwd=mounted, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["status"] == "finished" and out["found"] == 2 and out["served"] == [200, 2] and out["index"] == "Index"
    assert out["write"].startswith(f"Storage directory {mounted}/storage is not writable (Read-only file system")
    assert snapshot(mounted) == before
