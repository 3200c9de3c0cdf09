"""SPEC §1, §6: module convention, storage layout, data files, index rebuild."""

import errno
import json
import os
import sqlite3
import time

import pytest

from machinable import Project, Storage, get
from machinable.errors import (
    CorruptMetadata, ElementNotFound, ModuleNotFound, StateError, StorageError, UnsafePath, UnsupportedFormat,
)
from machinable.storage import files


def test_default_layout(project):
    experiment = get("estimate_gravity").launch()
    group = time.strftime("%Y_%U_%a", time.localtime(experiment.timestamp))
    assert experiment.local_directory() == os.path.join(project.storage, group, experiment.experiment_id)
    names = set(os.listdir(experiment.local_directory()))
    assert {"experiment.json", "status.json", "output.log", "executions"} <= names
    meta = json.load(open(experiment.local_directory("experiment.json")))
    assert meta["module"] == "estimate_gravity" and meta["config"] == {"time_dilation": 1.0, "verbose": True}
    assert meta["seed"] == experiment.seed and meta["experiment_id"] == experiment.experiment_id
    assert os.path.exists(os.path.join(project.storage, "index.sqlite"))


def test_group_as_and_default_group(project):
    experiment = get("estimate_gravity").group_as("%Y/lab-reports").commit()
    assert experiment.local_directory() == os.path.join(
        project.storage, time.strftime("%Y"), "lab-reports", experiment.experiment_id
    )
    with pytest.raises(StateError):
        experiment.group_as("other")
    with get("machinable.storage.filesystem", {"directory": "./other", "default_group": "runs"}):
        in_other = get("estimate_gravity", {"time_dilation": 9}).commit()
    assert in_other.local_directory() == os.path.join(project.path, "other", "runs", in_other.experiment_id)
    from machinable.errors import ValidationError

    with pytest.raises(ValidationError, match="relative path"):
        get("estimate_gravity", {"time_dilation": 3}).group_as("../outside").commit()


def test_storage_contexts_nest_and_restore(project):
    outer = get("machinable.storage.filesystem", {"directory": "./outer"})
    inner = get("machinable.storage.filesystem", {"directory": "./inner"})
    with outer:
        assert Storage.current() is outer
        with inner:
            assert Storage.current() is inner
            get("estimate_gravity").launch()
        assert Storage.current() is outer
        assert not get("estimate_gravity").is_committed()
    assert Storage.current().root == project.storage
    with inner:
        assert get("estimate_gravity").is_finished()


def test_local_directory(project):
    experiment = get("estimate_gravity")
    with pytest.raises(StateError, match="not committed"):
        experiment.local_directory()
    experiment.commit()
    path = experiment.local_directory("plots", "a", create=True)
    assert os.path.isdir(path) and path.startswith(experiment.local_directory())
    with pytest.raises(UnsafePath):
        experiment.local_directory("..", "escape")


def test_save_and_load_data_formats(project):
    numpy = pytest.importorskip("numpy")
    experiment = get("estimate_gravity").commit()
    experiment.save_data("note.txt", "hello")
    experiment.save_data("nested/metrics.json", {"a": [1, 2]})
    experiment.save_data("array.npy", numpy.arange(4))
    experiment.save_data("object.p", {"set": {1, 2}})
    experiment.save_data("object.pkl", (1, "two"))
    assert experiment.load_data("note.txt") == "hello"
    assert experiment.load_data("nested/metrics.json") == {"a": [1, 2]}
    assert experiment.load_data("array.npy").tolist() == [0, 1, 2, 3]
    assert experiment.load_data("object.p") == {"set": {1, 2}}
    assert experiment.load_data("object.pkl") == (1, "two")
    assert experiment.load_data("missing.json") is None
    assert experiment.load_data("missing.json", default={}) == {}
    assert sorted(os.listdir(experiment.local_directory("data"))) == ["array.npy", "nested", "note.txt", "object.p", "object.pkl"]


def test_unsupported_format_and_unsafe_paths_are_refused_before_writing(project, tmp_path_factory):
    experiment = get("estimate_gravity").commit()
    with pytest.raises(UnsupportedFormat, match=r"\.csv.*\.txt, \.json, \.npy, \.p, \.pkl"):
        experiment.save_data("table.csv", "a,b")
    with pytest.raises(UnsafePath, match="'..'"):
        experiment.save_data("../escape.json", {})
    with pytest.raises(UnsafePath):
        experiment.save_data("/tmp/escape.json", {})
    outside = tmp_path_factory.mktemp("outside")
    os.makedirs(experiment.local_directory("data"), exist_ok=True)
    os.symlink(outside, experiment.local_directory("data", "link"))
    with pytest.raises(UnsafePath, match="symbolic link"):
        experiment.save_data("link/escape.json", {})
    assert os.listdir(outside) == []
    assert not os.path.exists(os.path.join(project.path, "escape.json"))


def test_failed_write_keeps_the_old_file(project, monkeypatch):
    experiment = get("estimate_gravity").commit()
    experiment.save_data("result.json", {"version": 1})

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", disk_full)
    with pytest.raises(StorageError, match="No space left on device; the previous file is unchanged"):
        experiment.save_data("result.json", {"version": 2})
    monkeypatch.undo()
    assert experiment.load_data("result.json") == {"version": 1}
    assert [n for n in os.listdir(experiment.local_directory("data")) if n.startswith(".tmp")] == []


def test_index_deleted_then_rebuilt_finds_every_experiment(project):
    configs = [{"time_dilation": float(i)} for i in range(1, 6)]
    ids = [get("estimate_gravity", c).launch().experiment_id for c in configs]
    get("estimate_gravity", {"time_dilation": 7}).group_as("custom/deep").commit()
    os.unlink(os.path.join(project.storage, "index.sqlite"))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.path.join(project.storage, "index.sqlite" + suffix)):
            os.unlink(os.path.join(project.storage, "index.sqlite" + suffix))
    assert project.run(
        "from machinable import Storage\nprint(Storage.current().rebuild_index())"
    ).stdout.strip() == "6"
    found = project.run(
        "from machinable import get\n"
        f"print(' '.join(get('estimate_gravity', c).experiment_id for c in {configs!r}))\n"
        "print(get('estimate_gravity', {'time_dilation': 7}).is_committed())"
    ).stdout.split("\n")
    assert found[0].split() == ids and found[1] == "True"


def test_missing_index_is_rebuilt_automatically(project):
    ids = [get("estimate_gravity", {"time_dilation": i}).commit().experiment_id for i in range(3)]
    os.unlink(os.path.join(project.storage, "index.sqlite"))
    result = project.run(
        "from machinable import get\n"
        "print(' '.join(get('estimate_gravity', {'time_dilation': i}).experiment_id for i in range(3)))"
    )
    assert result.stdout.split() == ids


def test_corrupt_index_and_metadata_give_clear_errors(project):
    experiment = get("estimate_gravity").commit()
    with open(experiment.local_directory("experiment.json"), "w") as f:
        f.write('{"experiment_id": "abc", "mod')
    with pytest.raises(CorruptMetadata, match="experiment.json is corrupt.*machinable index rebuild"):
        get("estimate_gravity")
    index = os.path.join(project.storage, "index.sqlite")
    with open(index, "wb") as f:
        f.write(b"this is not a database" * 10)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(index + suffix):
            os.unlink(index + suffix)
    result = project.run("from machinable import get\nget('estimate_gravity')", check=False)
    assert result.returncode == 1
    assert "IndexCorrupt" in result.stderr and "machinable index rebuild" in result.stderr


def test_newer_index_schema_is_refused(project):
    get("estimate_gravity").commit()
    with sqlite3.connect(os.path.join(project.storage, "index.sqlite")) as db:
        db.execute("PRAGMA user_version = 99")
    result = project.run("from machinable import get\nget('estimate_gravity')", check=False)
    assert "schema version 99" in result.stderr and "Upgrade machinable" in result.stderr


def test_get_has_no_side_effects(project):
    experiment = get("estimate_gravity", {"time_dilation": 2})
    assert experiment.experiment_id and not os.path.exists(project.storage)


def test_module_convention_errors(project):
    with pytest.raises(ModuleNotFound, match=r"looked for nope\.py and nope/__init__\.py"):
        get("nope")
    project.write("empty.py", "import math\n")
    with pytest.raises(ElementNotFound, match="defines no Element subclass"):
        get("empty")
    project.write("two.py", "from machinable import Experiment\nclass A(Experiment): pass\nclass B(Experiment): pass\n")
    with pytest.raises(ElementNotFound, match="several .*: A, B"):
        get("two")
    project.write("imports_only.py", "from estimate_gravity import EstimateGravity\n")
    with pytest.raises(ElementNotFound, match="imported classes do not count"):
        get("imports_only")
    with pytest.raises(ModuleNotFound, match="built-in"):
        get("machinable.execution.nope")


def test_nested_modules_and_project_context(project, tmp_path_factory):
    project.write("evolution/simulate_offspring.py", '''
        from machinable import Experiment

        class SimulateOffspring(Experiment):
            def on_execute(self):
                print("offspring")
    ''')
    assert get("evolution.simulate_offspring").launch().is_finished()
    other = tmp_path_factory.mktemp("other_project")
    (other / "estimate_gravity.py").write_text("from machinable import Experiment\nclass Other(Experiment):\n    pass\n")
    with Project(other):
        assert type(get("estimate_gravity")).__name__ == "Other"
    assert type(get("estimate_gravity")).__name__ == "EstimateGravity"
