"""The dashboard's compare view at sweep size, in Chromium: 24 runs (12 configs × 2 seeds) named by the
config keys that differ, replicates drawn as a mean line with a ± std band, and a scatter of a
summary metric against a config key."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from ui_support import chromium, tab

SWEEP = '''
import random
from dataclasses import dataclass

from machinable import Experiment


class Sweep(Experiment):
    @dataclass
    class Config:
        alpha: float = 0.1
        penalty: str = "l2"

    def on_execute(self):
        noise = random.Random(self.seed)
        for step in range(20):
            self.record().save(step=step, loss=self.config.alpha / (step + 1) + noise.random() * 0.01)
        self.summary["test_acc"] = 1 - self.config.alpha + noise.random() * 0.01
'''


@pytest.fixture(scope="module")
def sweep():
    import os
    import sys

    from machinable import get
    from machinable.project import Project
    from machinable.storage.filesystem import Filesystem

    root = tempfile.mkdtemp(prefix="machinable-compare-")
    with open(os.path.join(root, "sweep.py"), "w") as f:
        f.write(SWEEP)
    sys.path.insert(0, root)
    try:
        storage = Filesystem({"directory": os.path.join(root, "storage")})
        with Project(root), storage:
            runs = [get("sweep", {"alpha": alpha, "penalty": penalty}, seed=seed).launch()
                    for alpha in (0.01, 0.1, 0.2, 0.4) for penalty in ("l1", "l2", "none") for seed in (1, 2)]
        yield storage, runs
    finally:
        sys.path.remove(root)
        sys.modules.pop("sweep", None)
        shutil.rmtree(root, ignore_errors=True)


def test_compare_24_runs_with_config_legends_replicate_bands_and_a_scatter(sweep):
    from machinable.ui import create_server

    storage, runs = sweep
    server = create_server(storage, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url, timeout_ms=30_000) as page:
            page.goto(f"{server.url}#/compare?ids={','.join(run.experiment_id for run in runs)}")
            page.wait_for_selector("#compare-legend li")
            labels = page.eval_on_selector_all("#compare-legend li .label", "spans => spans.map(s => s.textContent)")
            assert len(labels) == 24
            assert "alpha=0.01, penalty=l1 · seed 1" in labels and "alpha=0.4, penalty=none · seed 2" in labels
            page.wait_for_selector('#compare-plots svg[data-column="loss"] path.series')
            names = page.eval_on_selector_all('#compare-plots svg[data-column="loss"] path.series',
                                              "paths => paths.map(p => p.dataset.name)")
            assert len(names) == 24 and "alpha=0.2, penalty=l2 · seed 2" in names

            page.check("#compare-replicates")
            page.wait_for_selector('#compare-plots svg[data-column="loss"] polygon.band')
            bands = page.eval_on_selector_all('#compare-plots svg[data-column="loss"] polygon.band',
                                              "polygons => polygons.map(p => [p.dataset.name, p.getAttribute('points').split(' ').length])")
            assert len(bands) == 12 and all(name.endswith("(n=2)") and corners == 40 for name, corners in bands)
            lines = page.eval_on_selector_all('#compare-plots svg[data-column="loss"] path.series', "paths => paths.length")
            assert lines == 12

            dots = page.eval_on_selector_all("#compare-scatter circle", "circles => circles.length")
            assert dots == 24
            assert page.get_attribute("#compare-scatter", "data-y") == "test_acc"
            axes = page.eval_on_selector_all("#compare-parallel line.axis", "lines => lines.map(l => l.dataset.axis)")
            assert axes == ["alpha", "penalty", "summary.test_acc"]
            assert page.locator("#compare-parallel polyline").count() == 24
            page.select_option("#scatter-key", "penalty")
            page.wait_for_selector('#compare-scatter[data-x="penalty"]')
            ticks = page.eval_on_selector_all("#compare-scatter text.tick", "texts => texts.map(t => t.textContent)")
            assert {"l1", "l2", "none"} <= set(ticks)
    finally:
        server.stop()


def test_the_compare_controls_show_no_stray_text(sweep):
    from machinable.ui import create_server

    storage, runs = sweep
    server = create_server(storage, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(f"{server.url}#/compare?ids={runs[0].experiment_id},{runs[1].experiment_id}")
            page.wait_for_selector("#compare-x")
            assert "null" not in page.text_content("#compare-records .toolbar")
            page.goto(f"{server.url}#/experiment/{runs[0].experiment_id}")
            page.wait_for_selector("#x-axis")
            assert "null" not in page.text_content("#x-axis").lower() + page.eval_on_selector(
                "#x-axis", "select => select.parentElement.parentElement.textContent")
    finally:
        server.stop()
