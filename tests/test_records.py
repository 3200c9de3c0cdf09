"""SPEC §7: records appended durably, read back as a collection."""

import os

import pytest

from machinable import get


def test_record_rows_and_collection_helpers(project):
    experiment = get("estimate_gravity").commit()
    record = experiment.record()
    for i in range(3):
        record["iteration"] = i
        record["accuracy"] = 0.1
        returned = record.save()
        assert returned["iteration"] == i and "_timestamp" in returned
    experiment.record("eval").save(loss=0.5)
    rows = experiment.records()
    assert rows.pluck("iteration") == [0, 1, 2]
    assert rows.pluck("accuracy") == [0.1, 0.1, 0.1]
    assert rows.first()["iteration"] == 0
    assert rows.filter(lambda r: r["iteration"] > 0).pluck("iteration") == [1, 2]
    assert rows.map(lambda r: r["iteration"] * 2) == [0, 2, 4]
    assert experiment.records("eval").pluck("loss") == [0.5]
    assert experiment.records("missing") == []
    table = rows.as_table()
    assert "iteration" in table and "accuracy" in table and "0.1" in table
    record.close()  # cuts the file to its rows (while open, reserved space reads as NUL bytes)
    lines = open(experiment.local_directory("records", "default.jsonl")).read().splitlines()
    assert len(lines) == 3 and lines[0].startswith('{"iteration":0,')


def test_records_as_dataframe(project):
    pandas = pytest.importorskip("pandas")
    experiment = get("estimate_gravity").commit()
    for i in range(4):
        experiment.record().save(step=i, loss=1 / (i + 1))
    frame = experiment.records().as_dataframe()
    assert isinstance(frame, pandas.DataFrame)
    assert frame["step"].tolist() == [0, 1, 2, 3]


def test_saved_row_is_on_disk_when_save_returns(project):
    experiment = get("estimate_gravity").commit()
    record = experiment.record()
    record.save(step=1)
    # read through a separate file handle while the writer is still open
    with open(experiment.local_directory("records", "default.jsonl")) as f:
        assert '"step":1' in f.read()


def test_a_line_cut_short_by_a_crash_is_skipped(project):
    experiment = get("estimate_gravity").commit()
    experiment.record().save(step=1)
    with open(experiment.local_directory("records", "default.jsonl"), "a") as f:
        f.write('{"step": 2, "lo')
    assert experiment.records().pluck("step") == [1]


def test_record_scope_names_cannot_escape(project):
    from machinable.errors import UnsafePath

    experiment = get("estimate_gravity").commit()
    with pytest.raises(UnsafePath):
        experiment.record("../../escape")
    assert not os.path.exists(os.path.join(project.storage, "escape.jsonl"))


def test_reserved_space_of_a_killed_writer_is_skipped_and_overwritten(project):
    experiment = get("estimate_gravity").commit()
    experiment.record().save(step=0)
    experiment.record().close()
    path = experiment.local_directory("records", "default.jsonl")
    with open(path, "ab") as f:  # what a killed writer leaves: a row cut short, then reserved space
        f.write(b'{"step": 1, "lo' + b"\0" * 5000)
    assert experiment.records().pluck("step") == [0]
    fresh = type(experiment).find_by_id(experiment.experiment_id)  # e.g. the resumed run
    fresh.record().save(step=2)
    fresh.record().close()
    assert fresh.records().pluck("step") == [0, 2]
    assert b"\0" not in open(path, "rb").read()


def test_rows_larger_than_the_reserved_chunk(project, monkeypatch):
    from machinable.records import Record

    monkeypatch.setattr(Record, "CHUNK", 4096)
    experiment = get("estimate_gravity").commit()
    record = experiment.record()
    for i in range(50):
        record.save(step=i, text="x" * (i * 300))
    record.close()
    assert [len(r["text"]) for r in experiment.records()] == [i * 300 for i in range(50)]
