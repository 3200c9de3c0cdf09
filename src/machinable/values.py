"""Values typed as text (command line, dashboard filters) read as Python values."""

from __future__ import annotations

import json
import re

_NUMBER = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_YAML_WORDS = {
    spelling: value
    for word, value in (("true", True), ("yes", True), ("false", False), ("no", False), ("null", None))
    for spelling in (word, word.capitalize(), word.upper())
}
_YAML_WORDS.update({"None": None, "~": None})
_YAML_FLOATS = {
    spelling: float(word)
    for word in ("inf", "+inf", "-inf", "nan")
    for spelling in (word, word.replace("inf", ".inf").replace("nan", ".nan"), word.replace("inf", "infinity"))
}


def parse_value(text: str):
    """A command-line value as Python: JSON where it parses, YAML-style scalars, else the string.

    `2` -> 2, `2.5` -> 2.5, `true`/`yes`/`True` -> True, `null`/`None`/`~` -> None,
    `nan`/`.nan`, `inf`/`-inf`/`.inf`/`-infinity` (any case) -> float('nan'), float('inf'), float('-inf'),
    `[1,2]` -> [1, 2], `{"a":1}` -> {'a': 1}, `'quoted'` -> 'quoted', `abc` -> 'abc'.
    """
    stripped = text.strip()
    if not stripped:
        return text
    # YAML/Python spellings first, so `yes`/`True`/`None`/`~` behave like true/null
    if stripped in _YAML_WORDS:
        return _YAML_WORDS[stripped]
    if stripped.lower() in _YAML_FLOATS:
        return _YAML_FLOATS[stripped.lower()]
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    if _NUMBER.fullmatch(stripped):
        number = float(stripped)
        return int(stripped) if re.fullmatch(r"[-+]?[0-9]+", stripped) else number
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == "'":
        return stripped[1:-1]
    return text
