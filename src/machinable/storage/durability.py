"""How durable stored writes are: `MACHINABLE_DURABILITY=page-cache` (the default) or `fsync`.

page-cache: a write is in the kernel's page cache when it returns, so it survives the
process being killed (SIGKILL, OOM), not the machine losing power. fsync: metadata files
are fsynced before their rename and their directory after it, record rows are flushed to
disk (msync) before `save()` returns, and the index commits with `synchronous=FULL` — what
survives a power loss, at the cost the benchmarks' fsync rows show.
"""

from __future__ import annotations

import functools
import os

from machinable.errors import SettingError

VARIABLE = "MACHINABLE_DURABILITY"
CHOICES = ("page-cache", "fsync")


@functools.lru_cache(maxsize=None)
def _setting(value: str) -> bool:
    if value not in CHOICES:
        raise SettingError(
            f"{VARIABLE}={value!r} is not a durability; use one of {', '.join(CHOICES)} "
            f"(or leave it unset for page-cache)."
        )
    return value == "fsync"


def fsync() -> bool:
    """Whether writes are fsynced; raises SettingError for a value that is no durability."""
    return _setting(os.environ.get(VARIABLE, "").strip() or "page-cache")


def sync_directory(directory: str) -> None:
    """Make a rename or a new entry in `directory` durable (under fsync)."""
    if fsync():
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
