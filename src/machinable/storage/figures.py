"""Figures as data files: `save_data("loss.png", figure)` and `.svg`.

A .png is made from a matplotlib figure (anything with `savefig`), a PIL image, a numpy
uint8 array (H×W grey, H×W×3 RGB or H×W×4 RGBA; written by the small encoder below, no
Pillow needed) or the bytes of a PNG; a .svg from a matplotlib figure, the bytes of an SVG or
its text. Nothing is imported here: a figure object brings its library along, and a wrong
object is refused (before anything is written) with what would have worked.

Loading returns the stored bytes as `PNG` or `SVG`, plain `bytes` subclasses: the same type
whatever is installed, shown inline by Jupyter (a PNG; an SVG could carry scripts, so it is
not rendered), and `to_image()` opens a PNG with Pillow (`pip install 'machinable[figures]'`).
"""

from __future__ import annotations

import io
import re
import struct
import zlib

from machinable.errors import UnsupportedFormat

IMAGE_FORMATS = (".png", ".svg")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXTRA = "pip install 'machinable[figures]'"

# an SVG document: optional BOM, XML declaration, comments, doctype, then the <svg root element
_SVG_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:(?:<!--.*?-->|<!DOCTYPE[^>]*>)\s*)*<svg[\s>/]", re.S | re.I
)


class PNG(bytes):
    """The bytes of a stored PNG; Jupyter shows it, `to_image()` opens it with Pillow."""

    def _repr_png_(self) -> bytes:
        return bytes(self)

    def to_image(self):
        """A `PIL.Image.Image` of this PNG (needs Pillow: pip install 'machinable[figures]')."""
        try:
            from PIL import Image
        except ImportError:
            raise ImportError(f"Opening a PNG as an image needs Pillow: {EXTRA} (or pip install pillow).") from None
        return Image.open(io.BytesIO(self))


class SVG(bytes):
    """The bytes of a stored SVG (`.decode()` for the text); not rendered by Jupyter, as it may carry scripts."""


def is_png(raw: bytes) -> bool:
    return raw[:8] == PNG_MAGIC


def is_svg(raw: bytes) -> bool:
    return _SVG_START.match(raw[:65536]) is not None


def encode_image(ext: str, obj) -> bytes:
    """The file contents of `obj` as a .png or .svg; UnsupportedFormat for anything else."""
    if isinstance(obj, str) and ext == ".svg":
        obj = obj.encode()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        if (is_png if ext == ".png" else is_svg)(raw):
            return raw
        raise UnsupportedFormat(
            f"These {len(raw)} bytes are no {'PNG image (no PNG signature)' if ext == '.png' else 'SVG image (no <svg> root element)'}: "
            f"save {'the bytes of a PNG file' if ext == '.png' else 'the text or bytes of an SVG file'}, "
            "or a matplotlib figure, under a .png or .svg name."
        )
    if callable(getattr(obj, "savefig", None)):  # a matplotlib figure
        buffer = io.BytesIO()
        obj.savefig(buffer, format=ext[1:])
        return buffer.getvalue()
    if ext == ".png" and type(obj).__module__.startswith("PIL.") and callable(getattr(obj, "save", None)):
        buffer = io.BytesIO()
        try:
            obj.save(buffer, format="PNG")
        except (OSError, ValueError, KeyError) as e:
            raise UnsupportedFormat(f"Pillow cannot write this {getattr(obj, 'mode', '')} image as PNG ({e}); "
                                    "convert it first, e.g. image.convert('RGBA').") from e
        return buffer.getvalue()
    if ext == ".png" and hasattr(obj, "__array_interface__") and hasattr(obj, "dtype"):
        return png_from_array(obj)
    what = "a matplotlib figure, a PIL image, a uint8 numpy array (H×W, H×W×3 or H×W×4) or PNG bytes" \
        if ext == ".png" else "a matplotlib figure, or the text or bytes of an SVG"
    hint = " (for an Axes, pass ax.figure; for pyplot, plt.gcf())" if hasattr(obj, "get_figure") else ""
    if ext == ".svg" and type(obj).__module__.startswith("PIL."):
        hint = " (a PIL image is a raster image: save it as .png)"
    raise UnsupportedFormat(f"Cannot store a {type(obj).__name__} as {ext}: pass {what}{hint}.")


def png_from_array(array) -> bytes:
    """An 8-bit PNG of a uint8 array: H×W grey, H×W×1, H×W×2 grey+alpha, H×W×3 RGB or H×W×4 RGBA."""
    import numpy

    array = numpy.asarray(array)
    shape = array.shape
    channels = shape[2] if array.ndim == 3 else 1
    if array.dtype != numpy.uint8 or array.ndim not in (2, 3) or channels not in (1, 2, 3, 4) or 0 in shape:
        raise UnsupportedFormat(
            f"Cannot save a {array.dtype} array of shape {shape} as .png: pass uint8 values (0–255) shaped "
            "H×W (grey), H×W×3 (RGB) or H×W×4 (RGBA), e.g. (values * 255).astype('uint8')."
        )
    height, width = shape[:2]
    rows = numpy.ascontiguousarray(array).reshape(height, width * channels)
    scanlines = numpy.hstack([numpy.zeros((height, 1), numpy.uint8), rows])  # filter type 0 per row
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return PNG_MAGIC + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decode_image(ext: str, raw: bytes):
    return PNG(raw) if ext == ".png" else SVG(raw)
