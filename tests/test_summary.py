"""Summary metrics (machinable.summary): set explicitly or the last value of each numeric record
column, stored in summary.json, indexed like config keys for find(), sorting and the CLI."""

import json
import os

import pytest

from machinable import find, get
from machinable.errors import StateError, ValidationError
from machinable.storage import Storage

TRAIN = '''
from dataclasses import dataclass

from machinable import Experiment


class Train(Experiment):
    @dataclass
    class Config:
        alpha: float = 0.1
        fail_at: int = -1

    def on_execute(self):
        start = len(self.records())
        for step in range(start, 5):
            if step == self.config.fail_at and not self.load_data("failed_once.json"):
                self.save_data("failed_once.json", {"yes": True})
                raise RuntimeError("diverged")
            self.record().save(step=step, loss=self.config.alpha / (step + 1), note="text", ok=True)
        self.record("val").save(acc=1 - self.config.alpha)
        self.summary["test_acc"] = 1 - self.config.alpha / 2
'''


@pytest.fixture
def runs(project):
    project.write("train.py", TRAIN)
    return {alpha: get("train", {"alpha": alpha}).launch() for alpha in (0.1, 0.2, 0.4)}


def alphas(found) -> list:
    return [experiment.config.alpha for experiment in found]


def test_summary_holds_last_record_values_and_explicit_ones(runs):
    assert runs[0.2].summary() == {"step": 4, "loss": 0.2 / 5, "val.acc": 0.8, "test_acc": 0.9}
    assert runs[0.2].summary["val.acc"] == 0.8 and "note" not in runs[0.2].summary  # texts, bools left out
    runs[0.2].summary["test_acc"] = 0.5  # set later, e.g. by an evaluation script
    runs[0.2].summary.update({"extra": [1, 2]})
    assert runs[0.2].summary()["test_acc"] == 0.5 and runs[0.2].summary["extra"] == [1, 2]
    with open(runs[0.2].local_directory("summary.json")) as f:
        assert json.load(f)["values"] == {"test_acc": 0.5, "extra": [1, 2]}


def test_find_filters_and_sorts_by_summary_metrics(runs):
    assert alphas(find("train", where="summary.test_acc>0.85")) == [0.2, 0.1]
    assert alphas(find("train", where={"summary.val.acc": {"<": 0.85}})) == [0.4, 0.2]
    assert alphas(find("train", where={"summary": {"loss": {"<=": 0.04}}})) == [0.2, 0.1]
    assert alphas(find("train", sort="-summary.val.acc")) == [0.1, 0.2, 0.4]
    assert alphas(find("train", where="summary.val exists")) == [0.4, 0.2, 0.1]
    runs[0.4].summary["test_acc"] = 0.99
    assert alphas(find("train", sort="-summary.test_acc", limit=1)) == [0.4]  # re-indexed at once


def test_a_resumed_run_merges_its_attempts_summaries(project):
    project.write("train.py", TRAIN)
    experiment = get("train", {"alpha": 0.3, "fail_at": 3})
    with pytest.raises(Exception):
        experiment.launch()
    assert experiment.summary() == {"step": 2, "loss": 0.3 / 3}  # the failed attempt's last rows
    assert alphas(find("train", where="summary.step=2")) == [0.3]
    experiment.launch()
    assert experiment.summary()["step"] == 4 and experiment.summary()["val.acc"] == 0.7


def test_the_index_rebuild_reads_summaries_from_the_files(runs):
    storage = Storage.current()
    os.remove(storage.index.path)
    storage.index.close()
    Storage.current().rebuild_index()
    assert alphas(find("train", where="summary.test_acc>=0.9")) == [0.2, 0.1]


def test_a_damaged_summary_file_hides_nothing(runs):
    with open(runs[0.1].local_directory("summary.json"), "w") as f:
        f.write("{cut short")
    assert runs[0.1].summary() == {}
    Storage.current().rebuild_index()
    assert alphas(find("train")) == [0.4, 0.2, 0.1]
    runs[0.1].summary["test_acc"] = 0.7  # writing replaces the damaged file
    assert runs[0.1].summary() == {"test_acc": 0.7}


def test_bad_summary_values_and_uncommitted_experiments_are_errors(runs):
    with pytest.raises(ValidationError, match="must be a number, text, bool, None or a list"):
        runs[0.1].summary["model"] = object()
    with pytest.raises(ValidationError, match="not starting with '_'"):
        runs[0.1].summary["_hidden"] = 1
    with pytest.raises(StateError, match="not committed yet"):
        get("train", {"alpha": 0.9}).summary["x"] = 1
    assert get("train", {"alpha": 0.9}).summary() == {}


def test_replicates_group_runs_equal_apart_from_the_seed(project):
    import statistics

    project.write("train.py", TRAIN)
    runs = [get("train", {"alpha": alpha}, seed=seed).launch() for alpha in (0.1, 0.2) for seed in (1, 2, 3)]
    for run, acc in zip(runs, (0.90, 0.92, 0.97, 0.80, 0.81, 0.82)):
        run.summary["test_acc"] = acc
    groups = find("train").group_by_config()
    assert [(group.config["alpha"], group.n, sorted(group.seeds)) for group in groups] == [
        (0.2, 3, [1, 2, 3]), (0.1, 3, [1, 2, 3])]
    stats = groups[1].stats()["test_acc"]
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(statistics.mean([0.90, 0.92, 0.97]))
    assert stats["std"] == pytest.approx(statistics.stdev([0.90, 0.92, 0.97]))
    row = groups[0].as_row()
    assert row["n"] == 3 and row["alpha"] == 0.2 and row["summary.test_acc"] == pytest.approx(0.81)
    assert "summary.test_acc ±" in groups.as_table()
    frame = groups.as_dataframe()
    assert list(frame["n"]) == [3, 3] and frame["summary.test_acc"].dtype.kind == "f"


def test_the_runs_table_of_machinable_list(runs, monkeypatch):
    import csv
    import io

    from click.testing import CliRunner

    from machinable.cli import cli

    monkeypatch.setenv("COLUMNS", "160")

    def listed(*args) -> str:
        result = CliRunner().invoke(cli, ["list", "train", *args])
        assert result.exit_code == 0, result.output
        return result.output

    header = [line for line in listed().splitlines() if "┃" in line][0]
    cells = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert cells == ["id", "status", "created", "alpha", "summary.step", "summary.loss", "summary.val.acc",
                     "summary.test_acc"]  # fail_at is the same in every row: not a column
    chosen = listed("--columns", "alpha,summary.test_acc", "--sort", "-summary.test_acc")
    table = [[cell.strip() for cell in line.strip("│").split("│")] for line in chosen.splitlines() if "│" in line]
    assert [row[3:] for row in table] == [["0.1", "0.95"], ["0.2", "0.9"], ["0.4", "0.8"]]
    rows = list(csv.DictReader(io.StringIO(listed("--csv", "--where", "summary.test_acc>=0.9"))))
    assert [(row["alpha"], row["summary.test_acc"]) for row in rows] == [("0.2", "0.9"), ("0.1", "0.95")]
    assert rows[0]["status"] == "finished" and rows[0]["created"].endswith("+00:00")
    assert json.loads(listed("--json", "-n", "1"))[0]["summary"]["val.acc"] == 0.6
