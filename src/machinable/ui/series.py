"""A scope's records summarised in one streaming pass: what the dashboard plots and tabulates.

Memory does not grow with the number of rows: the last TABLE_ROWS rows are kept, and each
numeric column is downsampled as it streams to at most `limit` points (default MAX_POINTS):
the lowest and the highest value of each run of consecutive rows, so spikes stay visible.
A range of x (`low`..`high`) restricts the plotted points to the rows whose x lies in it,
downsampled the same way: zooming in shows every row once the range holds few enough.
The answer says, per column, how many rows each plotted point stands for (`sampled`).
"""

from __future__ import annotations

import math
import time
from collections import deque

MAX_POINTS = 2000  # per plotted column, by default
POINT_LIMITS = (50, 20_000)  # the fewest and most points per column a request may ask for
TABLE_ROWS = 200
MAX_COLUMNS = 1000  # keys beyond these are left out of the columns, plots and `numeric`
AUTO_X = ("step", "iteration", "epoch")  # the x axis unless one is asked for: the first a row has


_UNSEEN = object()

UNPLOTTED = ("_timestamp", "_attempt")  # columns machinable adds to each row: never a line of their own


def _finite(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


class Downsampled:
    """The points of one series reduced while they arrive to at most `limit`.

    Consecutive points share a bucket (1 point per bucket at first); when there are too
    many buckets, neighbours merge and buckets hold twice as many. Each bucket keeps its
    lowest and its highest point.
    """

    __slots__ = ("buckets", "size", "most", "count")

    def __init__(self, limit: int = MAX_POINTS):
        self.buckets: list = []  # [count, lowest, highest]; points are (row index, x, y)
        self.size = 1
        self.most = max(1, limit // 2)
        self.count = 0

    def add(self, point: tuple) -> None:
        self.count += 1
        buckets = self.buckets
        if buckets and buckets[-1][0] < self.size:
            bucket = buckets[-1]
            bucket[0] += 1
            if point[2] < bucket[1][2]:
                bucket[1] = point
            elif point[2] > bucket[2][2]:
                bucket[2] = point
            return
        buckets.append([1, point, point])
        if len(buckets) > self.most:
            self._merge()

    def _merge(self) -> None:
        merged = []
        for first, second in zip(self.buckets[0::2], self.buckets[1::2]):
            merged.append([
                first[0] + second[0],
                min(first[1], second[1], key=lambda point: point[2]),
                max(first[2], second[2], key=lambda point: point[2]),
            ])
        if len(self.buckets) % 2:
            merged.append(self.buckets[-1])
        self.buckets = merged
        self.size *= 2

    def points(self) -> list:
        """[[x, y], ...] in the order of the rows."""
        found = []
        for _, lowest, highest in self.buckets:
            for point in sorted({lowest, highest}):
                found.append([point[1], point[2]])
        return found

    def summary(self) -> dict:
        """The rows the points stand for, the rows per bucket and the points (every row when `bucket` <= 2)."""
        return {"rows": self.count, "bucket": self.size,
                "points": sum(len({lowest, highest}) for _, lowest, highest in self.buckets)}


def summarise(rows, x: str | None = None, low: float | None = None, high: float | None = None,
              limit: int = MAX_POINTS, track=None) -> dict:
    """Columns, numeric columns, total, the last rows and the downsampled series of `rows`.

    `x` names the column plotted on the x axis ("" for the row index; None: the first of
    AUTO_X that the first row holds as a number, else the row index). `low`/`high` (either
    may be None) keep only the points whose x lies within them; `extent` is the x range of
    all rows, `in_range` the number of rows within the range. `track(index, x)` is told each
    row's x (see `rowmap`).
    """
    kinds: dict = {}  # column -> True (numbers so far), False (something else seen), None (only nulls)
    series: dict = {}
    last = deque(maxlen=TABLE_ROWS)
    total = in_range = 0
    least = most = None
    for index, row in enumerate(rows):
        total += 1
        if not total % 2000:
            time.sleep(0)  # let the server's other requests run: CPU-bound threads otherwise starve them
        last.append(row)
        if x is None:
            x = next((name for name in AUTO_X if _finite(row.get(name))), "")
        where = row.get(x) if x else index
        if track is not None:
            track(index, where)
        plotted = _finite(where)
        if plotted:
            if least is None or where < least:
                least = where
            if most is None or where > most:
                most = where
            plotted = (low is None or where >= low) and (high is None or where <= high)
            in_range += plotted
        for key, value in row.items():
            kind = kinds.get(key, _UNSEEN)
            if kind is _UNSEEN:
                if len(kinds) >= MAX_COLUMNS:
                    continue
                kinds[key] = kind = None
            if kind is False or value is None:
                continue
            if type(value) not in (int, float):
                kinds[key] = False
                series.pop(key, None)
                continue
            kinds[key] = True
            if plotted and key != x and key not in UNPLOTTED and _finite(value):
                line = series.get(key)
                if line is None:
                    line = series[key] = Downsampled(limit)
                line.add((index, where, value))
    numeric = [column for column, kind in kinds.items() if kind is True]
    plotted_columns = [column for column in numeric if column != x and column not in UNPLOTTED]
    return {
        "columns": list(kinds),
        "numeric": numeric,
        "x": x or "",
        "total": total,
        "first_row": total - len(last),
        "rows": list(last),
        "extent": [least, most] if least is not None else None,
        "range": [low, high],
        "in_range": in_range,
        "series": {column: series[column].points() if column in series else [] for column in plotted_columns},
        "sampled": {column: series[column].summary() if column in series else {"rows": 0, "bucket": 1, "points": 0}
                    for column in plotted_columns},
    }
