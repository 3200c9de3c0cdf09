"""The dashboard's list at 100,000 experiments in headless Chromium: the first page, the next page, a
sort by a config key and a filter, all answered by the index (issue 9). Timings are in
benchmarks/dashboard_list.py, not asserted here.

The storage is made the way a long sweep leaves one: one committed experiment through the API,
then 99,999 more directories with their experiment.json written as machinable writes them
(a unique config and identity each), and the index rebuilt from the files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from ui_support import chromium, tab

COUNT = 100_000

SWEEP = '''
from dataclasses import dataclass

from machinable import Experiment


class Wide(Experiment):
    @dataclass
    class Config:
        lr: float = 0.1
        layers: int = 2
'''


@pytest.fixture(scope="module")
def wide():
    import hashlib
    import sys

    from machinable import get
    from machinable.project import Project
    from machinable.storage.filesystem import Filesystem

    root = tempfile.mkdtemp(prefix="machinable-ui-100k-")
    with open(os.path.join(root, "wide.py"), "w") as f:
        f.write(SWEEP)
    sys.path.insert(0, root)
    try:
        storage = Filesystem({"directory": os.path.join(root, "storage")})
        with Project(root), storage:
            template = get("wide", {"lr": 0.0, "layers": 0}).commit().metadata()
        for i in range(1, COUNT):
            meta = dict(template, experiment_id=f"w{i:07d}", seed=i, created_at=template["created_at"] + i,
                        timestamp=int(template["timestamp"]) + i // 1000,
                        config={"lr": round(i / COUNT, 6), "layers": i % 7},
                        identity=hashlib.sha256(f"wide-{i}".encode()).hexdigest())
            directory = os.path.join(storage.root, meta["group"], meta["experiment_id"])
            os.mkdir(directory)
            with open(os.path.join(directory, "experiment.json"), "w") as f:
                json.dump(meta, f)
        assert storage.rebuild_index() == COUNT
        yield storage
    finally:
        sys.path.remove(root)
        sys.modules.pop("wide", None)
        shutil.rmtree(root, ignore_errors=True)


def test_the_list_at_100k_experiments_pages_sorts_and_filters(wide):
    from machinable.ui import create_server

    server = create_server(wide, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url, timeout_ms=60_000) as page:
            page.goto(server.url)
            page.wait_for_function("() => document.querySelector('#page-range')?.textContent === 'rows 1–50 of 100,000'")
            first = page.eval_on_selector_all("#experiments tbody tr", "rows => rows.map(r => r.dataset.id)")
            assert first[:2] == ["w0099999", "w0099998"]  # newest first
            page.click("#page-next")
            page.wait_for_function("() => document.querySelector('#page-range')?.textContent === 'rows 51–100 of 100,000'")
            assert page.eval_on_selector_all("#experiments tbody tr", "rows => rows[0].dataset.id") == "w0099949"

            page.click('th[data-sort="lr"] button')  # ascending, from row 1
            page.wait_for_selector('th[data-sort="lr"][aria-sort="ascending"]')
            page.wait_for_function("() => document.querySelector('#page-range')?.textContent === 'rows 1–50 of 100,000'")
            ordered = page.eval_on_selector_all("#experiments tbody tr", "rows => rows.map(r => r.dataset.id)")
            assert ordered[:3] == [wide.select()[0][-1].rsplit("/", 1)[-1], "w0000001", "w0000002"]

            page.fill("#filter-where", "lr>=0.5 lr<0.5001 layers=3")
            page.press("#filter-where", "Enter")
            matching = [f"w{i:07d}" for i in range(50000, 50010) if i % 7 == 3]
            page.wait_for_function(f"() => document.querySelector('#page-range')?.textContent === 'rows 1–{len(matching)} of {len(matching)}'")
            shown = page.eval_on_selector_all("#experiments tbody tr", "rows => rows.map(r => r.dataset.id)")
            assert sorted(shown) == matching
    finally:
        server.stop()
