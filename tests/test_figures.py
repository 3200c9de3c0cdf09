"""Figures: save_data("x.png"/"x.svg", a matplotlib figure, a PIL image or the file's bytes); the dashboard
shows them inline, safely (an SVG can run nothing)."""

import io
import json
import os
import urllib.request

import pytest

from machinable import get
from machinable.errors import UnsupportedFormat
from machinable.storage.figures import PNG, SVG, is_png, is_svg, png_from_array
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


# --- what save_data takes and load_data returns ----------------------------------------------

SVG_TEXT = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


@pytest.fixture
def experiment(project):
    return get("estimate_gravity").commit()


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def data_dir(experiment) -> list:
    directory = experiment.local_directory("data")
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_a_matplotlib_figure_is_saved_as_png_and_svg(experiment, pyplot):
    figure, axes = pyplot.subplots(figsize=(3, 2))
    axes.plot([0, 1, 2], [3, 1, 2])
    experiment.save_data("loss.png", figure)
    experiment.save_data("plots/loss.svg", figure)

    png = experiment.load_data("loss.png")
    assert isinstance(png, PNG) and isinstance(png, bytes) and is_png(png)
    assert png == open(experiment.local_directory("data", "loss.png"), "rb").read()
    assert png._repr_png_() == png  # Jupyter shows it inline
    assert png.to_image().size == (300, 200)  # figsize × 100 dpi

    svg = experiment.load_data("plots/loss.svg")
    assert isinstance(svg, SVG) and is_svg(svg) and "<svg" in svg.decode()
    assert not hasattr(svg, "_repr_svg_")  # an SVG may carry scripts: never rendered into a notebook


def test_a_pil_image_and_raw_bytes(experiment):
    Image = pytest.importorskip("PIL.Image")
    image = Image.new("RGB", (4, 3), (255, 0, 0))
    experiment.save_data("red.png", image)
    loaded = experiment.load_data("red.png").to_image()
    assert loaded.size == (4, 3) and loaded.getpixel((0, 0)) == (255, 0, 0)

    raw = experiment.load_data("red.png")
    experiment.save_data("copy.png", bytes(raw))
    experiment.save_data("view.png", memoryview(raw))
    experiment.save_data("UPPER.PNG", raw)  # the extension in any case
    assert experiment.load_data("copy.png") == experiment.load_data("view.png") == experiment.load_data("UPPER.PNG") == raw
    experiment.save_data("drawing.svg", SVG_TEXT)
    experiment.save_data("drawing2.svg", SVG_TEXT.encode())
    assert experiment.load_data("drawing.svg") == experiment.load_data("drawing2.svg") == SVG_TEXT.encode()


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 2), (5, 7, 3), (5, 7, 4)])
def test_a_uint8_array_is_encoded_without_pillow(experiment, shape):
    numpy = pytest.importorskip("numpy")
    array = numpy.random.default_rng(0).integers(0, 256, shape, dtype=numpy.uint8)
    experiment.save_data("array.png", array)
    raw = experiment.load_data("array.png")
    assert is_png(raw) and raw == png_from_array(array)
    Image = pytest.importorskip("PIL.Image")
    decoded = numpy.asarray(Image.open(io.BytesIO(raw)))
    assert (decoded.reshape(array.shape) == array).all()


def bad_objects():
    yield "a string as .png", "x.png", "a string"
    yield "not PNG bytes", "x.png", b"GIF89a..."
    yield "HTML as .svg", "x.svg", "<html><script>alert(1)</script></html>"
    yield "a dict", "x.png", {"a": 1}
    yield "a float array", "x.png", "float-array"
    yield "a 4-D array", "x.png", "4d-array"


@pytest.mark.parametrize("what, name, obj", list(bad_objects()), ids=[b[0] for b in bad_objects()])
def test_a_wrong_object_is_a_clear_error_before_anything_is_written(experiment, what, name, obj):
    if obj in ("float-array", "4d-array"):
        numpy = pytest.importorskip("numpy")
        obj = numpy.zeros((2, 2)) if obj == "float-array" else numpy.zeros((1, 2, 2, 3), numpy.uint8)
    experiment.save_data(name, _valid(name))  # an earlier version stays as it was
    before = data_dir(experiment), experiment.load_data(name)
    with pytest.raises(UnsupportedFormat) as info:
        experiment.save_data(name, obj)
    message = str(info.value)
    assert "matplotlib figure" in message or "uint8" in message, message
    assert (data_dir(experiment), experiment.load_data(name)) == before


def test_an_axes_or_a_pil_image_as_svg_says_what_to_pass(experiment, pyplot):
    figure, axes = pyplot.subplots()
    with pytest.raises(UnsupportedFormat, match=r"pass ax\.figure"):
        experiment.save_data("axes.png", axes)
    Image = pytest.importorskip("PIL.Image")
    with pytest.raises(UnsupportedFormat, match=r"raster image: save it as \.png"):
        experiment.save_data("photo.svg", Image.new("RGB", (2, 2)))
    assert data_dir(experiment) == []


def test_to_image_without_pillow_names_the_extra(experiment, monkeypatch):
    import sys

    numpy = pytest.importorskip("numpy")
    experiment.save_data("tiny.png", png_from_array(numpy.zeros((1, 1), numpy.uint8)))
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"machinable\[figures\]"):
        experiment.load_data("tiny.png").to_image()


def _valid(name: str):
    if name.endswith(".svg"):
        return SVG_TEXT
    return b"\x89PNG\r\n\x1a\n" + b"\0" * 8
