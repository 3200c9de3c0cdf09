"""Figures as data files: save_data("x.png"/"x.svg", figure) and load_data returning the bytes."""

from __future__ import annotations

import io
import os

import pytest

from machinable import get
from machinable.errors import UnsupportedFormat
from machinable.storage.figures import PNG, SVG, is_png, is_svg, png_from_array

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
