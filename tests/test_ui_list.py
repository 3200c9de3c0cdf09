"""The dashboard's experiment list among 2,000 experiments, paged, sorted and filtered on the server:
the API, and the page in headless Chromium (the code path benchmarks/dashboard_list.py times at 100,000)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass

import pytest

from machinable.storage.filesystem import Filesystem
from machinable.ui import api, create_server
from ui_support import chromium, tab

COUNT = 2000

SWEEP = '''
from dataclasses import dataclass

from machinable import Experiment


class Sweep(Experiment):
    @dataclass
    class Config:
        lr: float = 0.1
        layers: int = 2
        name: str = "run"
'''

POPULATE = '''
import json, sys
from machinable import find, get

storage, count = sys.argv[1], int(sys.argv[2])
with get("machinable.storage.filesystem", {"directory": storage}):
    for i in range(count):
        experiment = get("sweep", {"lr": round((i * 7919 % count) / count, 6), "layers": i % 7, "name": f"run{i}"}).commit()
        if i % 100 == 7:
            experiment.summary["score"] = i  # summary metrics: a column, a sort and a filter like config keys
    print(json.dumps([[e.experiment_id, e.config.lr, e.config.layers, e.summary().get("score")] for e in find()]))
'''


@dataclass
class Stored:
    storage: str
    rows: list  # [id, lr, layers, summary score or None], newest first as find() returns them


@pytest.fixture(scope="module")
def sweep():
    root = tempfile.mkdtemp(prefix="machinable-ui-list-")
    try:
        with open(os.path.join(root, "sweep.py"), "w") as f:
            f.write(textwrap.dedent(SWEEP))
        storage = os.path.join(root, "storage")
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(POPULATE), storage, str(COUNT)],
                                cwd=root, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        yield Stored(storage, json.loads(result.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def listed(sweep, **query) -> dict:
    response = api.route(Filesystem({"directory": sweep.storage}), ["experiments"],
                         {key: [str(value)] for key, value in query.items()})
    return {"status": response.status, **json.loads(response.body)}


def by_lr_descending(rows):
    return sorted(rows, key=lambda row: row[1], reverse=True)


# --- the API ------------------------------------------------------------------------------------


def test_the_api_pages_sorts_and_filters_without_a_row_cap(sweep):
    first = listed(sweep, limit=50)
    assert first["total"] == first["stored"] == COUNT and first["offset"] == 0 and first["limit"] == 50
    assert [e["id"] for e in first["experiments"]] == [row[0] for row in sweep.rows[:50]]  # newest first
    assert first["keys"] == [{"key": "lr", "sort": "lr"}, {"key": "layers", "sort": "layers"},
                             {"key": "name", "sort": "name"}]

    last = listed(sweep, offset=COUNT - 30, limit=100)
    assert [e["id"] for e in last["experiments"]] == [row[0] for row in sweep.rows[-30:]]
    everything = listed(sweep, limit=1000, offset=1000)
    assert len(everything["experiments"]) == 1000  # no cap at 500 rows

    page = listed(sweep, sort="-lr", offset=100, limit=50)
    assert [e["id"] for e in page["experiments"]] == [row[0] for row in by_lr_descending(sweep.rows)[100:150]]
    assert page["sort"] == "-lr"
    oldest = listed(sweep, sort="@created", limit=1000, offset=1000)  # @created: the second it was created
    seconds = [int(e["created"]["time"]) for e in oldest["experiments"]]
    newest = int(first["experiments"][0]["created"]["time"])
    assert seconds == sorted(seconds) and seconds[-1] == newest
    ids = listed(sweep, sort="-@id", offset=1000, limit=1000)
    assert [e["id"] for e in ids["experiments"]] == sorted((row[0] for row in sweep.rows), reverse=True)[1000:]

    filtered = listed(sweep, where="layers=3", sort="-lr", limit=20)
    expected = [row for row in by_lr_descending(sweep.rows) if row[2] == 3]
    assert filtered["total"] == len(expected) == sum(1 for i in range(COUNT) if i % 7 == 3)
    assert [e["id"] for e in filtered["experiments"]] == [row[0] for row in expected[:20]]
    ranged = listed(sweep, where="lr>=0.25 lr<0.5 or layers in [0, 6]", sort="lr", limit=1000)
    expected = sorted((row for row in sweep.rows if 0.25 <= row[1] < 0.5 or row[2] in (0, 6)), key=lambda row: row[1])
    assert ranged["total"] == len(expected) and [e["id"] for e in ranged["experiments"]] == [r[0] for r in expected]
    status = listed(sweep, where="@status=committed layers=3", offset=280, limit=50)  # checked one by one
    assert status["total"] == filtered["total"] and len(status["experiments"]) == filtered["total"] - 280


def test_summary_metrics_are_columns_to_sort_and_filter_by(sweep):
    scored = sorted((row for row in sweep.rows if row[3] is not None), key=lambda row: -row[3])
    assert len(scored) == COUNT // 100
    page = listed(sweep, sort="-summary.score", limit=30)
    assert [e["id"] for e in page["experiments"][:len(scored)]] == [row[0] for row in scored]
    assert [e["summary"].get("score") for e in page["experiments"]] == [row[3] for row in scored] + [None] * 10
    assert {"key": "summary.score", "sort": "summary.score", "metric": "score"} in page["keys"]
    high = listed(sweep, where="summary.score>=1000", limit=50)
    assert high["total"] == sum(1 for row in scored if row[3] >= 1000)
    detail = api.route(Filesystem({"directory": sweep.storage}), ["experiments", scored[0][0]], {})
    assert json.loads(detail.body)["summary"] == {"score": scored[0][3]}


@pytest.mark.parametrize("query, message", [
    ({"sort": "@colour"}, "Cannot sort by '@colour'"),
    ({"sort": "@status"}, "Cannot sort by '@status'"),
    ({"offset": -1}, "offset=-1 is out of range"),
    ({"limit": 100_000}, "limit=100000 is out of range"),
    ({"where": "layers"}, "expected an operator after 'layers'"),
    ({"where": "lr<"}, "Cannot read the condition 'lr<'"),
])
def test_bad_list_parameters_are_clear_errors(sweep, query, message):
    answer = listed(sweep, **query)
    assert answer["status"] == 400 and message in answer["error"], answer


# --- in the browser -----------------------------------------------------------------------------


def shown_ids(page) -> list:
    return page.eval_on_selector_all("#experiments tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)")


def wait_range(page, text: str) -> None:
    page.wait_for_function("(text) => document.querySelector('#page-range')?.textContent === text", arg=text)


def test_the_list_pages_sorts_and_filters_in_chromium(sweep):
    server = create_server(sweep.storage, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(server.url)
            wait_range(page, f"rows 1–50 of {COUNT:,}")
            assert shown_ids(page) == [row[0] for row in sweep.rows[:50]]
            assert page.is_disabled("#page-prev") and not page.is_disabled("#page-next")
            assert f"{COUNT:,} of {COUNT:,} experiments" in page.text_content("#list-summary")

            page.click("#page-next")
            wait_range(page, f"rows 51–100 of {COUNT:,}")
            page.click("#page-next")
            wait_range(page, f"rows 101–150 of {COUNT:,}")
            assert shown_ids(page) == [row[0] for row in sweep.rows[100:150]]
            assert "offset=100" in page.url  # a shared link opens the same page

            # sort by a config key: ascending on the first click, descending on the second, from row 1
            header = 'th[data-sort="lr"]'
            page.click(f"{header} button")
            page.wait_for_selector(f'{header}[aria-sort="ascending"]')
            wait_range(page, f"rows 1–50 of {COUNT:,}")
            page.click(f"{header} button")
            page.wait_for_selector(f'{header}[aria-sort="descending"]')
            ordered = by_lr_descending(sweep.rows)
            page.wait_for_function("(id) => document.querySelector('#experiments tbody tr[data-id]')?.dataset.id === id",
                                   arg=ordered[0][0])
            assert shown_ids(page) == [row[0] for row in ordered[:50]]
            lrs = [float(v) for v in page.eval_on_selector_all('td.config-value[data-key="lr"]', "c => c.map(x => x.textContent)")]
            assert lrs == sorted(lrs, reverse=True) and len(lrs) == 50

            # a filter: the count, and the sort kept
            matching = [row for row in ordered if row[2] == 3 and row[1] < 0.5]
            page.fill("#filter-where", "layers=3 and lr<0.5")
            wait_range(page, f"rows 1–50 of {len(matching):,}")
            assert shown_ids(page) == [row[0] for row in matching[:50]]
            assert f"{len(matching):,} of {COUNT:,} experiments" in page.text_content("#list-summary")
            page.click("#page-next")
            wait_range(page, f"rows 51–100 of {len(matching):,}")
            assert shown_ids(page) == [row[0] for row in matching[50:100]]

            # a filter that cannot be read: the error alone, no rows of the last answer
            page.fill("#filter-where", "layers")
            page.wait_for_selector("#list-error")
            assert shown_ids(page) == [] and page.text_content("#page-range") == ""
            assert page.locator("#list-failed").count() == 1

            # a summary metric's column sorts like a config key's
            page.fill("#filter-where", "summary.score exists")
            wait_range(page, f"rows 1–{COUNT // 100} of {COUNT // 100}")
            page.click('th[data-sort="summary.score"] button')
            page.wait_for_selector('th[data-sort="summary.score"][aria-sort="ascending"]')
            scores = page.eval_on_selector_all('td.metric-value[data-key="summary.score"]', "c => c.map(x => x.textContent)")
            assert [int(score) for score in scores] == sorted(row[3] for row in sweep.rows if row[3] is not None)

            # the page size
            page.fill("#filter-where", "")
            wait_range(page, f"rows 1–50 of {COUNT:,}")
            page.select_option("#page-size", "200")
            wait_range(page, f"rows 1–200 of {COUNT:,}")
            assert len(shown_ids(page)) == 200
    finally:
        server.stop()


def test_the_list_columns_can_be_chosen(sweep):
    page = listed(sweep, columns="layers, summary.score", sort="-summary.score", limit=5)
    assert page["keys"] == [{"key": "layers", "sort": "layers"},
                            {"key": "summary.score", "sort": "summary.score", "metric": "score"}]
    default = listed(sweep, limit=5)["keys"]
    assert [key["key"] for key in default][:2] == ["lr", "layers"]  # the keys that differ among the rows
    assert "name" in [key["key"] for key in default]


def test_the_columns_box_chooses_the_columns_in_chromium(sweep):
    server = create_server(sweep.storage, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(server.url)
            page.wait_for_selector('th[data-sort="lr"]')
            page.fill("#filter-columns", "layers, summary.score")
            page.press("#filter-columns", "Enter")
            page.wait_for_selector('th[data-sort="summary.score"]')
            assert page.locator('th[data-sort="lr"]').count() == 0
            assert page.locator('th[data-sort="layers"]').count() == 1
            assert "columns=layers" in page.url  # a shared link shows the same columns
    finally:
        server.stop()
