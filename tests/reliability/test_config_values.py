"""Issue 8, the config rows: unusual config values and module names never break storing,
finding or importing.

- NaN and ±inf are legitimate values: stored, found (`find(where=)`, `list --where`),
  distinct per value, and never make the index unreadable for other queries.
- A project module named like a stdlib module (`copy`, `json`, `random`, `types`) loads
  without replacing that module in `sys.modules`.
- `get("machinable.__main__")` gives the "no element class" error instead of running the CLI.
- A value that cannot be stored as JSON (huge int, bytes, an object, a lone surrogate,
  5000-deep nesting) gives a `ValidationError` naming the key, before any side effect.
"""

import json
import math
import pickle
import subprocess
import sys

import pytest
from click.testing import CliRunner

from machinable import Storage, find, get
from machinable.cli import cli
from machinable.errors import ElementNotFound, ValidationError

from .test_bad_input import unchanged

VALUES = '''
from dataclasses import dataclass
from typing import Any

from machinable import Experiment


class Values(Experiment):
    @dataclass
    class Config:
        f: float = 1.0
        a: Any = None
'''

NAN, INF = float("nan"), float("inf")


def same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def listed(*args) -> str:
    result = CliRunner().invoke(cli, ["list", *args], prog_name="machinable")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def values(project):
    project.write("values.py", VALUES)
    return project


# --- NaN and infinities --------------------------------------------------------------------------


def test_nan_in_a_float_field_is_stored_found_and_never_poisons_queries(values):
    nan = get("values", {"f": NAN}).launch()
    one = get("values", {"f": 2.0}).launch()
    for _ in range(2):  # then once more from a rebuilt index
        assert [e.experiment_id for e in find("values", where={"f": NAN})] == [nan.experiment_id]
        assert [e.experiment_id for e in find("values", where={"f": 2.0})] == [one.experiment_id]
        assert len(find("values")) == 2
        assert nan.experiment_id in listed("values", "--where", "f=nan")
        assert one.experiment_id not in listed("values", "--where", "f=nan")
        assert one.experiment_id in listed("values", "--where", "f=2")
        again = get("values", {"f": NAN})
        assert again.experiment_id == nan.experiment_id and again.is_finished()
        assert math.isnan(again.config.f)
        Storage.current().rebuild_index()


@pytest.mark.parametrize("field", ["f", "a"])
def test_nan_and_infinities_are_kept_and_are_different_experiments(values, field):
    given = [NAN, INF, -INF, 0.0] + ([None] if field == "a" else [])
    launched = [get("values", {field: value}).launch() for value in given]
    assert len({e.experiment_id for e in launched}) == len(given)
    for value, experiment in zip(given, launched):
        again = get("values", {field: value})
        assert again.experiment_id == experiment.experiment_id
        assert same(again.config[field], value), (again.config[field], value)
        assert [e.experiment_id for e in find("values", where={field: value})] == [experiment.experiment_id]


def test_a_stored_string_that_looks_like_the_index_encoding_is_not_a_number(values):
    from machinable.storage.index_rows import encode

    text = encode({"v": NAN})["v"]  # the index's spelling of NaN, given as a string value
    string = get("values", {"a": text}).launch()
    nan = get("values", {"a": NAN}).launch()
    assert [e.experiment_id for e in find("values", where={"a": text})] == [string.experiment_id]
    assert [e.experiment_id for e in find("values", where={"a": NAN})] == [nan.experiment_id]


def test_an_index_row_reads_back_as_the_config(values):
    get("values", {"f": -INF, "a": [NAN, {"x": INF}]}).launch()
    from machinable.storage.index_rows import decode

    [(text,)] = Storage.current().index.db.execute("SELECT config FROM experiments").fetchall()
    config = decode(json.loads(text))
    assert config["f"] == -INF and math.isnan(config["a"][0]) and config["a"][1] == {"x": INF}


# --- module names ----------------------------------------------------------------------------------

SHADOW = '''
from machinable import Experiment


class Shadow(Experiment):
    def on_execute(self):
        print("ran {name}")
'''


@pytest.mark.parametrize("name", ["copy", "json", "random", "types"])
def test_a_project_module_named_like_a_stdlib_module_does_not_replace_it(project, name):
    stdlib = sys.modules.get(name)
    project.write(f"{name}.py", SHADOW.format(name=name))
    experiment = get(name).launch()
    assert experiment.is_finished() and experiment.module == name
    assert get(name).experiment_id == experiment.experiment_id
    assert sys.modules.get(name) is stdlib
    restored = pickle.loads(pickle.dumps(experiment))
    assert restored.experiment_id == experiment.experiment_id and restored.module == name
    assert type(restored) is type(experiment)


def test_a_project_module_named_like_a_stdlib_module_runs_in_other_processes(project, tmp_path_factory):
    project.write("copy.py", SHADOW.format(name="copy"))
    code = f"""
import sys, copy as stdlib
from machinable import Project, get
with Project({str(project.path)!r}):
    experiment = get("copy")
    with get("machinable.execution.subprocess"):
        experiment.launch()
    assert experiment.is_finished() and sys.modules["copy"] is stdlib
    print("finished", experiment.experiment_id)
"""
    # from another directory: run inside the project, Python itself would put copy.py first on sys.path
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path_factory.mktemp("elsewhere"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ran copy" in result.stdout and "finished" in result.stdout


@pytest.mark.parametrize("module", ["machinable.__main__", "tools.__main__"])
def test_a_main_module_is_not_run(project, module):
    project.write("tools/__main__.py", "raise SystemExit('ran')\n")
    with unchanged(project.path), pytest.raises(ElementNotFound, match=rf"Module '{module}' .*defines no Element subclass"):
        get(module)


# --- values that cannot be stored ---------------------------------------------------------------------


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


def nested_list(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


UNSTORABLE = [
    ({"a": 10**5000}, r"'a' is an integer of 5001 digits"),
    ({"a": [1, 10**5000]}, r"'a.1' is an integer of 5001 digits"),
    ({"a": b"raw"}, r"'a' is bytes \(b'raw'\)"),
    ({"a": {"k": b"\xff"}}, r"'a.k' is bytes"),
    ({"a": object()}, r"'a' is of type object, which cannot be stored"),
    ({"a": {"k": [object()]}}, r"'a.k.0' is of type object"),
    ({"a": "bad \ud800"}, r"'a' contains a lone surrogate"),
    ({"a": {"\udc80": 1}}, r"'a.\\udc80' contains a lone surrogate"),
    ({"a": nested(5000)}, r"'a.x.x.x.*' is nested more than 100 levels deep"),
    ({"a": nested_list(5000)}, r"'a.0.0.0.*' is nested more than 100 levels deep"),
    ({"f": 10**5000}, r"'f' is an integer of 5001 digits"),
]


@pytest.mark.parametrize("version, message", UNSTORABLE, ids=[
    "huge-int", "huge-int-in-list", "bytes", "bytes-nested", "object", "object-nested",
    "surrogate", "surrogate-key", "deep-dicts", "deep-lists", "huge-int-in-float-field",
])
def test_a_value_that_cannot_be_stored_is_a_validation_error_naming_the_key(values, version, message):
    with unchanged(values.path):
        with pytest.raises(ValidationError, match=message):
            get("values", version).launch()
        with pytest.raises(ValidationError, match=message):
            get("values", [{"f": 2.0}, version]).config


def test_an_index_poisoned_by_an_older_version_is_rebuilt_when_opened(values):
    import sqlite3

    from machinable.storage.filesystem import Filesystem

    nan = get("values", {"f": NAN}).launch()
    get("values").launch()
    root = Storage.current().root
    with sqlite3.connect(Storage.current().index.path) as db:  # how older versions stored NaN, and their schema
        db.execute("UPDATE experiments SET config = ? WHERE id = ?", ('{"a": null, "f": NaN}', nan.experiment_id))
        db.execute("DROP TABLE leaves")  # the schema of version 1
        db.execute("ALTER TABLE experiments DROP COLUMN timestamp")
        db.execute("PRAGMA user_version=1")
    reopened = Filesystem({"directory": root})  # as a new process opens it
    assert [e.experiment_id for e in find("values", where={"f": NAN}, storage=reopened)] == [nan.experiment_id]
    assert len(find("values", where={"f": 1.0}, storage=reopened)) == 1
    assert "NaN" not in reopened.index.db.execute("SELECT config FROM experiments").fetchall()[0][0]
