"""The dashboard's sweep page in headless Chromium: every point with its status, the objective against
each parameter, parallel coordinates, the best point marked."""

from __future__ import annotations


from ui_support import chromium, tab

QUADRATIC = '''
from dataclasses import dataclass

from machinable import Experiment


class Quadratic(Experiment):
    @dataclass
    class Config:
        x: float = 0.0
        y: int = 0

    def on_execute(self):
        self.summary["loss"] = (self.config.x - 0.5) ** 2 + (self.config.y - 1) ** 2
'''


def test_the_sweep_page_shows_every_point_and_the_scatter_plots(project):
    from machinable.storage import Storage
    from machinable.sweep import Sweep
    from machinable.ui import api, create_server

    project.write("quadratic.py", QUADRATIC)
    sweep = Sweep("quadratic", {"x": [0.0, 0.5, 1.0], "y": [0, 1, 2]})
    sweep.launch()
    data = api.sweep_page(Storage.current(), sweep.record())
    assert data["parameters"] == ["x", "y"] and len(data["points"]) == 9
    best = min(data["points"], key=lambda point: point["summary"]["loss"])
    assert best["config"] == {"x": 0.5, "y": 1}

    server = create_server(Storage.current(), port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(f"{server.url}#/experiment/{sweep.sweep_id}")
            page.click("#open-sweep")
            page.wait_for_selector("#sweep-table tbody tr")
            assert page.locator("#sweep-table tbody tr").count() == 9
            assert page.get_attribute("#sweep-table tr.best", "data-id") == best["id"]
            assert page.locator("#sweep-table .status, #sweep-table .badge").count() >= 9
            assert page.locator("#sweep-scatter svg").count() == 2  # the loss against x, and against y
            assert page.locator("#sweep-scatter circle").count() == 18
            assert page.locator("#sweep-parallel polyline").count() == 9
            status = api.route(Storage.current(), ["sweeps", best["id"]], {})
            assert status.status == 404  # a point is no sweep
    finally:
        server.stop()
