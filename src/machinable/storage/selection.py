"""Conditions (`machinable.conditions`) run inside the SQLite index.

Every config value is also stored as a row of `leaves` (experiment id, key path as a JSON
array, kind, value), indexed by (key, kind, value): equality and ranges on one key are
index lookups. Kinds: b(ool) 0/1, n(umber) INTEGER or REAL (NaN as NULL; SQLite compares
integers with reals exactly), N (an integer beyond 64 bits, stored rounded as REAL),
s(tring), z (None), j(son text of a list or an empty dict, values normalised as equality
sees them). Where SQL cannot decide exactly (running or died, predicates, integers beyond
64 bits), it selects a superset and `exact` is False: the caller checks each row in Python.
"""

from __future__ import annotations

import json
import math

from machinable.conditions import SUMMARY, Condition, Where
from machinable.conditions.model import normal

SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (id TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, value);
CREATE INDEX IF NOT EXISTS leaves_lookup ON leaves (key, kind, value, id);
CREATE INDEX IF NOT EXISTS leaves_experiment ON leaves (id, key);
"""

INT64 = 2**63
COLUMNS = {"module": "e.module", "group": "e.grp", "id": "e.id", "ancestor": "e.ancestor",
           "created": "e.timestamp", "seed": "e.seed"}
SORT_COLUMNS = {**COLUMNS, "created": "e.created"}  # conditions see whole seconds, as `experiment.timestamp`
INCLUSIVE = {"<": "<=", "<=": "<=", ">": ">=", ">=": ">=", "=": "="}
PROBE = 1000  # leaf rows counted per key to choose which condition of a group drives the query


def key_text(parts) -> str:
    return json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))


def _json(value) -> str:
    return json.dumps(normal(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def leaves(config: dict, prefix: tuple = ()):
    """(key, kind, value) of every leaf of a config."""
    for name, value in config.items():
        key = prefix + (name,)
        if isinstance(value, dict) and value:
            yield from leaves(value, key)
        else:
            yield leaf(key, value)


def summary_leaves(summary: dict):
    """The leaves of flat summary metrics: `val.acc` is the key path (SUMMARY, "val", "acc")."""
    for name, value in summary.items():
        yield leaf((SUMMARY, *name.split(".")), value)


def leaf(key: tuple, value) -> tuple:
    text = key_text(key)
    if isinstance(value, bool):
        return text, "b", int(value)
    if isinstance(value, int):
        return (text, "n", value) if -INT64 <= value < INT64 else (text, "N", _rounded(value))
    if isinstance(value, float):
        return text, "n", None if math.isnan(value) else value
    if isinstance(value, str):
        return text, "s", value
    if value is None:
        return text, "z", None
    return text, "j", _json(value)


def _rounded(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.copysign(math.inf, value)


def insert_leaves(db, experiment_id: str, config: dict, summary: dict | None = None) -> None:
    """The leaves of an experiment's config and summary metrics (under `SUMMARY`), replacing any it had."""
    db.execute("DELETE FROM leaves WHERE id = ?", (experiment_id,))
    rows = [*leaves(config), *summary_leaves(summary or {})]
    db.executemany("INSERT INTO leaves (id, key, kind, value) VALUES (?, ?, ?, ?)", ((experiment_id, *row) for row in rows))


def replace_summary(db, experiment_id: str, summary: dict) -> None:
    """Replace the leaves of an experiment's summary metrics (its config's stay)."""
    root = key_text((SUMMARY,))
    db.execute("DELETE FROM leaves WHERE id = ? AND key >= ? AND key < ?", (experiment_id, root[:-1] + ',"', root[:-1] + ",#"))
    db.executemany("INSERT INTO leaves (id, key, kind, value) VALUES (?, ?, ?, ?)",
                   ((experiment_id, *row) for row in summary_leaves(summary)))


class Compiled:
    """The SQL of a `Where` (a WHERE clause over `experiments e`), its arguments, and whether it is exact.

    A condition on a config key becomes `e.id IN (SELECT id FROM leaves WHERE key = ? AND ...)`,
    one SELECT per alternative (UNION ALL) so that each is an index range; conditions of a
    group on the same key test the same row, so they share one SELECT (`0.5 <= x < 0.51`).
    Of several keys in a group only the one with the fewest matches (counted up to PROBE) is
    selected so; the others are an EXISTS check of each of its rows: `batch_size=32 seed=7`
    reads one `seed` row and checks one `batch_size` row, instead of listing every experiment.
    """

    def __init__(self, db, where: Where):
        self.db = db
        self.args: list = []
        self.exact = True
        self._big: dict = {}
        groups = [self._group(group) for group in where.groups]
        self.sql = " OR ".join(f"({group})" for group in groups) if where else "1"

    def _group(self, group) -> str:
        clauses, by_key = [], {}
        for condition in group:
            if condition.field == "status":
                clauses.append(self._status(condition))
            elif condition.field is not None:
                clauses.append(self._column(COLUMNS[condition.field], condition))
            elif condition.operator in ("exists", "missing", "?"):
                clauses.append(self._existence(condition))
            else:
                by_key.setdefault(key_text(condition.key), []).append(condition)
        on_keys = []  # (key, branches): each a leaf row of the key that meets one of the branches
        for key, conditions in by_key.items():
            alternatives = [self._branches(key, condition) for condition in conditions]
            if len(alternatives) > 1 and all(len(branches) == 1 for branches in alternatives):
                alternatives = [[(" AND ".join(sql for [(sql, _)] in alternatives),
                                  [arg for [(_, args)] in alternatives for arg in args])]]
            on_keys += [(key, branches) for branches in alternatives]
        # the fewest matches drive (an index range); every other key is then checked for those rows alone
        driver = min(range(len(on_keys)), key=lambda n: self._estimate(*on_keys[n])) if len(on_keys) > 1 else 0
        for number, (key, branches) in enumerate(on_keys):
            sql, args = _ids(key, branches) if number == driver else _exists(key, branches)
            clauses.append(sql)
            self.args += args
        return " AND ".join(clauses) or "1"

    def _estimate(self, key: str, branches: list) -> int:
        """How many leaf rows meet the branches, counted up to PROBE (an index range each)."""
        selects, args = _selects(key, branches)
        return self.db.execute(f"SELECT count(*) FROM ({selects} LIMIT {PROBE})", args).fetchone()[0]

    def _existence(self, condition: Condition) -> str:
        key = key_text(condition.key)
        self.args += [key, key[:-1] + ',"', key[:-1] + ",#"]  # the key itself, or keys below it
        if condition.operator == "?":
            self.exact = False  # a predicate: the key must exist, the rest is checked in Python
        inside = "NOT IN" if condition.operator == "missing" else "IN"
        return f"e.id {inside} (SELECT id FROM leaves WHERE key = ? OR (key >= ? AND key < ?))"

    def _branches(self, key: str, condition: Condition) -> list[tuple[str, list]]:
        """Alternatives (SQL over one leaf row, args), any of which meets the condition."""
        if condition.operator == "in":
            texts = condition.text or (None,) * len(condition.value)
            return [b for value, text in zip(condition.value, texts) for b in self._equal(key, value, text)]
        if condition.operator == "=":
            return self._equal(key, condition.value, condition.text)
        if condition.operator == "!=":
            branches = self._equal(key, condition.value, condition.text)
            return [(f"NOT coalesce({' OR '.join(f'({sql})' for sql, _ in branches)}, 0)",
                     [arg for _, args in branches for arg in args])]
        if isinstance(condition.value, str):
            return [(f"kind = 's' AND value {condition.operator} ?", [condition.value])]
        return self._number(key, condition.operator, condition.value)

    def _has_big(self, key: str) -> bool:
        """Whether some experiment has an integer beyond 64 bits at this key (then SQL only narrows)."""
        if key not in self._big:
            row = self.db.execute("SELECT 1 FROM leaves WHERE key = ? AND kind = 'N' LIMIT 1", (key,)).fetchone()
            self._big[key] = row is not None
            if row is not None:
                self.exact = False
        return self._big[key]

    def _number(self, key: str, operator: str, value) -> list:
        """Integers beyond 64 bits (in the value or the rows) are compared inclusively, rounded, and checked later."""
        if isinstance(value, int) and not -INT64 <= value < INT64:
            self.exact = False
            bound = _rounded(value)
            return [(f"kind = {kind} AND value {INCLUSIVE[operator]} ?", [bound]) for kind in ("'n'", "'N'")]
        branches = [(f"kind = 'n' AND value {operator} ?", [value])]
        if self._has_big(key):
            branches.append((f"kind = 'N' AND value {INCLUSIVE[operator]} ?", [value]))
        return branches

    def _equal(self, key: str, value, text) -> list:
        if isinstance(value, bool):
            branches = [("kind = 'b' AND value = ?", [int(value)])]
        elif isinstance(value, float) and math.isnan(value):
            branches = [("kind = 'n' AND value IS NULL", [])]
        elif isinstance(value, (int, float)):
            branches = self._number(key, "=", value)
        elif isinstance(value, str):
            branches = [("kind = 's' AND value = ?", [value])]
        elif value is None:
            branches = [("kind = 'z'", [])]
        else:
            branches = [("kind = 'j' AND value = ?", [_json(value)])]
        if text is not None and text != value:
            branches.append(("kind = 's' AND value = ?", [text]))
        return branches

    def _status(self, condition: Condition) -> str:
        """The status word the index records as runs start and end (committed, started, finished, failed):
        running and died are both "started" (a heartbeat tells them apart: checked in Python), or
        still "committed" where the start happened on a host whose index write is not seen yet."""
        words = condition.value if condition.operator == "in" else (condition.value,)
        if any(word in ("running", "died") for word in words):
            self.exact = False  # also "committed" rows: a start the index has not seen yet (another host)
            if condition.operator == "!=":
                return "1"  # running != died: which one needs the heartbeat
        indexed = sorted({w for word in words for w in (("started", "committed") if word in ("running", "died") else (word,))})
        self.args += indexed
        inside = "NOT IN" if condition.operator == "!=" else "IN"
        return f"e.status {inside} ({', '.join('?' * len(indexed))})"

    def _column(self, column: str, condition: Condition) -> str:
        operator = condition.operator
        if operator == "exists":
            return f"{column} IS NOT NULL"
        if operator == "missing":
            return f"{column} IS NULL"
        if operator == "in":
            self.args += list(condition.value)
            return f"{column} IN ({', '.join('?' * len(condition.value))})"
        self.args.append(condition.value)
        return f"coalesce({column} {operator} ?, 0)"


def _selects(key: str, branches: list) -> tuple[str, list]:
    """The ids of the leaf rows of `key` that meet a branch (one index range per branch)."""
    selects = " UNION ALL ".join(f"SELECT id FROM leaves WHERE key = ? AND {sql}" for sql, _ in branches)
    return selects, [arg for _, args in branches for arg in (key, *args)]


def _ids(key: str, branches: list) -> tuple[str, list]:
    selects, args = _selects(key, branches)
    return f"e.id IN ({selects})", args


def _exists(key: str, branches: list) -> tuple[str, list]:
    """The same as a check of one experiment's leaf row of `key` (the (id, key) index)."""
    either = " OR ".join(f"({sql})" for sql, _ in branches)
    return (f"EXISTS (SELECT 1 FROM leaves WHERE id = e.id AND key = ? AND ({either}))",
            [key, *(arg for _, args in branches for arg in args)])


def order_by(sort, args: list) -> tuple[str, str]:
    """(joins, ORDER BY terms) for `sort`: (key path or field, descending) pairs; missing values last."""
    joins, terms = [], []
    for number, (key, field, descending) in enumerate(sort or ()):
        direction = "DESC" if descending else "ASC"
        if field is not None:
            terms.append(f"{SORT_COLUMNS[field]} IS NULL, {SORT_COLUMNS[field]} {direction}")
            continue
        # by experiment: the planner would otherwise walk the key's whole range for every row
        joins.append(f"LEFT JOIN leaves s{number} INDEXED BY leaves_experiment ON s{number}.id = e.id AND s{number}.key = ?")
        args.append(key_text(key))
        terms.append(f"s{number}.value IS NULL, s{number}.value {direction}")
    terms.append("e.created DESC, e.id")
    return " ".join(joins), ", ".join(terms)
