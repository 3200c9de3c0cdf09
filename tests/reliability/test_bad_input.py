"""SPEC §12: every bad input gets a clear error (checked word for word where it matters),
raised before any side effect, and nothing stored is lost or half-written.

`unchanged(project)` snapshots every file of the project and its storage (but the SQLite
index, which readers touch) and checks that the rejected call changed nothing.
"""

import contextlib
import errno
import gc
import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from machinable import Experiment, get
from machinable.cli import cli
from machinable.errors import (
    CorruptMetadata, ElementNotFound, ModuleNotFound, StorageError, UnsafePath, UnsupportedFormat,
    ValidationError,
)
from machinable.storage import files
from machinable.storage.index import SCHEMA_VERSION

TRAIN = '''
from dataclasses import dataclass, field

from machinable import Experiment


@dataclass
class Optimizer:
    lr: float = 0.1
    momentum: float = 0.9


class Train(Experiment):
    @dataclass
    class Config:
        epochs: int = 10
        optimizer: Optimizer = field(default_factory=Optimizer)

    def version_broken(self):
        return 3
'''

REQUIRED = '''
from machinable import Experiment


class Needs(Experiment):
    class Config:
        alpha: float
'''


def snapshot(root) -> dict:
    found = {}
    for current, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in dirs:
            found[os.path.relpath(os.path.join(current, name), root)] = "directory"
        for name in names:
            if not name.startswith("index.sqlite"):
                stat = os.lstat(os.path.join(current, name))
                found[os.path.relpath(os.path.join(current, name), root)] = (stat.st_size, stat.st_mtime_ns)
    return found


@contextlib.contextmanager
def unchanged(root):
    before = snapshot(root)
    yield
    after = snapshot(root)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}


def cli_error(*args, code=1) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="machinable")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def stored(project):
    """A project with train.py and needs.py and one finished experiment in its storage."""
    project.write("train.py", TRAIN)
    project.write("needs.py", REQUIRED)
    project.write("empty.py", "import math\n")
    project.write("two.py", "from machinable import Experiment\nclass A(Experiment): pass\nclass B(Experiment): pass\n")
    project.write("imports_only.py", "from train import Train\n")
    project.write("syntax.py", "from machinable import Experiment\nclass A(Experiment)\n    pass\n")
    project.finished = get("train", {"epochs": 1}).launch()
    return project


# --- modules -----------------------------------------------------------------------------------

MODULES = [
    ("nope", ModuleNotFound, r"No module 'nope' in project .*: looked for nope\.py and nope/__init__\.py there"),
    ("evolution.nope", ModuleNotFound, r"looked for evolution/nope\.py and evolution/nope/__init__\.py"),
    ("a-b", ModuleNotFound, r"'a-b' is not a module name: use dotted Python identifiers"),
    ("../train", ModuleNotFound, r"is not a module name"),
    ("a..b", ModuleNotFound, r"is not a module name"),
    ("", ModuleNotFound, r"is not a module name"),
    ("machinable.execution.nope", ModuleNotFound, r"machinable has no built-in module 'machinable.execution.nope' \(built-ins:"),
    ("empty", ElementNotFound, r"Module 'empty' \(.*empty\.py\) defines no Element subclass\. Define one class there"),
    ("imports_only", ElementNotFound, r"defines no Element subclass.*imported classes do not count"),
    ("two", ElementNotFound, r"Module 'two' \(.*two\.py\) defines several Element classes: A, B\. Keep one element class per module"),
    ("syntax", SyntaxError, r"expected ':'"),
]


@pytest.mark.parametrize("module, error, message", MODULES, ids=[m[0] or "empty-name" for m in MODULES])
def test_bad_module(stored, module, error, message):
    with unchanged(stored.path), pytest.raises(error, match=message):
        get(module)
    if error is not SyntaxError and module:
        with unchanged(stored.path):
            output = cli_error("get", module, "--launch")
        assert f"{error.__name__}: " in output


# --- configuration -----------------------------------------------------------------------------

CONFIGS = [
    ("train", {"epoch": 2}, r"'epoch' is not a config key — did you mean 'epochs'\? \(valid keys: epochs, optimizer\)"),
    ("train", {"optimizer.lrr": 0.2}, r"'optimizer.lrr' is not a config key — did you mean 'optimizer.lr'\?"),
    ("train", {"optimizer": {"momentun": 0.2}}, r"did you mean 'optimizer.momentum'\?"),
    ("train", {"zzz": 1}, r"'zzz' is not a config key \(valid keys: epochs, optimizer\)"),
    ("train", {"epochs": "ten"}, r"'epochs' expects int, got 'ten' \(str\)"),
    ("train", {"epochs": 2.5}, r"'epochs' expects int, got 2.5 \(float\)"),
    ("train", {"epochs": [1]}, r"'epochs' expects int, got \[1\] \(list\)"),
    ("train", {"optimizer": {"lr": "x"}}, r"'optimizer.lr' expects float, got 'x' \(str\)"),
    ("train", {"optimizer.lr": None}, r"'optimizer.lr' expects float, got None \(NoneType\)"),
    ("train", {"optimizer": 3}, r"'optimizer' expects Optimizer, got 3 \(int\)"),
    ("needs", {}, r"'alpha' is required but was not given"),
    ("needs", {"alpha": "many"}, r"'alpha' expects float, got 'many'"),
    ("train", 42, r"Invalid version 42: a version is a dict of config values"),
    ("train", "~missing", r"calls Train.version_missing\(\), which is not defined"),
    ("train", "~broken", r"Train.version_broken\(\) must return a dict, got int"),
    ("train", {1: 2}, r"Config keys must be strings, got 1"),
]


@pytest.mark.parametrize("module, version, message", CONFIGS)
def test_bad_config(stored, module, version, message):
    with unchanged(stored.path):
        with pytest.raises(ValidationError, match=message):
            get(module, version).launch()
        with pytest.raises(ValidationError, match=message):  # direct instantiation: lazy, but before any side effect
            Experiment.make(module, version).launch()


CLI_CONFIGS = [
    (["train", "epoch=2"], "did you mean 'epochs'?"),
    (["train", "optimizer.lrr=0.2"], "did you mean 'optimizer.lr'?"),
    (["train", "epochs=ten"], "'epochs' expects int, got 'ten' (str)"),
    (["train", "optimizer.lr=x"], "'optimizer.lr' expects float, got 'x' (str)"),
    (["train", "~missing"], "version_missing(), which is not defined"),
]


@pytest.mark.parametrize("args, message", CLI_CONFIGS, ids=[" ".join(a) for a, _ in CLI_CONFIGS])
def test_bad_config_on_the_command_line(stored, args, message):
    with unchanged(stored.path):
        output = cli_error("get", *args, "--launch")
    assert "ValidationError: " in output and message in output


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed must be an integer between 0 and 2**32 - 1, got -1."),
    ({"seed": 2**32}, "got 4294967296."),
    ({"seed": "7"}, "got '7'."),
    ({"seed": True}, "got True."),
    ({"seed": 1.0}, "got 1.0."),
])
def test_bad_seed(stored, kwargs, message):
    with unchanged(stored.path), pytest.raises(ValidationError) as info:
        get("train", {"epochs": 2}, **kwargs).launch()
    assert message in str(info.value)


@pytest.mark.parametrize("pattern", ["../outside", "a//b", "a/../../b", "..", "%Y/../..", "/"])
def test_bad_group(stored, pattern):
    with unchanged(stored.path), pytest.raises(ValidationError, match="must be a relative path without '..' or empty parts"):
        get("train", {"epochs": 3}).group_as(pattern).launch()


MALFORMED = [
    ("epochs", "it has no '='"),
    ("=2", "the key before '=' is empty"),
    (" =2", "the key before '=' is empty"),
    ("a..b=1", "the key 'a..b' has an empty part or whitespace"),
    (".epochs=1", "the key '.epochs' has an empty part or whitespace"),
    ("epochs.=1", "the key 'epochs.' has an empty part or whitespace"),
    (" epochs=1", "the key ' epochs' has an empty part or whitespace"),
    ("ep ochs=1", "the key 'ep ochs' has an empty part or whitespace"),
    ("~", "a version name is '~' followed by a Python identifier"),
    ("~1fast", "a version name is '~' followed by a Python identifier"),
    ("~fa-st", "a version name is '~' followed by a Python identifier"),
]


@pytest.mark.parametrize("arg, problem", MALFORMED, ids=[a for a, _ in MALFORMED])
def test_malformed_key_value_on_the_command_line(stored, arg, problem):
    with unchanged(stored.path):
        output = cli_error("get", "train", arg, "--launch", code=2)
    assert f"Invalid argument '{arg}': {problem}" in output and "Expected key=value" in output


MALFORMED_WHERE = [
    ("epochs", "expected an operator after 'epochs'"),
    ("=1", "expected a key at position 0, found '='"),
    ("a..b=1", "expected a key at position 2, found '.'"),
    ("epochs<", "'epochs<' has no value after '<'"),
    ("epochs=>1", "unknown operator '=>' after 'epochs'"),
]


@pytest.mark.parametrize("condition, problem", MALFORMED_WHERE, ids=[c for c, _ in MALFORMED_WHERE])
def test_malformed_where_on_the_command_line(stored, condition, problem):
    output = cli_error("list", "train", "--where", condition, code=2)
    assert f"Cannot read the condition '{condition}': {problem}" in " ".join(output.split()) and "Write e.g." in output


# --- data files --------------------------------------------------------------------------------

UNSUPPORTED = ["table.csv", "notes", "rows.jsonl", "result.txt.bak", "image.JPG", "model.h5", "archive.tar.gz", "x."]


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_unsupported_data_extension(stored, name):
    experiment = stored.finished
    ext = os.path.splitext(name)[1].lower() or "(none)"
    with unchanged(stored.path):
        for call in (lambda: experiment.save_data(name, "x"), lambda: experiment.load_data(name)):
            with pytest.raises(UnsupportedFormat) as info:
                call()
            assert f"unsupported extension {ext!r}" in str(info.value)
            assert "Use one of .txt, .json, .npy, .p, .pkl" in str(info.value)


UNSAFE = ["../escape.json", "a/../../escape.json", "../../../../tmp/escape.txt", "..\\escape.json", "/tmp/escape.json",
          "//tmp/escape.json", "data/../../escape.p"]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_data_path(stored, name):
    experiment = stored.finished
    with unchanged(stored.path):
        for call in (lambda: experiment.save_data(name, "x"), lambda: experiment.load_data(name)):
            with pytest.raises(UnsafePath, match="would leave the experiment directory .*: use a relative name without '..'"):
                call()
    assert not os.path.exists("/tmp/escape.json") and not os.path.exists("/tmp/escape.txt")


def test_symlinks_out_of_the_experiment_directory(stored, tmp_path_factory):
    experiment = stored.finished
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.json").write_text('{"secret": 1}')
    os.makedirs(experiment.local_directory("data"), exist_ok=True)
    os.symlink(outside, experiment.local_directory("data", "linked_dir"))
    os.symlink(outside / "secret.json", experiment.local_directory("data", "linked.json"))
    os.symlink(outside, experiment.local_directory("linked_scope_dir"))
    with unchanged(stored.path), unchanged(outside):
        for call in (
            lambda: experiment.save_data("linked_dir/escape.json", {}),
            lambda: experiment.load_data("linked_dir/secret.json"),
            lambda: experiment.save_data("linked.json", {"overwritten": True}),
            lambda: experiment.load_data("linked.json"),
            lambda: experiment.local_directory("linked_scope_dir", "x"),
        ):
            with pytest.raises(UnsafePath, match=r"resolves to .*outside the experiment directory .*symbolic link"):
                call()
        for scope in ("../../escape", "/abs"):
            with pytest.raises(UnsafePath):
                experiment.record(scope)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(["..", ".", "a", "b", "", "/", "\\", "data", "x.json"]), min_size=1, max_size=6))
def test_any_data_name_stays_inside_or_is_refused(stored, parts):
    experiment = stored.finished
    name = "".join(parts)
    root = os.path.realpath(experiment.local_directory())
    try:
        path = experiment.save_data(name, {"v": 1})
    except (UnsafePath, UnsupportedFormat, StorageError, IsADirectoryError):
        return
    assert os.path.realpath(path).startswith(root + os.sep), name


# --- corrupt or missing metadata ---------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b'{"experiment_id": "abc", "mod', b"\x00\xff garbage", b"[1, 2"])
def test_corrupt_experiment_json(stored, content):
    experiment = stored.finished
    path = experiment.local_directory("experiment.json")
    with open(path, "wb") as f:
        f.write(content)
    message = rf"Metadata file {path} is corrupt .*machinable index rebuild"
    with unchanged(stored.path):
        with pytest.raises(CorruptMetadata, match=message):
            get("train", {"epochs": 1})
        with pytest.raises(CorruptMetadata, match=message):
            Experiment.find_by_id(experiment.experiment_id)
        for args in (["show", experiment.experiment_id], ["get", "train", "epochs=1"]):
            output = cli_error(*args)
            assert "CorruptMetadata: Metadata file" in output and "experiment.json is corrupt" in output
        output = cli_error("list", code=0)  # listed as unreadable (tests/reliability/test_damaged_storage.py)
        assert f"Unreadable: Metadata file {path} is corrupt" in output and "remove" not in output


def test_corrupt_status_and_execution_records(stored):
    experiment = stored.finished
    status = experiment.local_directory("status.json")
    records = [name for name in os.listdir(experiment.local_directory("executions")) if name.endswith(".json")]
    execution = os.path.join(experiment.local_directory("executions"), records[0])
    for path, read in ((status, lambda: experiment.status), (execution, lambda: experiment.executions)):
        with open(path, "rb") as f:
            good = f.read()
        with open(path, "wb") as f:
            f.write(good[: len(good) // 2])
        message = rf"Status file {path} .* is corrupt .*Restore the file" if path == status else rf"Metadata file {path} is corrupt .*index rebuild"
        with unchanged(stored.path), pytest.raises(CorruptMetadata, match=message):
            read()
        with open(path, "wb") as f:
            f.write(good)


def test_deleted_experiment_json(stored):
    experiment = stored.finished
    path = experiment.local_directory("experiment.json")
    os.unlink(path)
    with unchanged(stored.path), pytest.raises(CorruptMetadata, match=rf"Metadata file {path} is missing.*machinable index rebuild"):
        Experiment.find_by_id(experiment.experiment_id)


# --- the index ---------------------------------------------------------------------------------


def index_path(project) -> str:
    return os.path.join(project.storage, "index.sqlite")


def close_index():
    from machinable import Storage

    Storage.current().index.close()


def ids_in_new_process(project) -> list:
    return project.run(
        "from machinable import get\nprint(*(get('train', {'epochs': i}).experiment_id for i in range(1, 4)))\n"
        "print(*(get('train', {'epochs': i}).status for i in range(1, 4)))"
    ).stdout.split("\n")[:2]


@pytest.fixture
def three(stored):
    for epochs in (2, 3):
        get("train", {"epochs": epochs}).launch()
    close_index()
    expected = [" ".join(get("train", {"epochs": i}).experiment_id for i in range(1, 4)), "finished finished finished"]
    close_index()
    stored.expected = expected
    return stored


@pytest.mark.parametrize("damage", ["deleted", "deleted-keeping-wal", "emptied"])
def test_index_deleted_or_emptied_is_rebuilt_on_open_with_nothing_lost(three, damage):
    path = index_path(three)
    if damage == "emptied":
        os.truncate(path, 0)
    else:
        os.unlink(path)
        if damage == "deleted":
            for suffix in ("-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
    with unchanged(three.storage):
        assert ids_in_new_process(three) == three.expected


@pytest.mark.parametrize("damage", ["truncated-half", "truncated-header", "garbage", "table-dropped", "newer-schema"])
def test_index_damaged_gives_a_clear_error_and_rebuild_recovers_everything(three, damage):
    path = index_path(three)
    for suffix in ("-wal", "-shm"):
        assert not os.path.exists(path + suffix)  # checkpointed when closed
    if damage.startswith("truncated"):
        os.truncate(path, os.path.getsize(path) // 2 if damage == "truncated-half" else 100)
    elif damage == "garbage":
        with open(path, "wb") as f:
            f.write(b"not a database " * 500)
    else:
        with sqlite3.connect(path) as db:
            db.execute("DROP TABLE experiments" if damage == "table-dropped" else "PRAGMA user_version = 99")
        sqlite3.connect(path).close()
    with unchanged(three.storage):
        result = three.run("from machinable import get\nget('train', {'epochs': 1}).launch()", check=False)
    assert result.returncode == 1 and "Traceback" in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    if damage == "newer-schema":  # a subclass of IndexCorrupt
        assert message.startswith("machinable.storage.index.NewerIndex: The index " + path)
        assert f"schema version 99, newer than this machinable understands ({SCHEMA_VERSION}). Upgrade machinable" in message
    else:
        assert message.startswith("machinable.errors.IndexCorrupt: The index " + path)
        assert "cannot be read" in message and "run `machinable index rebuild`" in message
    rebuilt = subprocess.run(
        [sys.executable, "-m", "machinable", "index", "rebuild"], cwd=three.path, capture_output=True, text=True
    )
    if damage == "newer-schema":  # not ours to overwrite: the error stands until machinable is upgraded
        assert rebuilt.returncode == 1 and "Upgrade machinable" in rebuilt.stderr
        return
    assert rebuilt.returncode == 0 and "Indexed 3 experiments" in rebuilt.stdout, rebuilt.stderr
    assert ids_in_new_process(three) == three.expected


# --- storage that cannot be written -------------------------------------------------------------


def assert_not_writable(project, directory, message, cli_message="StorageError: ", cli_code=1):
    """Using `directory` as storage fails before any side effect, in Python and on the CLI."""
    with unchanged(project.path):
        with get("machinable.storage.filesystem", {"directory": directory}) as storage:
            with pytest.raises(StorageError, match=message):
                get("train", {"epochs": 5}).launch()
            storage.__dict__.get("_index") and storage.index.close()
        output = cli_error("--storage", directory, "get", "train", "epochs=5", "--launch", code=cli_code)
        assert cli_message in output


def test_storage_path_is_a_file(stored):
    path = os.path.join(stored.path, "a-file")
    with open(path, "w") as f:
        f.write("x")
    assert_not_writable(
        stored, path, r"Storage directory .*a-file is a file, not a directory\. Move the file or choose another",
        cli_message="Directory '" + path + "' is a file.", cli_code=2,
    )
    assert_not_writable(stored, os.path.join(path, "storage"), r"Storage directory .*a-file/storage is not writable \(Not a directory")


def test_storage_under_proc(stored):
    assert_not_writable(stored, "/proc/machinable-storage", r"Storage directory /proc/machinable-storage is not writable \(")


def unmount(target):
    """Unmount `target`; lazily if something still holds it, so no mount outlives the test."""
    gc.collect()  # connections of storages that are gone
    if subprocess.run(["umount", target], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", target], check=True)


@contextlib.contextmanager
def read_only_bind_mount(source):
    target = source + "-ro"
    os.makedirs(target)
    if subprocess.run(["mount", "--bind", "-o", "ro", source, target], capture_output=True).returncode != 0:
        os.rmdir(target)
        pytest.skip("bind mounts are not permitted here")
    try:
        yield target
    finally:
        unmount(target)
        os.rmdir(target)


def test_storage_on_a_read_only_mount(stored):
    close_index()
    with read_only_bind_mount(stored.storage) as storage:
        assert_not_writable(stored, os.path.join(storage, "new"), r"Storage directory .*/new is not writable \(Read-only file system")
        with unchanged(stored.path), get("machinable.storage.filesystem", {"directory": storage}):
            assert get("train", {"epochs": 1}).is_finished()  # reading needs no write access (test_read_only_storage.py)
            with pytest.raises(StorageError, match=r"Storage directory .* is not writable \(Read-only file system"):
                get("train", {"epochs": 2}).launch()


def test_storage_directory_immutable(stored):
    directory = os.path.join(stored.path, "immutable")
    os.makedirs(directory)
    if subprocess.run(["chattr", "+i", directory], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        assert_not_writable(stored, directory, r"Storage directory .*immutable is not writable \(Operation not permitted")
    finally:
        subprocess.run(["chattr", "-i", directory], check=True)


# --- disk full ---------------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_tmpfs(directory, size="512k"):
    os.makedirs(directory)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield directory
    finally:
        unmount(directory)


def fill(directory) -> str:
    filler = os.path.join(directory, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_disk_full_during_save_data_and_records_keeps_what_was_saved(stored):
    with tiny_tmpfs(os.path.join(stored.path, "small")) as small, get("machinable.storage.filesystem", {"directory": small}):
        experiment = get("train", {"epochs": 9}).launch()
        experiment.save_data("result.json", {"version": 1})
        record = experiment.record()
        record.save(step=0)
        filler = fill(small)
        data = experiment.local_directory("data")
        with unchanged(data):
            with pytest.raises(StorageError, match=r"Cannot write .*result.json: No space left on device; the previous file is unchanged"):
                experiment.save_data("result.json", {"version": 2, "pad": "x" * 100_000})
        assert experiment.load_data("result.json") == {"version": 1}
        with pytest.raises(StorageError, match=r"Cannot save the record to .*default.jsonl"):
            for step in range(1, 100_000):  # the page with room for row 0 may hold a few more
                record.save(step=step, pad="x" * 1000)
        os.unlink(filler)
        record.save(step=-1)  # space again: the next row starts on its own line
        steps = experiment.records().pluck("step")
        assert steps[0] == 0 and steps[-1] == -1 and steps[:-1] == list(range(len(steps) - 1))


def test_injected_disk_full_while_writing_keeps_the_old_file(stored, monkeypatch):
    experiment = stored.finished
    experiment.save_data("result.json", {"version": 1})
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with unchanged(experiment.local_directory("data")):
        with pytest.raises(StorageError, match="No space left on device; the previous file is unchanged"):
            experiment.save_data("result.json", {"version": 2})
    monkeypatch.undo()
    assert experiment.load_data("result.json") == {"version": 1}


def test_injected_disk_full_while_reserving_record_space_is_reported(stored, monkeypatch):
    from machinable import records

    experiment = stored.finished
    record = experiment.record("scope")
    record.save(step=0)
    monkeypatch.setattr(records.Record, "CHUNK", 4096)

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(records.os, "posix_fallocate", full)
    with pytest.raises(StorageError, match="No space left on device while reserving space; the row was not saved"):
        for step in range(1, 10_000):  # until the reserved window is used up
            record.save(step=step, pad="x" * 100)
    failed_at = step
    monkeypatch.undo()
    record.save(step=-1)
    record.close()
    assert experiment.records("scope").pluck("step") == list(range(failed_at)) + [-1]
