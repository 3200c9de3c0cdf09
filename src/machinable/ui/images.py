"""Images among the data files: served so a browser can show them, and nothing more.

A .png is served as image/png only if it starts with the PNG signature; a .svg as
image/svg+xml only if it is an SVG document, and always with a Content-Security-Policy
that allows no scripts, no requests and no plugins (`sandbox`), so an SVG that carries a
script cannot run it even when opened on its own. The page shows them through <img>,
never inline in its DOM. Anything else falls back to the download the caller serves.
"""

from __future__ import annotations

import os

from machinable.storage.figures import IMAGE_FORMATS, is_png, is_svg

CONTENT_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}
IMAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
SNIFF = 65536  # bytes read to recognize an SVG document


def content_type(path: str) -> str | None:
    """image/png or image/svg+xml if the file at `path` is what its extension says, else None."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in IMAGE_FORMATS:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(8 if ext == ".png" else SNIFF)
    except OSError:
        return None
    return CONTENT_TYPES[ext] if (is_png if ext == ".png" else is_svg)(head) else None


def headers(filename: str) -> dict:
    """The headers of a served image (on top of the dashboard's own): shown inline, no scripts, no sniffing."""
    return {
        "Content-Security-Policy": IMAGE_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"inline; filename*=UTF-8''{filename}",
    }


def gallery(files_per_run: list[list[dict]]) -> list[dict]:
    """The images to show side by side (one list of `stored.data_files` per run): the names of at
    least two runs (every name for one run), sorted, each with which runs have it."""
    found: dict = {}
    for index, files in enumerate(files_per_run):
        for file in files:
            if file["image"]:
                found.setdefault(file["name"], set()).add(index)
    least = min(2, len(files_per_run))
    return [{"name": name, "present": [index in runs for index in range(len(files_per_run))]}
            for name, runs in sorted(found.items()) if len(runs) >= least]
