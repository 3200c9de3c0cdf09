"""Issue 8: one damaged experiment never hides the others, is never run again silently, and a
stale or missing index with damage in it still finds everything that can be read.

Each test reproduces a failure of before the fix (named in its docstring).
"""

import json
import os
import shutil
import sqlite3
import time
import warnings

import pytest
from click.testing import CliRunner

from machinable import Experiment, Storage, find, get
from machinable.cli import cli
from machinable.errors import CorruptMetadata

COUNTER = '''
from dataclasses import dataclass

from machinable import Experiment


class Counter(Experiment):
    @dataclass
    class Config:
        n: int = 0

    def on_execute(self):
        with open("runs.log", "a") as f:
            f.write(f"{self.config.n}\\n")
'''


def runs(project) -> list:
    path = os.path.join(project.path, "runs.log")
    return open(path).read().split() if os.path.exists(path) else []


@pytest.fixture
def three(project):
    project.write("counter.py", COUNTER)
    project.experiments = [get("counter", {"n": n}).launch() for n in range(3)]
    Storage.current().index.close()
    return project


DAMAGE = {
    "status-empty": ("status.json", b"", "Expecting value"),
    "status-garbage": ("status.json", b"\x00\xff{not json", "can't decode"),
    "status-list": ("status.json", b"[1, 2]", "it holds a JSON list, not an object"),
    "status-string": ("status.json", b'"finished"', "it holds a JSON str, not an object"),
    "metadata-empty-object": ("experiment.json", b"{}", "the field 'experiment_id' is missing"),
    "metadata-bad-version": ("experiment.json", "version", "the field 'version' is 'fast', not a list"),
}


def damage(experiment, kind: str) -> str:
    name, content, _ = DAMAGE[kind]
    path = experiment.local_directory(name)
    if content == "version":
        metadata = json.load(open(path))
        metadata["version"] = "fast"
        content = json.dumps(metadata).encode()
    with open(path, "wb") as f:
        f.write(content)
    return path


def run_cli(*args, code=0) -> str:
    result = CliRunner().invoke(cli, list(args), prog_name="machinable")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("kind", DAMAGE)
def test_one_damaged_experiment_is_listed_as_unreadable_and_the_others_are_shown(three, kind):
    """Before: find() and `machinable list` aborted, /api/experiments answered 500 (the dashboard
    list empty for everyone), or a raw KeyError."""
    from machinable.ui import api

    damaged, *others = three.experiments
    path = damage(damaged, kind)
    reason = DAMAGE[kind][2]
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        found = find("counter")
    assert sorted(e.experiment_id for e in found) == sorted(e.experiment_id for e in others)
    [entry] = found.unreadable
    assert entry.file == path and reason in entry.reason and entry.directory == damaged.local_directory()

    output = run_cli("list")
    assert "2 experiments, 1 unreadable" in output and "Unreadable: " in output and path in output
    listed = json.loads(run_cli("list", "--json"))
    assert [e["status"] for e in listed].count("unreadable") == 1
    assert {e["id"] for e in listed} == {e.experiment_id for e in three.experiments}

    data = api.list_experiments(Storage.current(), {})
    assert sorted(e["id"] for e in data["experiments"]) == sorted(e.experiment_id for e in others)
    [unreadable] = data["unreadable"]
    assert unreadable["id"] == damaged.experiment_id and unreadable["file"] == path and reason in unreadable["reason"]

    # one opening for all readers: the detail, `show` and find_by_id name the same file and reason
    response = api.route(Storage.current(), ["experiments", damaged.experiment_id], {})
    assert response.status == 500 and path in json.loads(response.body)["error"]
    assert path in run_cli("show", damaged.experiment_id, code=1)
    with pytest.raises(CorruptMetadata) as info:
        Experiment.find_by_id(damaged.experiment_id)
    assert info.value.path == path
    for message in (str(info.value), output, unreadable["error"]):
        assert "remove" not in message and "delete" not in message.lower()


@pytest.mark.parametrize("kind", ["status-empty", "status-list", "status-string"])
def test_a_finished_experiment_with_a_damaged_status_is_never_run_again_silently(three, kind):
    """Before: a `[1,2]` status.json made a finished experiment run a second time."""
    experiment = three.experiments[0]
    path = damage(experiment, kind)
    assert runs(three) == ["0", "1", "2"]
    for launch in (lambda: get("counter", {"n": 0}).launch(), lambda: Experiment.find_by_id(experiment.experiment_id)()):
        with pytest.raises(CorruptMetadata, match=rf"Status file {path} .*not run again until this is repaired.*replace its content with {{}}"):
            launch()
    assert runs(three) == ["0", "1", "2"]
    with open(path, "w") as f:  # the documented explicit way to resume it
        f.write("{}")
    get("counter", {"n": 0}).launch()
    assert runs(three) == ["0", "1", "2", "0"]


def test_missing_index_and_a_corrupt_experiment_json_rebuilds_the_rest(three):
    """Before: the automatic rebuild raised, so every get/launch/list/ui failed, and so did
    `machinable index rebuild`."""
    damaged = three.experiments[1]
    path = damage(damaged, "metadata-empty-object")
    os.unlink(os.path.join(three.storage, "index.sqlite"))
    with pytest.warns(RuntimeWarning, match=rf"Not indexed, because it cannot be read: Metadata file {path}"):
        assert get("counter", {"n": 0}).is_finished()
    assert get("counter", {"n": 2}).is_finished()
    Storage.current().index.close()
    os.unlink(os.path.join(three.storage, "index.sqlite"))
    result = CliRunner().invoke(cli, ["index", "rebuild"], prog_name="machinable")
    assert result.exit_code == 0 and "Indexed 2 experiments" in result.output
    assert f"Skipped (cannot be read): Metadata file {path} is corrupt (the field 'experiment_id' is missing)" in result.output


def test_an_index_restored_from_an_older_backup_finds_every_experiment_and_runs_nothing_twice(three):
    """Before: get() of a finished config returned `new` and launch() ran it a second time."""
    index = os.path.join(three.storage, "index.sqlite")
    backup = index + ".backup"
    shutil.copy(index, backup)
    get("counter", {"n": 7}).launch()
    Storage.current().index.close()
    os.replace(backup, index)  # valid, but it does not know experiment n=7
    result = three.run(
        "from machinable import get\ne = get('counter', {'n': 7})\nprint(e.status)\ne.launch()\n"
        "from machinable import Storage\nprint(Storage.current().index.count())"
    )
    assert result.stdout.split() == ["finished", "4"]  # found, and the index brought up to date
    assert runs(three) == ["0", "1", "2", "7"]


def test_commit_is_exact_even_if_the_stale_index_is_not_noticed_on_opening(three):
    """The identity marker is checked under the commit lock, whatever the index says."""
    get("counter", {"n": 7}).launch()
    storage = Storage.current()
    storage.index.remove(get("counter", {"n": 7}).experiment_id)  # the index misses a committed experiment
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = get("counter", {"n": 7})
    assert again.is_finished()
    again.launch()
    assert runs(three) == ["0", "1", "2", "7"]
    assert len(three.experiment_dirs()) == 4


def written_before_identity_markers(storage: str) -> None:
    """Make a storage look as if an earlier machinable wrote it: no markers, an index without state."""
    shutil.rmtree(os.path.join(storage, ".identities"))
    with sqlite3.connect(os.path.join(storage, "index.sqlite")) as db:
        db.execute("DROP TABLE state")


@pytest.mark.parametrize("opening", ["automatic", "machinable index rebuild"])
def test_a_damaged_experiment_keeps_its_index_row_and_is_never_run_again(three, opening):
    """Before: bringing an index up to date (a storage written before identity markers, or an
    explicit rebuild) dropped the row of an experiment whose experiment.json is damaged and gave
    it no marker, so get() returned a new experiment and launch() ran the config a second time."""
    damaged = three.experiments[1]
    identity = json.load(open(damaged.local_directory("experiment.json")))["identity"]
    path = damage(damaged, "metadata-empty-object")
    written_before_identity_markers(three.storage)
    if opening == "machinable index rebuild":
        output = run_cli("index", "rebuild")
        assert "Indexed 2 experiments" in output and f"Skipped (cannot be read): Metadata file {path}" in output
    result = three.run(
        "from machinable import get\n"
        "try:\n    get('counter', {'n': 1}).launch()\nexcept Exception as error:\n    print(type(error).__name__)\n"
        "print(get('counter', {'n': 2}).status)",
        check=False,
    )
    assert result.stdout.split() == ["CorruptMetadata", "finished"], result.stderr
    assert runs(three) == ["0", "1", "2"]
    assert len(three.experiment_dirs()) == 3
    assert os.path.exists(os.path.join(three.storage, ".identities", identity))


def test_concurrent_commits_leave_the_index_synced_with_the_newest_marker(three, monkeypatch):
    """Before: a commit stored the markers' version it read before its transaction, so a commit that
    finished between marking and indexing left an older version behind: the next process to open
    the storage took the index for stale and rescanned every experiment holding the write lock."""
    from machinable.storage.filesystem import Filesystem
    from machinable.storage.index import Index

    add = Index.add
    other = Filesystem({"directory": three.storage})

    def add_after_another_commit(self, *args, **kwargs):
        monkeypatch.setattr(Index, "add", add)
        time.sleep(0.02)  # directory mtimes are as fine as the kernel's clock tick
        with other:
            get("counter", {"n": 8}).launch()  # marked and indexed while the first commit waits
        return add(self, *args, **kwargs)

    monkeypatch.setattr(Index, "add", add_after_another_commit)
    get("counter", {"n": 7}).launch()
    storage = Storage.current()
    assert storage.index.synced() == storage.markers.version()
    assert not storage._is_stale(storage.index)
    other.index.close()


def test_bringing_a_stale_index_up_to_date_lets_other_commits_go_on(three, monkeypatch):
    """Before: a stale index was rebuilt in one write transaction around the scan of every
    experiment's files, so commits of other processes waited (and failed after 30 s on big storages)."""
    from machinable.storage.filesystem import Filesystem

    index = os.path.join(three.storage, "index.sqlite")
    shutil.copy(index, index + ".backup")
    get("counter", {"n": 7}).launch()
    Storage.current().index.close()
    os.replace(index + ".backup", index)
    monkeypatch.setattr(Filesystem, "_defaults", {})  # opened afresh, as by a new process
    scan, writable = Filesystem.scan, []

    def scan_while_another_process_writes(self, on_damaged=None):
        for entry in scan(self, on_damaged):
            db = sqlite3.connect(index, timeout=0)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
                writable.append(True)
            except sqlite3.OperationalError:
                writable.append(False)
            finally:
                db.close()
            yield entry

    monkeypatch.setattr(Filesystem, "scan", scan_while_another_process_writes)
    assert get("counter", {"n": 7}).is_finished()
    assert writable == [True] * 4
    assert Storage.current().index.count() == 4
