"""Figures: save_data("x.png"/"x.svg", a matplotlib figure, a PIL image or the file's bytes); the dashboard
shows them inline, safely (an SVG can run nothing)."""

import io
import json
import os
import urllib.request

import pytest

from machinable import get
from machinable.errors import UnsupportedFormat
from machinable.storage.files import PNG_MAGIC

PLOTTER = '''
from machinable import Experiment


class Plotter(Experiment):
    def on_execute(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from PIL import Image

        figure, axes = plt.subplots(figsize=(3, 2))
        axes.plot([0, 1, 2], [2, 1, 0.5])
        self.save_data("loss.png", figure)
        self.save_data("loss.svg", figure)
        self.save_data("plots/square.png", Image.new("RGB", (40, 30), "red"))
        plt.close(figure)
'''

EVIL_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


@pytest.fixture
def plotted(project):
    pytest.importorskip("matplotlib", reason="figures need matplotlib (pip install 'machinable[figures]')")
    pytest.importorskip("PIL", reason="figures need Pillow (pip install 'machinable[figures]')")
    project.write("plotter.py", PLOTTER)
    experiment = get("plotter").launch()
    experiment.save_data("evil.svg", EVIL_SVG)
    with open(experiment.local_directory("data", "fake.png"), "w") as f:
        f.write("<html>not a png</html>")
    return experiment


def test_figures_and_images_are_stored_as_files(plotted):
    png = plotted.load_data("loss.png")
    assert png.startswith(PNG_MAGIC)
    assert b"<svg" in plotted.load_data("loss.svg")
    from PIL import Image

    assert Image.open(io.BytesIO(plotted.load_data("plots/square.png"))).size == (40, 30)
    plotted.save_data("copy.png", png)  # a file's own bytes
    assert plotted.load_data("copy.png") == png


@pytest.mark.parametrize("name, obj, message", [
    ("x.png", b"GIF89a", "no PNG image"),
    ("x.svg", "<html></html>", "no SVG image"),
    ("x.png", [1, 2, 3], "Cannot store a list as .png"),
    ("x.svg", object(), "Cannot store a object as .svg"),
])
def test_what_is_no_image_is_refused_before_anything_is_written(plotted, name, obj, message):
    with pytest.raises(UnsupportedFormat, match=message):
        plotted.save_data(name, obj)
    assert not os.path.exists(plotted.local_directory("data", name))


def test_the_dashboard_serves_images_inline_and_svg_without_scripts(plotted):
    from machinable.ui import create_server

    server = create_server(plotted.storage, port=0).start()
    try:
        base = f"{server.url}api/experiments/{plotted.experiment_id}"
        with urllib.request.urlopen(f"{base}") as response:
            files = {entry["name"]: entry for entry in json.load(response)["data"]}
        assert files["loss.png"]["image"] and files["plots/square.png"]["image"] and not files["evil.svg"]["text"]
        with urllib.request.urlopen(f"{base}/data/loss.png") as response:
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["Content-Disposition"].startswith("inline")
            assert response.read().startswith(PNG_MAGIC)
        with urllib.request.urlopen(f"{base}/data/evil.svg") as response:
            assert response.headers["Content-Type"] == "image/svg+xml"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            assert "sandbox" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        with urllib.request.urlopen(f"{base}/data/fake.png") as response:  # not a PNG inside: a download
            assert response.headers["Content-Type"] == "application/octet-stream"
            assert response.headers["Content-Disposition"].startswith("attachment")

        from ui_support import chromium, tab

        with chromium() as browser, tab(browser, server.url) as page:
            page.goto(f"{server.url}#/experiment/{plotted.experiment_id}")
            page.wait_for_selector("#figures img")
            page.wait_for_function("() => [...document.querySelectorAll('#figures img')].every(i => i.complete)")
            widths = page.eval_on_selector_all("#figures img", "images => images.map(i => [i.alt, i.naturalWidth])")
            assert {name: width > 0 for name, width in widths} == {
                "evil.svg": True, "loss.png": True, "loss.svg": True, "plots/square.png": True}
            assert page.evaluate("() => window.alerted === undefined")
    finally:
        server.stop()
