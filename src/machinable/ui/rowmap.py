"""Where in a scope's records files the rows of an x range are, so a zoomed plot reads only those.

A full pass over the records (`series.summarise`) notes, for each block of BLOCK rows, the file and
byte offset of its first row and the lowest and highest x of its rows. A request for an x range
then reads only the blocks whose x span meets the range, and answers exactly what a full pass
with that range answers. The map is kept (a few per server) while the files keep their size and
modification time; a file that changed is read in full again.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from itertools import islice

from machinable.records import MAX_LINE, _open, _row
from machinable.ui.series import MAX_POINTS, UNPLOTTED, Downsampled, _finite, summarise

BLOCK = 4096  # rows
KEPT = 8  # maps kept at once (each: a few numbers per block, and the last rows of the table)
SUMMARY_FIELDS = ("columns", "numeric", "x", "total", "first_row", "rows", "extent")

_maps: OrderedDict = OrderedDict()
_lock = threading.Lock()


class Positioned:
    """The rows of segment files as `records.Rows` reads them (damaged lines skipped and counted),
    from `start` = (file number, byte offset); `position` is where the row last given starts."""

    def __init__(self, paths, start: tuple = (0, 0)):
        self.paths = list(paths)
        self.start = start
        self.position = start
        self.skipped = 0

    def __iter__(self):
        first, offset = self.start
        for number in range(first, len(self.paths)):
            f = _open(self.paths[number])
            if f is None:
                continue
            with f:
                at = offset if number == first else 0
                f.seek(at)
                while line := f.readline(MAX_LINE):
                    here, at = at, at + len(line)
                    if len(line) == MAX_LINE and not line.endswith(b"\n"):
                        while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                            at += len(rest)
                        at += len(rest)
                        self.skipped += 1
                        continue
                    row = _row(line)
                    if row:
                        self.position = (number, here)
                        yield row
                    elif row is False:
                        self.skipped += 1


class _Blocks:
    """Called with each row's index and x during a full pass: the blocks' starts and x spans."""

    def __init__(self, reader: Positioned):
        self.reader = reader
        self.blocks: list = []  # [file number, offset, lowest x, highest x]

    def __call__(self, index: int, where) -> None:
        if index % BLOCK == 0:
            self.blocks.append([*self.reader.position, None, None])
        if _finite(where):
            block = self.blocks[-1]
            if block[2] is None or where < block[2]:
                block[2] = where
            if block[3] is None or where > block[3]:
                block[3] = where


def _key(paths, x: str) -> tuple:
    stats = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            stats.append((path, None))
            continue
        stats.append((path, stat.st_size, stat.st_mtime_ns))
    return (tuple(stats), x)


def records(paths, x: str | None = None, low: float | None = None, high: float | None = None,
            limit: int = MAX_POINTS) -> dict:
    """`series.summarise` of the rows of `paths` (and `skipped`), reading only the blocks an x range
    needs once a full pass has mapped the files for this x."""
    paths = list(paths)
    ranged = low is not None or high is not None
    if ranged and x is not None:
        key = _key(paths, x)
        with _lock:
            known = _maps.get(key)
            if known is not None:
                _maps.move_to_end(key)
        if known is not None:
            return _within(paths, known, low, high, limit)
    before = _key(paths, "")[0]
    reader = Positioned(paths)
    blocks = _Blocks(reader)
    answer = summarise(reader, x, low, high, limit, track=blocks)
    answer["skipped"] = reader.skipped
    key = _key(paths, answer["x"])
    if key[0] == before:  # the files did not change while they were read
        known = {"blocks": blocks.blocks, "skipped": reader.skipped,
                 **{name: answer[name] for name in SUMMARY_FIELDS}}
        with _lock:
            _maps[key] = known
            _maps.move_to_end(key)
            while len(_maps) > KEPT:
                _maps.popitem(last=False)
    return answer


def _within(paths, known: dict, low, high, limit: int) -> dict:
    """The answer for an x range from the blocks whose x span meets it."""
    x = known["x"]
    numeric = known["numeric"]
    plotted = [column for column in numeric if column != x and column not in UNPLOTTED]
    series = {}
    in_range = 0
    read = 0
    for number, (file_number, offset, lowest, highest) in enumerate(known["blocks"]):
        if lowest is None or (low is not None and highest < low) or (high is not None and lowest > high):
            continue
        first = number * BLOCK
        for index, row in enumerate(islice(Positioned(paths, (file_number, offset)), BLOCK), start=first):
            read += 1
            if not read % 2000:
                time.sleep(0)  # as in summarise: let other requests run
            where = row.get(x) if x else index
            if not _finite(where) or (low is not None and where < low) or (high is not None and where > high):
                continue
            in_range += 1
            for column in plotted:
                value = row.get(column)
                if type(value) in (int, float) and _finite(value):
                    line = series.get(column)
                    if line is None:
                        line = series[column] = Downsampled(limit)
                    line.add((index, where, value))
    return {
        **{name: known[name] for name in SUMMARY_FIELDS},
        "range": [low, high],
        "in_range": in_range,
        "series": {column: series[column].points() if column in series else [] for column in plotted},
        "sampled": {column: series[column].summary() if column in series else {"rows": 0, "bucket": 1, "points": 0}
                    for column in plotted},
        "skipped": known["skipped"],
    }
