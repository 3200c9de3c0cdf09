"""The dashboard's record plots: server-side downsampling of a 1M-row file, x ranges at full
resolution, and in headless Chromium: choosing the x axis, log scale, smoothing, zoom and hover."""

from __future__ import annotations

import json
import os

import pytest

from machinable import get
from machinable.storage import Storage
from machinable.ui import api, create_server
from machinable.ui.series import MAX_POINTS
from ui_support import chromium, tab


def records_file(experiment) -> str:
    path = experiment.local_directory("records", "default.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def route(experiment, **query) -> tuple[int, dict]:
    response = api.route(Storage.current(), ["experiments", experiment.experiment_id, "records"],
                         {key: [str(value)] for key, value in query.items()})
    return response.status, json.loads(response.body)


# --- the API ----------------------------------------------------------------------------------

MILLION = 1_000_000
HIGH, LOW = 654_321, 123_457  # rows with a spike up and a spike down


def wave(i: int) -> float:
    return (i % 1000) / 1000


@pytest.fixture
def million(project):
    experiment = get("estimate_gravity").commit()
    path = records_file(experiment)
    with open(path, "w") as f:
        for start in range(0, MILLION, 50_000):
            f.write("".join(
                f'{{"step":{i},"loss":{1000.0 if i == HIGH else -1000.0 if i == LOW else wave(i)}}}\n'
                for i in range(start, start + 50_000)
            ))
    yield experiment
    os.remove(path)  # 25 MB: not left for pytest's temporary directories to keep


def test_a_million_rows_are_plotted_as_a_bounded_number_of_points_keeping_the_spikes(million):
    status, data = route(million)
    assert status == 200 and data["total"] == MILLION and data["x"] == "step"
    loss = data["series"]["loss"]
    assert MAX_POINTS // 2 <= len(loss) <= MAX_POINTS
    assert [HIGH, 1000.0] in loss and [LOW, -1000.0] in loss  # min/max per bucket: spikes survive
    assert [x for x, _ in loss] == sorted(x for x, _ in loss)
    sampled = data["sampled"]["loss"]
    assert sampled["rows"] == MILLION and sampled["bucket"] >= MILLION // MAX_POINTS and sampled["points"] == len(loss)
    assert data["extent"] == [0, MILLION - 1] and data["in_range"] == MILLION

    status, few = route(million, points=200)
    assert len(few["series"]["loss"]) <= 200 and [HIGH, 1000.0] in few["series"]["loss"]


def test_an_x_range_is_sent_at_full_resolution(million):
    status, data = route(million, x="step", **{"from": HIGH - 500, "to": HIGH + 499})
    assert status == 200 and data["in_range"] == 1000 and data["range"] == [HIGH - 500, HIGH + 499]
    loss = data["series"]["loss"]
    expected = [[i, 1000.0 if i == HIGH else wave(i)] for i in range(HIGH - 500, HIGH + 500)]
    assert loss == expected  # every row in the range, none outside it
    assert data["sampled"]["loss"] == {"rows": 1000, "bucket": 1, "points": 1000}
    assert data["total"] == MILLION and data["extent"] == [0, MILLION - 1]

    # a wide range is downsampled again, and only one end may be given
    status, wide = route(million, **{"from": 500_000})
    assert wide["in_range"] == 500_000 and len(wide["series"]["loss"]) <= MAX_POINTS
    assert min(x for x, _ in wide["series"]["loss"]) >= 500_000 and [HIGH, 1000.0] in wide["series"]["loss"]


def test_a_zoom_reads_only_the_blocks_of_its_range_once_the_file_is_mapped(project, monkeypatch):
    from machinable.ui import rowmap

    experiment = get("estimate_gravity").commit()
    path = records_file(experiment)
    with open(path, "w") as f:
        f.write("".join(f'{{"step":{i},"loss":{wave(i)},"note":"n"}}\n' for i in range(50_000)))
        f.write("not a row\n")
        f.write("".join(f'{{"step":{i},"loss":{wave(i)}}}\n' for i in range(50_000, 60_000)))
    read = []
    original = rowmap.Positioned.__iter__

    def counting(self):
        for row in original(self):
            read.append(row["step"])
            yield row

    monkeypatch.setattr(rowmap.Positioned, "__iter__", counting)
    full = route(experiment)[1]  # maps the file
    assert len(read) == 60_000 and full["skipped"] == 1
    for low, high in ((20_000, 21_000), (None, 100), (55_000, None), (49_990, 50_010)):
        read.clear()
        query = {"x": "step", **({"from": low} if low is not None else {}), **({"to": high} if high is not None else {})}
        status, zoomed = route(experiment, **query)
        assert status == 200 and len(read) <= 2 * rowmap.BLOCK, (low, high, len(read))
        rowmap._maps.clear()
        read.clear()
        assert zoomed == route(experiment, **query)[1] and len(read) == 60_000  # the same as a full pass
    route(experiment)  # mapped again

    with open(path, "a") as f:  # a file that grew is read in full again
        f.write('{"step": 20500.5, "loss": 7}\n')
    read.clear()
    status, grown = route(experiment, x="step", **{"from": 20_000, "to": 21_000})
    assert len(read) == 60_001 and [20500.5, 7] in grown["series"]["loss"] and grown["in_range"] == 1002


@pytest.mark.parametrize("query, message", [
    ({"from": "abc"}, "from='abc' is not a number"),
    ({"to": "nan"}, "is not a finite number"),
    ({"from": 5, "to": 1}, "from=5.0 is above to=1.0"),
    ({"points": 10}, "points=10 is out of range"),
])
def test_bad_ranges_are_clear_errors(project, query, message):
    experiment = get("estimate_gravity").commit()
    with open(records_file(experiment), "w") as f:
        f.write('{"step": 0, "loss": 1}\n')
    status, data = route(experiment, **query)
    assert status == 400 and message in data["error"], data


# --- in the browser ---------------------------------------------------------------------------

ROWS = 5000


def loss(i: int) -> float:
    return 50.0 if i == 2500 else 1 / (1 + i / 100)


def test_plots_choose_the_x_axis_log_scale_smoothing_zoom_and_hover(project):
    experiment = get("estimate_gravity").commit()
    with open(records_file(experiment), "w") as f:
        for i in range(ROWS):
            f.write(json.dumps({"step": i, "epoch": i / 100, "loss": loss(i), "acc": i / ROWS, "const": 0.5}) + "\n")
    server = create_server(project.storage, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(f"{server.url}#/experiment/{experiment.experiment_id}")
            plot = '#plots svg[data-column="loss"]'
            page.wait_for_selector(plot)
            columns = page.eval_on_selector_all("#plots svg.plot", "s => s.map(p => p.dataset.column)")
            assert columns == ["epoch", "loss", "acc", "const"]  # against step, the default x axis
            shown = int(page.get_attribute(f"{plot} path.series", "data-points"))
            assert shown <= MAX_POINTS < 2 * ROWS and "5,000 rows · min/max per" in page.text_content(f"{plot} .sampling")

            # x axis: any numeric column
            page.select_option("#x-axis", "epoch")
            page.wait_for_function("() => document.querySelector('#plots svg.plot')?.getAttribute('aria-label') === 'step against epoch'")
            assert page.eval_on_selector_all("#plots svg.plot", "s => s.map(p => p.dataset.column)") == ["step", "loss", "acc", "const"]

            # log scale: powers of ten on the y axis, drawn again without asking the server
            asked = len(page.requested)
            page.check("#log-y")
            page.wait_for_selector(f'{plot}[data-scale="log"]')
            ticks = page.eval_on_selector_all(f"{plot} text.tick", "ts => ts.map(t => t.textContent)")
            assert {"0.1", "1", "10"} <= set(ticks), ticks
            assert len(page.requested) == asked

            # smoothing: a smoothed line over the faded raw one
            page.fill("#smoothing", "60")  # percent
            page.wait_for_selector(f'{plot}[data-smoothing="0.6"] path.smoothed')
            assert page.locator(f"{plot} path.raw").count() == 1
            # a constant smoothed on a log scale differs from itself only by rounding: a few ticks, not endless ones
            assert 1 <= page.locator('#plots svg[data-column="const"] text.tick').count() <= 30
            page.fill("#smoothing", "0")
            page.wait_for_selector(f'{plot}[data-smoothing="0"]')
            page.uncheck("#log-y")
            page.wait_for_selector(f'{plot}[data-scale="linear"]')

            # zoom: drag across a quarter of the plot; the server sends that x range at full resolution
            page.locator(plot).scroll_into_view_if_needed()
            box = page.locator(plot).bounding_box()
            scale = box["width"] / 440  # the plot's viewBox is 440 wide, its drawn area 58..426
            start, end = box["x"] + (58 + 0.25 * 368) * scale, box["x"] + (58 + 0.5 * 368) * scale
            middle = box["y"] + box["height"] / 2
            page.mouse.move(start, middle)
            page.mouse.down()
            page.mouse.move((start + end) / 2, middle, steps=3)
            assert page.get_attribute(f"{plot} rect.zoom-box", "visibility") == "visible"
            page.mouse.move(end, middle, steps=3)
            page.mouse.up()
            page.wait_for_selector(f"{plot}[data-from]")
            low, high = float(page.get_attribute(plot, "data-from")), float(page.get_attribute(plot, "data-to"))
            assert 10 < low < high < 30  # epochs, a quarter of 0..49.99 from a quarter on
            assert any("from=" in url and "&to=" in url and "x=epoch" in url for url in page.requested)
            inside = [i for i in range(ROWS) if low <= i / 100 <= high]
            assert int(page.get_attribute(f"{plot} path.series", "data-points")) == len(inside)
            assert page.text_content(f"{plot} .sampling") == f"{len(inside):,} rows"
            assert "Show all rows" in page.text_content("#reset-zoom")

            # hover: the nearest point's x and y, one of the rows
            page.mouse.move((start + end) / 2, box["y"] + box["height"] * 0.6)
            page.wait_for_selector(f'{plot} text.hover-label[visibility="visible"]')
            x, y = float(page.get_attribute(plot, "data-hover-x")), float(page.get_attribute(plot, "data-hover-y"))
            step = round(x * 100)
            assert step in inside and abs(y - loss(step)) < 1e-12, (x, y)
            assert page.text_content(f"{plot} text.hover-label").startswith("x=")

            # double-click: all rows again
            page.dblclick(plot)
            page.wait_for_function(f"() => !document.querySelector('{plot}').hasAttribute('data-from')")
            assert int(page.get_attribute(f"{plot} path.series", "data-points")) <= MAX_POINTS
            assert page.locator("#reset-zoom").count() == 0
    finally:
        server.stop()


def test_compare_plots_zoom_every_experiment_and_share_log_scale_and_smoothing(project):
    experiments = [get("estimate_gravity", {"time_dilation": d}).commit() for d in (1.0, 2.0)]
    for number, experiment in enumerate(experiments):
        with open(records_file(experiment), "w") as f:
            for i in range(ROWS):
                f.write(json.dumps({"step": i, "loss": (number + 1) * loss(i)}) + "\n")
    a, b = (experiment.experiment_id for experiment in experiments)
    server = create_server(project.storage, port=0).start()
    try:
        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(f"{server.url}#/compare?ids={a},{b}")
            plot = '#compare-plots svg[data-column="loss"]'
            page.wait_for_selector(plot)
            assert page.locator(f"{plot} path.series").count() == 2
            page.check("#compare-log-y")
            page.wait_for_selector(f'{plot}[data-scale="log"]')
            page.fill("#compare-smoothing", "50")
            page.wait_for_selector(f'{plot}[data-smoothing="0.5"]')
            assert page.locator(f"{plot} path.smoothed").count() == 2

            page.locator(plot).scroll_into_view_if_needed()
            box = page.locator(plot).bounding_box()
            scale = box["width"] / 440
            start, end = box["x"] + (58 + 0.1 * 368) * scale, box["x"] + (58 + 0.2 * 368) * scale
            middle = box["y"] + box["height"] / 2
            page.mouse.move(start, middle)
            page.mouse.down()
            page.mouse.move(end, middle, steps=4)
            page.mouse.up()
            page.wait_for_selector(f"{plot}[data-from]")
            low, high = float(page.get_attribute(plot, "data-from")), float(page.get_attribute(plot, "data-to"))
            inside = sum(1 for i in range(ROWS) if low <= i <= high)
            for experiment_id in (a, b):  # each experiment's rows of the range, at full resolution
                assert any(f"/api/experiments/{experiment_id}/records" in url and "from=" in url for url in page.requested)
                points = page.get_attribute(f'{plot} path.series[data-series="{experiment_id}"]', "data-points")
                assert int(points) == inside
            assert page.get_attribute(plot, "data-scale") == "log" and page.get_attribute(plot, "data-smoothing") == "0.5"

            page.mouse.move((start + end) / 2, middle)
            page.wait_for_selector(f'{plot} text.hover-label[visibility="visible"]')
            label = page.text_content(f"{plot} text.hover-label")
            assert label.startswith("time_dilation=") and "x=" in label and "y=" in label  # which run, by its config
            page.click("#compare-reset-zoom")
            page.wait_for_function(f"() => !document.querySelector('{plot}').hasAttribute('data-from')")
    finally:
        server.stop()
