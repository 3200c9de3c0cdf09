"""A resumed run on the dashboard: the plot marks where the second attempt begins, and shows only the
latest attempt's rows on request (headless Chromium)."""

from __future__ import annotations

import pytest

from ui_support import chromium, tab

RESUMED = '''
from machinable import Experiment


class Resumed(Experiment):
    def on_execute(self):
        first = not self.load_data("failed_once.json")
        for step in (range(0, 5) if first else range(3, 10)):
            self.record().save(step=step, loss=1 / (step + 1))
        if first:
            self.save_data("failed_once.json", True)
            raise RuntimeError("the first attempt fails after step 4")
'''


def test_a_resumed_run_is_drawn_with_its_resume_marked(project):
    from machinable import get
    from machinable.storage import Storage
    from machinable.ui import api, create_server

    project.write("resumed.py", RESUMED)
    experiment = get("resumed")
    with pytest.raises(Exception):
        experiment.launch()
    experiment.launch()
    answer = api.experiment_records(experiment, {"x": ["step"]})
    assert answer["attempts"] == [1, 2] and answer["resumes"] == [{"attempt": 2, "x": 3}]
    assert api.experiment_records(experiment, {"attempt": ["latest"]})["total"] == 7
    assert api.experiment_records(experiment, {"attempt": ["1"]})["total"] == 5

    server = create_server(Storage.current(), port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(f"{server.url}#/experiment/{experiment.experiment_id}")
            plot = '#plots svg[data-column="loss"]'
            page.wait_for_selector(f"{plot} line.mark", state="attached")  # a vertical line has no width
            assert page.get_attribute(f"{plot} line.mark", "data-x") == "3"
            assert page.text_content(f"{plot} text.mark-label") == "attempt 2"
            assert page.get_attribute(f"{plot} path.series", "data-points") == "12"
            page.check("#latest-attempt")
            page.wait_for_selector(f'{plot} path.series[data-points="7"]')
            assert page.locator(f"{plot} line.mark").count() == 0
    finally:
        server.stop()
