"""The one condition language of `find()`, `machinable list --where` and the dashboard's filter.

Text form (CLI, dashboard), conditions joined by whitespace or `and`, groups by `or`:

    model.lr<0.1 penalty!=l1            both hold
    opt in [sgd, adam] or lr>=0.5        either group holds
    "a.b".c=1  größe=2  model["a\"b"]=x  keys with dots, any letters, quotes
    lr exists   momentum missing         existence
    @status=finished @created>=2026-11-27 @module=train @group=2026_47_Tue @ancestor=GDCN4d @id in [a, b]

Python form (`find(where=...)`), the same conditions as data: `{"lr": {"<": 0.1}, "opt": {"in":
["sgd", "adam"]}, "model": {"depth": 3}}` (a plain value means equality, a dict of operators
compares, nested dicts are dotted keys), a list of such dicts (or texts) for OR, or the text itself.

Operators: `=` (also `==`), `!=`, `<`, `<=`, `>`, `>=`, `in`, `exists`, `missing`. Equality
matches 2 and 2.0, and NaN equals NaN; a bool equals only a bool. A value typed as text
also matches the string it spells (`name=2017` finds the string '2017'). `!=` and the
comparisons hold only where the key exists; comparisons order numbers with numbers and
strings with strings, never NaN. `@field`s are the experiment's own attributes; `@created`
takes Unix seconds or an ISO date. Keys starting with `summary.` are the experiment's summary
metrics (`machinable.summary`), e.g. `summary.test_acc>0.9`; quote the first part
(`"summary".x`) for a config key named summary.
"""

from machinable.conditions.model import FIELDS, OPERATORS, STATUSES, SUMMARY, Condition, Where, make
from machinable.conditions.python import where
from machinable.conditions.text import parse, parse_sort

__all__ = ["FIELDS", "OPERATORS", "STATUSES", "SUMMARY", "Condition", "Where", "make", "parse", "parse_sort", "where"]
