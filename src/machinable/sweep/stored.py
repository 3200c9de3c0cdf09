"""A sweep or search as a stored element: an experiment of the built-in module `machinable.sweep.stored`
whose config is the definition (module, fixed versions, space, sampler seed, search options), so the
same definition is the same stored sweep. Its points are listed in its `data/members.json`; a point
belongs to every sweep that lists it, and `find(sweep=ID)` selects them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from machinable.errors import ValidationError
from machinable.experiment import Experiment
from machinable.storage.files import encode_data, write_atomic

MODULE = "machinable.sweep.stored"
MEMBERS = "members.json"
LISTERS = "listers.json"


class StoredSweep(Experiment):
    """The stored definition of a sweep (`kind="sweep"`) or of an adaptive search (`kind="search"`)."""

    @dataclass
    class Config:
        kind: str = "sweep"
        module: str = ""
        version: list = field(default_factory=list)
        space: dict = field(default_factory=dict)
        options: dict = field(default_factory=dict)

    def members(self) -> list[str]:
        """The ids of the experiments of its points (of its trials, in order, for a search)."""
        if not self.is_committed():
            return []
        return list(self.load_data(MEMBERS, []))

    def listers(self) -> dict:
        """Which search driver listed each trial (see `machinable.sweep.search`); none for a sweep."""
        return dict(self.load_data(LISTERS, {})) if self.is_committed() else {}

    def add_members(self, ids, lister: str | None = None, check=None) -> None:
        """List these experiments as its points (once each, after those listed already), each an atomic write;
        `lister` names the driver that listed them, `check()` (a claim's fence) raises before a write if the
        caller lost the claim it writes under."""
        self.commit()
        members = self.members()
        known = set(members)
        added = [i for i in ids if i not in known and not known.add(i)]
        if not added:
            return
        self._write(MEMBERS, members + added, check)
        if lister is not None:  # a member without a lister reads as left by a driver that is gone
            self._write(LISTERS, {**self.listers(), **dict.fromkeys(added, lister)}, check)

    def _write(self, name: str, value, check) -> None:
        path = self.local_directory("data", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, encode_data(".json", value), check)


def members_of(sweep, storage=None) -> list[str]:
    """The point ids of `sweep`: a Sweep, a Search, a StoredSweep or a stored sweep's id."""
    if not isinstance(sweep, (str, StoredSweep)) and hasattr(sweep, "definition"):  # a Sweep or a Search
        sweep = sweep.record()
    if isinstance(sweep, str):
        found = Experiment.find_by_id(sweep, storage)
        if not isinstance(found, StoredSweep):
            raise ValidationError(f"{sweep!r} is the id of an experiment of '{found.module}', not of a sweep or search.")
        sweep = found
    if not isinstance(sweep, StoredSweep):
        raise ValidationError(f"sweep= takes a Sweep, a Search or a stored sweep's id, not {sweep!r}.")
    return sweep.members()
