"""Each command imports what it needs only (issue 9, "Fast CLI"): `machinable list`, `show ID` and
`get MODULE k=v --launch` start in about the time of `import machinable` because they leave
pydantic (~25 ms), rich (~15 ms), arrow (~40 ms) and the other commands' modules unimported.
Timings are measured by benchmarks/cli_startup.py; this checks the structure that makes them."""

import json
import os
import subprocess
import sys

import pytest

EXPERIMENT = '''
from dataclasses import dataclass, field
from typing import Optional

from machinable import Experiment


@dataclass
class Model:
    depth: int = 2


class Train(Experiment):
    @dataclass
    class Config:
        lr: float = 0.1
        name: str = "run"
        steps: int = 3
        limit: Optional[int] = None
        model: Model = field(default_factory=Model)

    def on_execute(self):
        for step in range(self.config.steps):
            self.record().save(step=step, loss=1 / (step + 1))
            print(f"step {step}")
'''

HEAVY = ["pydantic", "rich", "arrow", "numpy", "pandas", "machinable.ui"]
OTHER_COMMANDS = {
    "get": ["machinable.cli.listing", "machinable.cli.show", "machinable.cli.ui", "machinable.cli.index"],
    "list": ["machinable.cli.get", "machinable.cli.show", "machinable.cli.ui", "machinable.cli.index",
             "machinable.execution.local"],
    "show": ["machinable.cli.get", "machinable.cli.listing", "machinable.cli.ui", "machinable.cli.index"],
}


def imported(cwd, *args) -> tuple[list, str]:
    """The modules a `machinable ARGS` process has imported when it ends, and its output."""
    code = (
        "import json, sys\n"
        "from machinable.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stderr.rsplit("MODULES ", 1)[1]), result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fast_cli")
    (directory / "train.py").write_text(EXPERIMENT)
    return directory


def test_get_launch_list_and_show_import_what_they_need_only(project):
    modules, out = imported(project, "get", "train", "lr=0.5", "name=fast", "model.depth=3", "--launch")
    assert "step 2" in out and "status:    finished" in out
    experiment_id = out.split("id:", 1)[1].split()[0]
    assert [m for m in HEAVY + OTHER_COMMANDS["get"] if m in modules] == []

    modules, out = imported(project, "list")
    assert experiment_id in out and "1 experiment" in out
    assert [m for m in HEAVY + OTHER_COMMANDS["list"] if m in modules] == []

    modules, out = imported(project, "list", "--where", "model.depth>=3", "--json")
    assert [e["id"] for e in json.loads(out)] == [experiment_id]
    assert [m for m in HEAVY if m in modules] == []

    modules, out = imported(project, "show", experiment_id)
    assert "records (default): last 3 of 3" in out and "step 2" in out and "just now)" in out
    assert [m for m in HEAVY + OTHER_COMMANDS["show"] if m in modules] == []


@pytest.fixture(scope="module")
def many(project):
    """The project with at least 16 stored experiments (get() finds those already there)."""
    code = "from machinable import get\nfor lr in range(1, 17):\n    get('train', {'lr': lr, 'steps': 0}).launch()\n"
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True, capture_output=True)
    return project


def test_list_shows_the_newest_that_fit_and_counts_the_rest(many):
    project = many
    everything = json.loads(subprocess.run([sys.executable, "-m", "machinable", "list", "--json"], cwd=project,
                                           check=True, capture_output=True, text=True).stdout)
    assert len(everything) >= 16

    def listed(*args, lines=16):
        env = {**os.environ, "LINES": str(lines), "COLUMNS": "200"}
        return subprocess.run([sys.executable, "-m", "machinable", "list", *args], cwd=project, env=env,
                              check=True, capture_output=True, text=True).stdout

    newest = listed()  # 16 lines: the title, the frame and 10 rows
    total = len(everything)
    assert newest.splitlines()[0] == f"{total} experiments (newest 10 shown; --limit N or --all)"
    shown = [e["id"] for e in everything if e["id"] in newest]
    assert shown == [e["id"] for e in everything[:10]]
    assert listed("--limit", "3").splitlines()[0] == f"{total} experiments (newest 3 shown; --limit N or --all)"
    every = listed("--all")
    assert every.splitlines()[0] == f"{total} experiments" and all(e["id"] in every for e in everything)
    assert listed(lines=200).splitlines()[0] == f"{total} experiments"


def test_list_opens_only_the_rows_it_shows(many, monkeypatch):
    from click.testing import CliRunner

    import machinable.query
    from machinable.cli import cli

    opened = []
    open_stored = machinable.query.open_stored
    monkeypatch.setattr(machinable.query, "open_stored", lambda *a, **k: opened.append(a) or open_stored(*a, **k))
    monkeypatch.chdir(many)
    monkeypatch.setenv("LINES", "20")
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0 and "(newest 14 shown; --limit N or --all)" in result.output, result.output
    assert len(opened) == 14


def test_list_keeps_the_rows_that_fit_when_their_config_wraps(many):
    env = {**os.environ, "LINES": "24", "COLUMNS": "60"}
    out = subprocess.run([sys.executable, "-m", "machinable", "list"], cwd=many, env=env, check=True,
                         capture_output=True, text=True).stdout
    lines = out.splitlines()
    shown = int(lines[0].split("(newest ")[1].split()[0])
    assert len(lines) <= 24 - 1 and shown < 18 and max(len(line) for line in lines) <= 60, out
    assert sum(line.startswith("│ ") and line[2] != " " for line in lines) == shown
