"""The command line: `machinable get|list|show|index rebuild` and `python -m machinable`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from machinable.cli import cli, parse_value, parse_versions

COUNTER = '''
from dataclasses import dataclass, field
from typing import Optional

from machinable import Experiment


@dataclass
class Model:
    lr: float = 0.01
    layers: list = field(default_factory=lambda: [8])


class Counter(Experiment):
    @dataclass
    class Config:
        steps: int = 3
        rate: float = 0.5
        name: str = "run"
        flag: bool = False
        limit: Optional[int] = 5
        model: Model = field(default_factory=Model)

    def version_fast(self):
        return {"steps": 1}

    def on_execute(self):
        for i in range(self.config.steps):
            print(f"counter step {i}")
            self.record().save(step=i, loss=1 / (i + 1))
'''

CHATTY = '''
from dataclasses import dataclass

from machinable import Experiment


class Chatty(Experiment):
    @dataclass
    class Config:
        lines: int = 30

    def on_execute(self):
        for i in range(self.config.lines):
            print(f"line {i}")
            self.record().save(i=i, square=i * i)
'''

BROKEN = '''
from machinable import Experiment


class Broken(Experiment):
    def on_execute(self):
        raise RuntimeError("the simulation diverged")
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory with small experiment modules, as the current directory."""
    for name, source in (("counter", COUNTER), ("chatty", CHATTY), ("broken", BROKEN)):
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="machinable")
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def field(output: str, name: str) -> str:
    for line in output.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no '{name}:' line in\n{output}")


def last_field(output: str, name: str) -> str:
    return [line for line in output.splitlines() if line.startswith(name + ":")][-1].split(":", 1)[1].strip()


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("2", 2),
        ("-3", -3),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("true", True),
        ("false", False),
        ("True", True),
        ("yes", True),
        ("no", False),
        ("null", None),
        ("None", None),
        ("~", None),
        ("[1,2]", [1, 2]),
        ('{"a":1}', {"a": 1}),
        ('"quoted"', "quoted"),
        ("'single'", "single"),
        ("abc", "abc"),
        ("007", "007"),
        ("", ""),
        ("a b", "a b"),
    ],
)
def test_parse_value(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_versions_one_dict_and_named_versions_in_order():
    versions = parse_versions(["~fast", "a=1", "model.lr=0.1", "~slow", "name=x=y", "a=2"])
    assert versions == ["~fast", {"a": 2, "model.lr": 0.1, "name": "x=y"}, "~slow"]
    assert parse_versions([]) == []


@pytest.mark.parametrize("arg", ["foo", "=3", "a..b=1", ".a=1", "a.=1", "~", "~not-a-name"])
def test_parse_versions_rejects_malformed(arg):
    with pytest.raises(click.UsageError, match="Invalid argument"):
        parse_versions(["a=1", arg])


# --- get ----------------------------------------------------------------------------------


def test_get_prints_new_uncommitted_experiment(project):
    result = run("get", "counter", "steps=2")
    assert field(result.output, "module") == "counter"
    assert field(result.output, "status") == "new"
    assert field(result.output, "directory") == "not committed"
    assert len(field(result.output, "id")) == 6
    assert "steps = 2" in result.output and "rate = 0.5" in result.output
    assert not (project / "storage").exists()  # get alone has no side effects


def test_get_launch_then_get_finds_it_finished(project):
    launched = run("get", "counter", "steps=2", "--launch")
    experiment_id = field(launched.output, "id")
    assert "counter step 0" in launched.output and "counter step 1" in launched.output
    assert last_field(launched.output, "status") == "finished"
    directory = last_field(launched.output, "directory")
    assert os.path.isdir(directory) and directory.endswith(experiment_id)

    again = run("get", "counter", "steps=2.0")  # 2.0 and 2 are the same config
    assert field(again.output, "id") == experiment_id
    assert field(again.output, "status") == "finished"
    assert field(again.output, "directory") == directory

    relaunch = run("get", "counter", "steps=2", "--launch")  # finished: not run again
    assert "counter step" not in relaunch.output
    assert field(relaunch.output, "id") == experiment_id


def test_get_parses_values_into_the_config(project):
    result = run(
        "get", "counter", "steps=7", "rate=2", "flag=true", "limit=null",
        "model.lr=0.25", "model.layers=[64,32]", "name=2017",
    )
    out = result.output
    assert "steps = 7" in out
    assert "rate = 2.0" in out  # int coerced to the float field
    assert "flag = true" in out
    assert "limit = null" in out
    assert "model.lr = 0.25" in out
    assert "model.layers = [64, 32]" in out
    assert 'name = "2017"' in out  # a str field keeps the text


def test_get_named_version_and_override(project):
    assert "steps = 1" in run("get", "counter", "~fast").output
    assert "steps = 4" in run("get", "counter", "~fast", "steps=4").output
    assert "name = hello" in run("get", "counter", "name=hello", "flag=yes").output


@pytest.mark.parametrize("bad", ["foo", "=3", "steps", "model..lr=1"])
def test_get_malformed_argument_is_a_usage_error(project, bad):
    result = run("get", "counter", "steps=2", bad, "--launch", ok=False)
    assert result.exit_code == 2
    assert f"'{bad}'" in result.output
    assert "key=value" in result.output
    assert "Traceback" not in result.output
    assert not (project / "storage").exists()


def test_get_unknown_module_is_a_clean_error(project):
    result = run("get", "no_such_module", "steps=2", ok=False)
    assert result.exit_code == 1
    assert "ModuleNotFound" in result.output and "no_such_module" in result.output
    assert "Traceback" not in result.output
    assert not (project / "storage").exists()


def test_get_config_typo_is_a_clean_error(project):
    result = run("get", "counter", "stpes=2", "--launch", ok=False)
    assert result.exit_code == 1
    assert "stpes" in result.output and "did you mean 'steps'" in result.output
    assert "Traceback" not in result.output
    assert not (project / "storage").exists()

    wrong_type = run("get", "counter", "steps=many", ok=False)
    assert wrong_type.exit_code == 1 and "'steps' expects int" in wrong_type.output


def test_get_failing_experiment_exits_1_with_message(project):
    result = run("get", "broken", "--launch", ok=False)
    assert result.exit_code == 1
    assert "ExecutionFailed" in result.output and "the simulation diverged" in result.output
    assert last_field(result.output, "status") == "failed"


def test_storage_and_project_options(project, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    storage = elsewhere / "store"
    monkeypatch.chdir(elsewhere)
    launched = run("--project", project, "--storage", storage, "get", "counter", "--launch")
    experiment_id = field(launched.output, "id")
    assert last_field(launched.output, "directory").startswith(str(storage))
    assert not (project / "storage").exists() and not (elsewhere / "storage").exists()
    listed = run("--project", project, "--storage", storage, "list")
    assert experiment_id in listed.output


# --- list ---------------------------------------------------------------------------------


def test_list_filters(project):
    assert "No experiments found" in run("list").output
    assert not (project / "storage").exists()  # listing does not create the storage

    ids = {}
    for steps in (1, 2):
        ids[steps] = field(run("get", "counter", f"steps={steps}", "--launch").output, "id")
    committed = field(run("get", "counter", "steps=3").output, "id")  # not launched: not stored
    ids["chatty"] = field(run("get", "chatty", "lines=2", "--launch").output, "id")
    failed = field(run("get", "broken", "--launch", ok=False).output, "id")

    everything = run("list").output
    assert all(i in everything for i in (*ids.values(), failed)), everything
    assert committed not in everything
    assert "finished" in everything and "failed" in everything

    counters = run("list", "counter").output
    assert ids[1] in counters and ids[2] in counters and ids["chatty"] not in counters

    where = run("list", "counter", "--where", "steps=2").output
    assert ids[2] in where and ids[1] not in where

    where_nested = run("list", "--where", "model.lr=0.01", "--where", "steps=1").output
    assert ids[1] in where_nested and ids[2] not in where_nested

    def listed(*conditions):
        args = [arg for condition in conditions for arg in ("--where", condition)]
        return [e["id"] for e in json.loads(run("list", "counter", *args, "--json").output)]

    assert listed("steps>1") == [ids[2]] and listed("steps>=1") == [ids[2], ids[1]]
    assert listed("steps<2") == [ids[1]] and listed("steps<=2", "steps!=2") == [ids[1]]
    assert listed("steps>1", "steps<2") == [] and listed("name!=run") == []
    assert listed("name<rvn", "steps=2") == [ids[2]]  # text compares as text; equality still via the index
    assert listed("steps=1 or steps=2") == [ids[2], ids[1]] and listed("steps in [1, 9]") == [ids[1]]
    by_steps = json.loads(run("list", "counter", "--sort", "steps", "--json").output)
    assert [e["id"] for e in by_steps] == [ids[1], ids[2]]
    bad_sort = run("list", "--sort", "@status", ok=False)
    assert bad_sort.exit_code == 2 and "Cannot sort by '@status'" in bad_sort.output

    failed_only = run("list", "--status", "failed").output
    assert failed in failed_only and ids[1] not in failed_only

    assert "No experiments found" in run("list", "counter", "--where", "steps=9").output
    assert "No experiments found" in run("list", "--status", "running").output

    group = os.path.basename(os.path.dirname(run("show", ids[1]).output.split("directory:")[1].split()[0]))
    assert ids[1] in run("list", "--group", group).output
    assert "No experiments found" in run("list", "--group", "1999_lost").output

    bad_status = run("list", "--status", "done", ok=False)
    assert bad_status.exit_code == 2 and "done" in bad_status.output

    bad_where = run("list", "--where", "steps", ok=False)
    assert bad_where.exit_code == 2 and "'steps'" in bad_where.output


# --- show ---------------------------------------------------------------------------------


def test_show_prints_details_records_and_output_tail(project):
    experiment_id = field(run("get", "chatty", "lines=30", "--launch").output, "id")
    out = run("show", experiment_id).output
    assert field(out, "id") == experiment_id
    assert field(out, "module") == "chatty"
    assert field(out, "status") == "finished"
    assert os.path.isdir(field(out, "directory"))
    assert field(out, "seed").isdigit()
    for name in ("created", "started", "finished"):
        assert "ago" in field(out, name) or "just now" in field(out, name)
    assert "lines = 30" in out
    from machinable.experiment import Experiment

    execution = Experiment.find_by_id(experiment_id).execution
    assert f"executions:\n  {execution.nickname} (machinable.execution.local) on " in out

    # the last 10 of 30 records
    assert "last 10 of 30" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert [row.split("│")[2:4] for row in rows] == [[f" {i} ", f" {i * i:<6} "] for i in range(20, 30)]

    # the last 20 lines of output.log
    assert "last 20 of 30 lines" in out
    assert "line 29" in out and "line 10" in out
    assert "line 9\n" not in out


def test_show_unknown_id_is_a_clean_error(project):
    missing = run("show", "XXXXXX", ok=False)
    assert missing.exit_code == 1 and "XXXXXX" in missing.output and "Traceback" not in missing.output
    assert not (project / "storage").exists()

    run("get", "counter", "--launch")
    unknown = run("show", "XXXXXX", ok=False)
    assert unknown.exit_code == 1
    assert "ExperimentNotFound" in unknown.output and "XXXXXX" in unknown.output
    assert "Traceback" not in unknown.output


def test_show_new_experiment_without_records_or_output(project):
    experiment_id = field(run("get", "counter", "steps=0", "--launch").output, "id")
    out = run("show", experiment_id).output
    assert field(out, "status") == "finished"
    assert "records" not in out and "output.log" not in out


# --- index rebuild ------------------------------------------------------------------------


def test_index_rebuild_finds_every_experiment_again(project):
    ids = [field(run("get", "counter", f"steps={n}", "--launch").output, "id") for n in range(4)]
    index = project / "storage" / "index.sqlite"
    assert index.exists()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{index}{suffix}"):
            os.unlink(f"{index}{suffix}")

    result = run("index", "rebuild")
    assert "Indexed 4 experiments" in result.output
    assert index.exists()
    listed = run("list").output
    assert all(i in listed for i in ids)
    assert field(run("show", ids[2]).output, "status") == "finished"


def test_index_rebuild_without_storage_is_an_error(project):
    result = run("index", "rebuild", ok=False)
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (project / "storage").exists()


# --- a real process -----------------------------------------------------------------------


def test_python_dash_m_machinable(tmp_path):
    (tmp_path / "counter.py").write_text(COUNTER)

    def machinable(*args):
        return subprocess.run(
            [sys.executable, "-m", "machinable", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "120"},
        )

    launched = machinable("get", "counter", "steps=2", "model.lr=0.5", "--launch")
    assert launched.returncode == 0, launched.stderr
    experiment_id = field(launched.stdout, "id")
    assert "counter step 1" in launched.stdout
    assert last_field(launched.stdout, "status") == "finished"

    again = machinable("get", "counter", "model.lr=0.5", "steps=2")
    assert again.returncode == 0, again.stderr
    assert field(again.stdout, "id") == experiment_id
    assert field(again.stdout, "status") == "finished"

    listed = machinable("list", "--where", "model.lr=0.5")
    assert listed.returncode == 0 and experiment_id in listed.stdout

    bad = machinable("get", "counter", "lr")
    assert bad.returncode == 2 and "'lr'" in bad.stderr and "key=value" in bad.stderr

    typo = machinable("get", "counter", "stpes=2")
    assert typo.returncode == 1 and "did you mean 'steps'" in typo.stderr
    assert "Traceback" not in typo.stderr

    os.unlink(tmp_path / "storage" / "index.sqlite")
    rebuilt = machinable("index", "rebuild")
    assert rebuilt.returncode == 0 and "Indexed 1 experiment" in rebuilt.stdout
    shown = machinable("show", experiment_id)
    assert shown.returncode == 0 and "model.lr = 0.5" in shown.stdout and "counter step 1" in shown.stdout

    assert "get" in machinable("--help").stdout


def test_get_launch_with_an_execution_and_a_storage_module(project):
    out = run("get", "counter", "steps=2", "machinable.execution.subprocess", "--launch").output
    experiment_id = field(out, "id")
    assert last_field(out, "status") == "finished"
    from machinable.experiment import Experiment

    experiment = Experiment.find_by_id(experiment_id)
    assert experiment.execution.module == "machinable.execution.subprocess"
    assert experiment.execution.host["pid"] != os.getpid()  # ran in a fresh interpreter

    other = run("get", "counter", "steps=2", "machinable.storage.filesystem", "directory=./other", "--launch").output
    assert last_field(other, "directory").startswith(str(project / "other"))
    assert field(other, "id") != experiment_id  # a different storage: a different experiment


def test_get_with_a_module_that_is_not_an_execution_or_storage_is_a_usage_error(project):
    result = run("get", "counter", "steps=2", "chatty", "lines=1", "--launch", ok=False)
    assert result.exit_code == 2 and "Module 'chatty' defines Chatty" in result.output
    assert not (project / "storage").exists()
    result = run("get", "counter", "stpes", "--launch", ok=False)
    assert result.exit_code == 2 and "Invalid argument 'stpes': it has no '=' and is not a module" in result.output


def test_list_and_show_print_json(project):
    assert json.loads(run("list", "--json").output) == []  # nothing stored yet, nothing created
    assert not (project / "storage").exists()
    first = field(run("get", "counter", "steps=2", "--launch").output, "id")
    second = field(run("get", "broken", "--launch", ok=False).output, "id")
    listed = json.loads(run("list", "--json").output)
    assert [(e["id"], e["status"]) for e in listed] == [(second, "failed"), (first, "finished")]
    assert listed[1]["config"]["steps"] == 2 and listed[1]["finished_at"] and listed[1]["error"] is None
    assert listed[0]["error"]["type"] == "RuntimeError"
    assert [e["id"] for e in json.loads(run("list", "counter", "--json", "-n", "1").output)] == [first]

    shown = json.loads(run("show", first, "--json", "--records", "1", "--lines", "1").output)
    assert shown["id"] == first and shown["directory"] == listed[1]["directory"]
    assert [row["step"] for row in shown["records"]] == [1] and shown["output"] == ["counter step 1"]


def test_show_lists_data_files(project):
    from machinable import get

    experiment = get("counter", {"steps": 1}).launch()
    experiment.save_data("metrics.json", {"acc": 0.9})
    experiment.save_data("nested/notes.txt", "hello")
    out = run("show", experiment.experiment_id).output
    assert "data: 2 files" in out
    assert "  metrics.json  (" in out and "  nested/notes.txt  (5 bytes)" in out
