"""SPEC §8: finding stored experiments, and the collections they come in."""

import pytest

from machinable import find, get
from machinable.errors import ValidationError

TRAIN = '''
from dataclasses import dataclass, field

from machinable import Experiment


@dataclass
class Optimizer:
    lr: float = 0.1
    name: str = "sgd"


class Train(Experiment):
    @dataclass
    class Config:
        epochs: int = 1
        optimizer: Optimizer = field(default_factory=Optimizer)

    def on_execute(self):
        for epoch in range(self.config.epochs):
            self.record().save(epoch=epoch, loss=1 / (epoch + 1))
        if self.config.optimizer.name == "broken":
            raise RuntimeError("diverged")
'''


@pytest.fixture
def stored(project):
    project.write("train.py", TRAIN)
    runs = {
        "a": get("train", {"epochs": 1, "optimizer.lr": 0.1}).launch(),
        "b": get("train", {"epochs": 2, "optimizer.lr": 0.01}).launch(),
        "c": get("train", {"epochs": 3, "optimizer": {"lr": 0.001, "name": "adam"}}).group_as("tuning").launch(),
        "d": get("train", {"optimizer.name": "broken"}),
        "g": get("estimate_gravity", {"time_dilation": 2}).launch(),
    }
    with pytest.raises(Exception):
        runs["d"].launch()
    return runs


def ids(collection) -> list:
    return [experiment.experiment_id for experiment in collection]


def test_find_by_module_newest_first(stored):
    assert ids(find("train")) == [stored[k].experiment_id for k in "dcba"]
    assert ids(find("estimate_gravity")) == [stored["g"].experiment_id]
    assert len(find()) == 5


def test_find_by_config_values_nested_or_dotted(stored):
    assert ids(find("train", where={"optimizer.lr": 0.01})) == [stored["b"].experiment_id]
    assert ids(find("train", where={"optimizer": {"name": "adam"}})) == [stored["c"].experiment_id]
    assert ids(find("train", where={"epochs": 2.0})) == [stored["b"].experiment_id]  # 2 == 2.0
    assert ids(find("train", where={"epochs": 7})) == []


def test_find_with_predicates_on_config_values(stored):
    small = find("train", where={"optimizer.lr": lambda lr: lr < 0.05})
    assert ids(small) == [stored["c"].experiment_id, stored["b"].experiment_id]
    both = find("train", where={"optimizer.lr": lambda lr: lr < 0.05, "epochs": 3})
    assert ids(both) == [stored["c"].experiment_id]
    assert ids(find(where={"optimizer.lr": lambda lr: True})) == ids(find("train"))  # gravity has no such key


def test_find_by_status_and_group(stored):
    assert ids(find("train", status="failed")) == [stored["d"].experiment_id]
    assert ids(find(status="finished")) == [stored[k].experiment_id for k in "gcba"]
    assert ids(find(group="tuning")) == [stored["c"].experiment_id]
    with pytest.raises(ValidationError, match="Unknown status 'done' in '@status'; use one of committed, running"):
        find(status="done")


def test_collections_filter_map_pluck_first_and_tables(stored):
    found = find("train", status="finished")
    assert found.pluck("config.epochs") == [3, 2, 1]
    assert found.filter(lambda e: e.config.epochs > 1).map(lambda e: e.config.optimizer.lr) == [0.001, 0.01]
    assert found.first() == stored["c"]
    assert find("train", where={"epochs": 9}).first() is None
    table = found.as_table()
    assert all(stored[k].experiment_id in table for k in "abc")
    frame = found.as_dataframe()
    assert len(frame) == 3
    records = stored["c"].records()
    assert records.pluck("epoch") == [0, 1, 2]
    assert records.filter(lambda row: row["epoch"] > 0).pluck("loss") == [0.5, 1 / 3]


def test_find_with_conditions_in_both_forms(stored):
    assert ids(find("train", where="optimizer.lr<0.05")) == ids(find("train", where={"optimizer.lr": {"<": 0.05}}))
    assert ids(find("train", where="optimizer.lr<0.05")) == [stored["c"].experiment_id, stored["b"].experiment_id]
    assert ids(find("train", where="epochs=3 or optimizer.name=broken")) == [stored[k].experiment_id for k in "dc"]
    assert ids(find("train", where={"optimizer.name": {"in": ["adam", "broken"]}})) == [stored[k].experiment_id for k in "dc"]
    assert ids(find(where="time_dilation exists")) == [stored["g"].experiment_id]
    assert ids(find("train", where="epochs>=2", sort="epochs")) == [stored[k].experiment_id for k in "bc"]
    assert ids(find("train", sort="-optimizer.lr", limit=2)) == [stored[k].experiment_id for k in "da"]  # ties: newest first
    assert ids(find("train", where="@status=finished @group!=tuning")) == [stored[k].experiment_id for k in "ba"]


def test_find_by_creation_time_and_ancestor(stored, project):
    import time

    old = get("train", {"epochs": 4})
    old.timestamp -= 30 * 86400
    old.launch()
    month = time.time() - 20 * 86400
    assert ids(find(where=f"@created<{month}")) == [old.experiment_id]
    assert old.experiment_id not in ids(find(where={"@created": {">=": month}}))
    assert ids(find(where="@created<2000-01-01")) == []
    child = stored["b"].derive(version={"epochs": 5}).launch()
    assert ids(find(where=f"@ancestor={stored['b'].experiment_id}")) == [child.experiment_id]
    assert ids(find(where="@ancestor exists")) == [child.experiment_id]


def test_find_includes_subclasses_modules_when_asked(stored, project):
    project.write("train_long.py", "from train import Train\n\n\nclass TrainLong(Train):\n    pass\n")
    long = get("train_long", {"epochs": 2}).launch()
    assert long.experiment_id not in ids(find("train"))
    with_subclasses = ids(find("train", subclasses=True))
    assert with_subclasses[0] == long.experiment_id and set(with_subclasses[1:]) == set(ids(find("train")))
    assert ids(find("train", subclasses=True, where="epochs=2")) == [long.experiment_id, stored["b"].experiment_id]


def test_the_index_records_each_status_as_runs_start_and_end(stored, project):
    from machinable.conditions import where
    from machinable.storage import Storage

    storage = Storage.current()

    def indexed() -> dict:
        return dict(storage.index.db.execute("SELECT id, status FROM experiments").fetchall())

    expected = {stored[k].experiment_id: "finished" for k in "abcg"} | {stored["d"].experiment_id: "failed"}
    queued = get("train", {"epochs": 9}).commit()
    assert indexed() == expected | {queued.experiment_id: "committed"}
    assert storage.select(where({"@status": "finished"}))[1]  # decided by the index alone
    assert not storage.select(where({"@status": "running"}))[1]  # running or died: the heartbeat tells
    assert storage.count(where({"@status": "failed"})) == 1
    storage.rebuild_index()  # read back from the files
    assert indexed() == expected | {queued.experiment_id: "committed"}
    assert ids(find(status="committed")) == [queued.experiment_id]


def test_frames_have_real_datetimes_and_tables_readable_times(stored):
    pandas = pytest.importorskip("pandas")

    frame = find("train").as_dataframe()
    assert str(frame["created"].dtype).startswith("datetime64") and str(frame["created"].dt.tz) == "UTC"
    assert abs(frame["created"][0].timestamp() - stored["d"].timestamp) < 1
    records = stored["c"].records()
    assert isinstance(records.as_dataframe()["_timestamp"][0], pandas.Timestamp)
    table = records.as_table()
    assert "e+09" not in table and str(stored["c"].created_at().to("local").year) in table
