"""Issue 8: records and output.log that are damaged or huge stay readable, in bounded memory.

Each test reproduces a failure of the reading paths before the fix: a row that cannot be
encoded poisoning the writer, lines that are not rows, a directory in place of a records
file, readers holding a whole file (and all its rows) in memory, the dashboard's output
endpoint sending a whole log, and one slow request blocking the whole dashboard. Peak
memory is measured in a subprocess (ru_maxrss) on files of tens of MB: the readers must
stay far below the file size. Timings at 100k/1M rows are in benchmarks/large_files.py.
"""

import http.client
import json
import os
import textwrap
import threading
import time

import pytest
from click.testing import CliRunner

from machinable import get
from machinable.cli import cli
from machinable.errors import StorageError, ValidationError
from machinable.storage import Storage
from machinable.ui import api, create_server
from machinable.ui.output import PAGE

LINE = '{{"step":{i},"loss":{loss},"accuracy":0.5,"note":"{note}","_timestamp":1700000000.{i}}}\n'


def write_rows(path: str, count: int, spike_at: int | None = None) -> int:
    """`count` rows of about 100 bytes; row `spike_at` has loss 1000 (the others are below 1)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for start in range(0, count, 10_000):
            f.write("".join(
                LINE.format(i=i, loss=1000 if i == spike_at else 1 / (i + 1), note="x" * 30)
                for i in range(start, min(count, start + 10_000))
            ))
    return os.path.getsize(path)


def committed(project):
    experiment = get("estimate_gravity").commit()
    return experiment, experiment.local_directory("records", "default.jsonl")


def route(experiment, *rest, **query) -> tuple[int, dict]:
    response = api.route(Storage.current(), ["experiments", experiment.experiment_id, *rest],
                         {key: [value] for key, value in query.items()})
    return response.status, json.loads(response.body)


def peak_mb(project, setup: str, work: str) -> tuple[int, int]:
    """Peak RSS (MB) of a fresh interpreter after `setup`, and after `work` too."""
    code = f"""
import resource
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
{textwrap.dedent(setup)}
before = peak()
{textwrap.dedent(work)}
print(before, peak())
"""
    before, after = project.run(code).stdout.split()[-2:]
    return int(before), int(after)


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, key, reason", [
    ({(1, 2): 3}, "(1, 2)", "is a tuple"),
    ({"big": 10**5000}, "'big'", "integer string conversion"),
    ({"cycle": "self"}, "'cycle'", "contains itself"),
])
def test_a_row_that_cannot_be_encoded_raises_naming_the_key_and_the_writer_stays_usable(project, bad, key, reason):
    experiment, _ = committed(project)
    record = experiment.record()
    record.save(step=0)
    if bad.get("cycle") == "self":
        bad = {"cycle": []}
        bad["cycle"].append(bad["cycle"])
    record.update(bad)
    record["kept"] = "no"
    with pytest.raises(ValidationError) as error:
        record.save()
    assert key in str(error.value) and reason in str(error.value) and "was not saved" in str(error.value)
    record.save(step=1)  # before: the bad row stayed pending and every later save raised again
    record.save(step=2)
    assert experiment.records().pluck("step") == [0, 1, 2]
    assert "kept" not in experiment.records()[1]


# --- damaged records -----------------------------------------------------------------------


def test_lines_that_are_not_rows_are_skipped_and_counted(project):
    experiment, path = committed(project)
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(b'{"step":0}\n42\nnull\n[1,2]\n"text"\n{"step":1}\n\n{"step":2,"lo\n{"step":3}\n' + b"\0" * 4096)
    rows = experiment.records()  # before: TypeError on 42 / null
    assert rows.pluck("step") == [0, 1, 3] and rows.skipped == 5  # blank lines and NUL padding are no damage
    status, data = route(experiment, "records")  # before: 500
    assert status == 200 and data["total"] == 3 and data["skipped"] == 5
    assert [row["step"] for row in data["rows"]] == [0, 1, 3]
    result = CliRunner().invoke(cli, ["show", experiment.experiment_id, "--records", "2"])
    assert result.exit_code == 0, result.output
    assert "records (default): last 2 of" in result.output


def test_a_directory_in_place_of_a_records_file_is_a_clear_error(project):
    experiment, path = committed(project)
    os.makedirs(path)  # records/default.jsonl is a directory
    with pytest.raises(StorageError, match="is a directory, not a records file"):
        experiment.records()  # before: IsADirectoryError
    status, data = route(experiment, "records")
    assert status == 500 and "is a directory, not a records file" in data["error"] and path in data["error"]
    result = CliRunner().invoke(cli, ["show", experiment.experiment_id])
    assert result.exit_code == 1 and "is a directory, not a records file" in result.output


# --- huge records --------------------------------------------------------------------------


@pytest.fixture
def big_records(project):
    """An experiment with a ~40 MB records file (400,000 rows; a loss spike at row 123,457)."""
    experiment, path = committed(project)
    size = write_rows(path, 400_000, spike_at=123_457)
    return experiment, path, size


def test_records_become_a_dataframe_in_memory_of_the_frame_not_of_the_rows(project, big_records):
    """`records().as_dataframe()` holds every row as a dict first (~10x the frame); Records.dataframe
    builds the frame chunk by chunk, with the same result."""
    pytest.importorskip("pandas")
    from machinable.records import Records, segments

    experiment, path, size = big_records
    paths = segments(experiment.local_directory("records"), "default")
    setup = f"""
        import pandas
        from machinable.records import Records
        paths = {paths!r}
    """
    # measured first: a child process inherits the peak RSS of this one (Linux keeps it across exec)
    frame_mb = peak_mb(project, setup, "Records.dataframe(*paths)")
    rows_mb = peak_mb(project, setup, "Records.read(*paths).as_dataframe()")
    # (a text column of 400,000 strings is most of the frame here: without it, 1M rows peak at 180 vs 820 MB)
    assert frame_mb[1] - frame_mb[0] < 0.6 * (rows_mb[1] - rows_mb[0]), (frame_mb, rows_mb, size)
    frame = Records.dataframe(*paths, chunk=150_000)
    assert frame.equals(Records.read(*paths).as_dataframe())
    assert len(frame) == 400_000 and frame["loss"].max() == 1000 and str(frame["step"].dtype) == "int64"


def test_the_dashboard_summarises_records_in_bounded_memory_with_downsampled_plots(project, big_records):
    experiment, path, size = big_records
    status, data = route(experiment, "records")
    assert status == 200 and data["total"] == 400_000 and data["x"] == "step"
    assert len(data["rows"]) == 200 and data["first_row"] == 399_800 and data["rows"][-1]["step"] == 399_999
    assert data["numeric"] == ["step", "loss", "accuracy", "_timestamp"]
    assert set(data["series"]) == {"loss", "accuracy"}
    loss = data["series"]["loss"]
    assert 1000 <= len(loss) <= 2000 and [123_457, 1000] in loss  # the spike survives downsampling
    assert [x for x, _ in loss] == sorted(x for x, _ in loss)
    before, after = peak_mb(project, """
        from machinable import Experiment
        from machinable.ui import api
        from machinable.storage import Storage
        experiment = Experiment.find_by_id(%r)
    """ % experiment.experiment_id, """
        api.route(Storage.current(), ["experiments", experiment.experiment_id, "records"], {})
    """)
    assert after - before < 30, (before, after, size)  # before the fix: ~8x the file size


def test_tail_and_stream_readers_need_memory_independent_of_the_file(project, big_records):
    experiment, path, size = big_records
    from machinable.records import Records

    assert Records.tail(path, n=3).pluck("step") == [399_997, 399_998, 399_999]
    assert Records.count(path) == 400_000
    setup = f"from machinable.records import Records\npath = {path!r}"
    for work in ("rows = Records.tail(path, n=10)", "total = sum(1 for row in Records.stream(path))"):
        before, after = peak_mb(project, setup, work)
        assert after - before < 20, (work, before, after, size)


def test_show_reads_the_tail_of_records_and_output(project, big_records):
    experiment, path, size = big_records
    with open(experiment.local_directory("output.log"), "w") as f:
        for start in range(0, 600_000, 50_000):
            f.write("".join(f"line {i} {'-' * 60}\n" for i in range(start, start + 50_000)))
    before, after = peak_mb(project, "from machinable.cli import main", f"""
        import contextlib, io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main(["show", {experiment.experiment_id!r}, "--records", "10", "--lines", "5"])
            except SystemExit:
                pass
        text = out.getvalue()
        assert "records (default): last 10 of 400000" in text, text
        assert "output.log: last 5 of 600000 lines" in text and "line 599999" in text, text
    """)
    assert after - before < 30, (before, after, size)  # before: the whole records file as rows


# --- huge output ---------------------------------------------------------------------------


def test_output_is_served_in_bounded_pages_from_the_end(project):
    experiment, _ = committed(project)
    log = experiment.local_directory("output.log")
    line = "x" * 99 + "\n"
    with open(log, "w") as f:
        for _ in range(30):
            f.write(line * 10_000)  # 30 MB
    size = os.path.getsize(log)
    status, first = route(experiment, "output", offset="0")  # before: the whole log in one answer
    assert status == 200 and len(first["text"]) <= PAGE and first["text"].endswith(line)
    assert first["skipped"] == size - len(first["text"]) and first["offset"] == size
    status, tail = route(experiment, "output")
    assert len(tail["text"]) <= 256 * 1024 and tail["skipped"] > 0 and tail["offset"] == size
    with open(log, "a") as f:
        f.write("new\n")
    status, following = route(experiment, "output", offset=str(size))
    assert following["text"] == "new\n" and following["skipped"] == 0 and following["start"] == size
    before, after = peak_mb(project, f"""
        from machinable import Experiment
        from machinable.ui.output import read_output
        experiment = Experiment.find_by_id({experiment.experiment_id!r})
    """, "read_output(experiment, 0)")
    assert after - before < 15, (before, after)


# --- no global lock ------------------------------------------------------------------------


def test_a_slow_records_request_does_not_block_the_list(project, big_records):
    experiment, path, size = big_records
    server = create_server(project.storage, port=0).start()
    host, port = server.server_address[:2]

    def request(target: str) -> float:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.request("GET", target)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
        connection.close()
        return time.monotonic()

    try:
        request("/api/experiments")  # the index is open
        finished = {}
        slow = threading.Thread(target=lambda: finished.setdefault(
            "records", request(f"/api/experiments/{experiment.experiment_id}/records")))
        started = time.monotonic()
        slow.start()
        time.sleep(0.2)
        listed = request("/api/experiments")
        slow.join()
        assert finished["records"] - started > 0.5, "the records request was too quick to tell"
        timings = {"list": listed - started, "records": finished["records"] - started}
        assert listed < finished["records"], timings  # before: the list waited for the records (one global lock)
    finally:
        server.stop()


def test_requests_never_use_the_callers_storage_and_open_a_bounded_number_of_storages(project, monkeypatch):
    """Before: the server lent the caller's own storage (and its SQLite connection) to request
    threads, and opened one more storage for every concurrent request, without bound."""
    from machinable import Storage
    from machinable.ui import api, server as ui_server

    get("estimate_gravity").commit()
    storage = Storage.current()
    used, route = [], api.route

    def slow_route(storage, *args):
        used.append(storage)
        time.sleep(0.05)
        return route(storage, *args)

    monkeypatch.setattr(api, "route", slow_route)
    server = create_server(storage, port=0).start()
    host, port = server.server_address[:2]

    def request():
        connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.request("GET", "/api/experiments")
        assert connection.getresponse().status == 200
        connection.close()

    try:
        threads = [threading.Thread(target=request) for _ in range(3 * ui_server.CONCURRENT_REQUESTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    assert len(used) == 3 * ui_server.CONCURRENT_REQUESTS
    assert all(s is not storage for s in used)
    assert len({id(s) for s in used}) <= ui_server.CONCURRENT_REQUESTS
