"""Terminal tables (rich) shared by `Collection.as_table()` and the command line."""

from __future__ import annotations

import json


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


def fit(rows: list[dict], width: int, fixed=("id", "module", "status", "created")) -> list[dict]:
    """The rows as they are if one column per key fits `width`, else with the other keys in one `config` column."""
    natural = 1 + sum(
        3 + max([len(str(column))] + [len(cell(row.get(column, ""))) for row in rows]) for column in columns(rows)
    )
    if natural <= width:
        return rows
    fitted = []
    for row in rows:
        kept = {key: value for key, value in row.items() if key in fixed}
        kept["config"] = "  ".join(f"{key}={cell(value)}" for key, value in row.items() if key not in fixed)
        fitted.append(kept)
    return fitted


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def table(rows: list[dict], title: str | None = None, no_wrap=("id", "module", "status", "created", "time")):
    from rich.markup import escape
    from rich.table import Table

    keys = columns(rows)
    result = Table(title=title)
    for key in keys:
        result.add_column(str(key), no_wrap=key in no_wrap, overflow="fold")
    for row in rows:
        result.add_row(*(escape(cell(row.get(key, ""))) for key in keys))
    return result


def render(rows: list[dict], title: str | None = None, fixed=("id", "module", "status", "created")) -> str:
    """The rows as a table fitted to the terminal, as text."""
    out = console()
    with out.capture() as capture:
        out.print(table(fit(rows, out.width, fixed), title))
    return capture.get()
