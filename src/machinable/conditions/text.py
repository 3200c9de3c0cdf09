"""The text form of conditions, as typed after `machinable list --where` and into the dashboard's filter.

    condition [and|or condition]...   (whitespace alone also means and)
    condition = key operator value | key in [v1, v2] | key exists | key missing
    key       = part(.part)*, a part bare (any letters), "quoted" (JSON escapes), 'quoted' or ["bracketed"];
                @field for the experiment's own attributes (@status, @created, ...)
"""

from __future__ import annotations

import json

from machinable.conditions.model import FIELDS, Where, make, summary_key
from machinable.errors import ConditionError
from machinable.values import parse_value

FORMS = "lr<0.1, model.depth=3, opt in [sgd, adam], lr exists, @status=finished, joined by and/or"
COMPARISONS = ("=", "==", "!=", "<", "<=", ">", ">=")
WORDS = ("in", "exists", "missing")
OPERATOR_CHARS = "=!<>"
KEY_STOP = set(OPERATOR_CHARS + ".[]\"'(),") | {" ", "\t", "\n", "\r"}


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, problem: str) -> ConditionError:
        return ConditionError(f"Cannot read the condition {self.text!r}: {problem}. Write e.g. {FORMS}.")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def run(self, accept) -> str:
        start = self.pos
        while self.pos < len(self.text) and accept(self.text[self.pos]):
            self.pos += 1
        return self.text[start:self.pos]

    def word(self) -> str:
        """The whitespace-delimited word ahead (not consumed)."""
        end = self.pos
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        return self.text[self.pos:end]

    def quoted(self) -> str:
        quote = self.text[self.pos]
        end = self.pos + 1
        while end < len(self.text) and self.text[end] != quote:
            end += 2 if quote == '"' and self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.error(f"the quote {quote} at position {self.pos} is never closed")
        token = self.text[self.pos:end + 1]
        self.pos = end + 1
        if quote == "'":
            return token[1:-1]
        try:
            return json.loads(token)
        except ValueError:
            raise self.error(f"{token} is not a valid quoted text (use JSON escapes such as \\\")") from None


def parse(text: str) -> Where:
    """The conditions of a text; a blank text matches everything."""
    if not isinstance(text, str):
        raise ConditionError(f"A condition text must be a string, not {type(text).__name__}.")
    scanner = _Scanner(text)
    groups, group = [], []
    scanner.skip()
    if scanner.end():
        return Where()
    while True:
        group.append(_condition(scanner))
        scanner.skip()
        if scanner.end():
            break
        joiner = scanner.word()
        if joiner.lower() in ("or", "|", "||"):
            groups.append(tuple(group))
            group = []
        if joiner.lower() in ("or", "|", "||", "and", "&", "&&"):
            scanner.pos += len(joiner)
            scanner.skip()
            if scanner.end():
                raise scanner.error(f"nothing follows {joiner!r}")
    groups.append(tuple(group))
    return Where(tuple(groups))


def parse_sort(text: str) -> list[tuple]:
    """`"-lr,@created"` as (key path, field, descending) triples: a leading `-` sorts descending."""
    order = []
    for item in text.split(","):
        item = item.strip()
        descending = item.startswith("-")
        scanner = _Scanner(item.lstrip("-+"))
        if scanner.end():
            raise ConditionError(f"Cannot read the sort order {text!r}: an empty column; write e.g. -lr,@created.")
        key = _key(scanner)
        if not scanner.end():
            raise scanner.error(f"a sort column is a key, found {scanner.text[scanner.pos:]!r} after it")
        field = key[0][1:] if key[0].startswith("@") and len(key) == 1 else None
        if field is not None and field not in FIELDS or field == "status":
            sortable = ", ".join("@" + f for f in FIELDS if f != "status")
            raise ConditionError(f"Cannot sort by {item!r}: sort by a config key or one of {sortable}.")
        order.append((key, field, descending))
    return order


def _condition(scanner: _Scanner):
    start = scanner.pos
    field, key = None, _key(scanner)
    if key[0].startswith("@") and scanner.text[start] == "@":
        field = key[0][1:]
        if len(key) > 1 or not field:
            raise scanner.error(f"a field is written @name, e.g. @status, not {scanner.text[start:scanner.pos]!r}")
    name = scanner.text[start:scanner.pos]
    scanner.skip()
    operator = scanner.run(lambda c: c in OPERATOR_CHARS)
    if operator and operator not in COMPARISONS:
        raise scanner.error(f"unknown operator {operator!r} after {name!r}; use =, !=, <, <=, >, >=, in, exists or missing")
    if not operator:
        word = scanner.word().split("[")[0]
        if word not in WORDS:
            what = f"found {word!r}" if word else "the condition ends there"
            raise scanner.error(f"expected an operator after {name!r} ({what})")
        operator = word
        scanner.pos += len(word)
    operator = "=" if operator == "==" else operator
    if operator in ("exists", "missing"):
        return _make(scanner, key, operator, None, None, field)
    scanner.skip()
    if scanner.end() or scanner.text.startswith(("or ", "and "), scanner.pos):
        raise scanner.error(f"{scanner.text[start:scanner.pos].strip()!r} has no value after {operator!r}")
    if operator == "in":
        values, texts = _list(scanner, name)
        return _make(scanner, key, "in", values, texts, field)
    value, text = _value(scanner)
    return _make(scanner, key, operator, value, text, field)


def _make(scanner, key, operator, value, text, field):
    try:
        return make(key if field is None else (field,), operator, value, text, field)
    except ConditionError as error:
        raise scanner.error(str(error).rstrip(".")) from None


def _key(scanner: _Scanner) -> tuple:
    """The key's parts; a bare first part `summary` names a summary metric (quote it for a config key)."""
    bare = scanner.peek() not in ("'", '"')
    parts = [_part(scanner)]
    while scanner.peek() in (".", "["):
        if scanner.peek() == ".":
            scanner.pos += 1
            parts.append(_part(scanner))
        else:
            scanner.pos += 1
            if scanner.peek() not in ("'", '"'):
                raise scanner.error(f"a bracketed key is quoted, e.g. model[\"a.b\"] (position {scanner.pos})")
            parts.append(scanner.quoted())
            if scanner.peek() != "]":
                raise scanner.error(f"expected ']' at position {scanner.pos}")
            scanner.pos += 1
    return summary_key(tuple(parts)) if bare else tuple(parts)


def _part(scanner: _Scanner) -> str:
    if scanner.peek() in ("'", '"'):
        return scanner.quoted()
    part = scanner.run(lambda c: c not in KEY_STOP)
    if not part:
        found = scanner.peek()
        raise scanner.error(f"expected a key at position {scanner.pos}" + (f", found {found!r}" if found else ""))
    return part


def _value(scanner: _Scanner):
    """(value, its text as typed); a quoted value is a string and has no other reading."""
    if scanner.peek() in ("'", '"'):
        return scanner.quoted(), None
    if scanner.peek() in ("[", "{"):
        raw = _bracketed(scanner)
        return parse_value(raw), None
    raw = scanner.run(lambda c: not c.isspace())
    return parse_value(raw), raw


def _bracketed(scanner: _Scanner) -> str:
    opening, closing = scanner.peek(), {"[": "]", "{": "}"}[scanner.peek()]
    depth, start = 0, scanner.pos
    while not scanner.end():
        c = scanner.peek()
        if c in ("'", '"'):
            scanner.quoted()
            continue
        depth += (c == opening) - (c == closing)
        scanner.pos += 1
        if depth == 0:
            return scanner.text[start:scanner.pos]
    raise scanner.error(f"the {opening} at position {start} is never closed")


def _list(scanner: _Scanner, name: str):
    if scanner.peek() not in ("[", "("):
        raise scanner.error(f"'{name} in' needs a list in brackets, e.g. {name} in [1, 2]")
    closing = "]" if scanner.peek() == "[" else ")"
    scanner.pos += 1
    values, texts = [], []
    while True:
        scanner.skip()
        if scanner.peek() == closing and not values:
            scanner.pos += 1
            break
        if scanner.peek() in ("'", '"'):
            value = scanner.quoted()
            values.append(value)
            texts.append(value)
        else:
            raw = scanner.run(lambda c: c not in (",", closing)).strip()
            if not raw:
                raise scanner.error(f"an empty item in the list of '{name} in'")
            values.append(parse_value(raw))
            texts.append(raw)
        scanner.skip()
        if scanner.peek() == ",":
            scanner.pos += 1
        elif scanner.peek() == closing:
            scanner.pos += 1
            break
        else:
            raise scanner.error(f"the list of '{name} in' is never closed with {closing!r}")
    if not values:
        raise scanner.error(f"'{name} in' has an empty list")
    return values, texts
