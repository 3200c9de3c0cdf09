"""Terminal tables shared by `Collection.as_table()` and the command line.

Drawn here in rich's default box style (rich itself costs ~15 ms to import, more than a
`machinable list` may take in all): a heavy header, one column per key, and cells that
do not fit the width wrapped within their column.
"""

from __future__ import annotations

import json
import shutil

FIXED = ("id", "module", "status", "created")
NO_WRAP = ("id", "module", "status", "created", "time")


def columns(rows: list[dict]) -> list:
    """Every key of the rows, in order of first appearance."""
    found: list = []
    for row in rows:
        found.extend(key for key in row if key not in found)
    return found


def cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def fit(rows: list[dict], width: int, fixed=FIXED) -> list[dict]:
    """The rows as they are if one column per key fits `width`, else without the `created` column if
    that fits, else with the non-fixed keys in one `config` column."""
    if _natural_width(rows) <= width:
        return rows
    if "created" in fixed:
        without = [{key: value for key, value in row.items() if key != "created"} for row in rows]
        if _natural_width(without) <= width:
            return without
    fitted = []
    for row in rows:
        kept = {key: value for key, value in row.items() if key in fixed}
        kept["config"] = "  ".join(f"{key}={cell(value)}" for key, value in row.items() if key not in fixed)
        fitted.append(kept)
    return fitted


def _natural_width(rows: list[dict]) -> int:
    return 1 + sum(3 + max([len(str(column))] + [len(cell(row.get(column, ""))) for row in rows]) for column in columns(rows))


def terminal_size() -> tuple[int, int]:
    """(columns, lines) of the terminal ($COLUMNS/$LINES first; 80 x 24 when there is none)."""
    return tuple(shutil.get_terminal_size((80, 24)))


def width_of(text: str) -> int:
    """Terminal cells `text` takes (East Asian wide characters take two)."""
    if text.isascii():
        return len(text)
    from unicodedata import combining, east_asian_width

    return sum(0 if combining(c) else 2 if east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells, broken at spaces where possible, else inside words."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if width_of(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while width_of(word) > width:
                cut = width
                while width_of(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:max(cut, 1)])
                word = word[max(cut, 1):]
            line = word
        lines.append(line)
    return lines


def _layout(rows: list[dict], width: int, no_wrap=NO_WRAP) -> tuple[list, list, list]:
    """The keys, each column's width (the widest wrappable ones narrowed to fit `width` where they
    can) and each row's cell texts."""
    keys = columns(rows)
    texts = [[cell(row.get(key, "")).replace("\t", " ") for key in keys] for row in rows]
    widths = [max([width_of(str(key))] + [max(map(width_of, t[i].splitlines() or [""])) for t in texts])
              for i, key in enumerate(keys)]
    excess = 1 + sum(w + 3 for w in widths) - width
    wrappable = [i for i, key in enumerate(keys) if key not in no_wrap]
    while excess > 0 and wrappable:  # narrow the widest wrappable column, down to its header
        widest = max(wrappable, key=lambda i: widths[i])
        floor = max(width_of(str(keys[widest])), 4)
        if widths[widest] <= floor:
            wrappable.remove(widest)
            continue
        cut = min(excess, widths[widest] - floor)
        widths[widest] -= cut
        excess -= cut
    return keys, widths, texts


def fitting(rows: list[dict], width: int, height: int, no_wrap=NO_WRAP) -> int:
    """How many of the first rows `draw()` fits in `height` lines (at least one)."""
    keys, widths, texts = _layout(rows, width, no_wrap)
    left = height - 4  # the frame: top, header, rule, bottom (a header that wraps is not counted)
    for count, values in enumerate(texts):
        left -= max(len(_wrap(value, w)) for value, w in zip(values, widths))
        if left < 0:
            return max(count, 1)
    return len(rows)


def draw(rows: list[dict], width: int | None = None, title: str | None = None, no_wrap=NO_WRAP) -> str:
    """The rows as a boxed table at most `width` cells wide (the terminal's by default) where it can be."""
    width = terminal_size()[0] if width is None else width
    keys, widths, texts = _layout(rows, width, no_wrap)
    if not keys:
        return ""

    def line(left, fill, middle, right):
        return left + middle.join(fill * (w + 2) for w in widths) + right

    def cells(values, bar):
        wrapped = [_wrap(value, w) for value, w in zip(values, widths)]
        height = max(len(lines) for lines in wrapped)
        return [
            bar + bar.join(f" {_pad(lines[k] if k < len(lines) else '', w)} " for lines, w in zip(wrapped, widths)) + bar
            for k in range(height)
        ]

    out = []
    if title:
        total = 1 + sum(w + 3 for w in widths)
        out.append(title.center(total).rstrip())
    out.append(line("┏", "━", "┳", "┓"))
    out += cells([str(key) for key in keys], "┃")
    out.append(line("┡", "━", "╇", "┩"))
    for values in texts:
        out += cells(values, "│")
    out.append(line("└", "─", "┴", "┘"))
    return "\n".join(out) + "\n"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - width_of(text))


def render(rows: list[dict], title: str | None = None, fixed=FIXED) -> str:
    """The rows as a table fitted to the terminal, as text."""
    width = terminal_size()[0]
    return draw(fit(rows, width, fixed), width, title)
