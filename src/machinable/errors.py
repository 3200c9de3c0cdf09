"""Every error machinable raises on purpose derives from `MachinableError`.

Messages say what was wrong and how to fix it; they are raised before any
side effect (no directory created, no file written).
"""

from __future__ import annotations


class MachinableError(Exception):
    """Base class of machinable's own errors."""


class ValidationError(MachinableError, ValueError):
    """A configuration does not fit the element's `Config`."""


class ModuleNotFound(MachinableError, ModuleNotFoundError):
    """The module named by `get(module)` does not exist."""


class ElementNotFound(MachinableError, LookupError):
    """A module defines no element class, or several (ambiguous)."""


class ExperimentNotFound(MachinableError, LookupError):
    """No stored experiment has the requested id."""


class ExecutionFailed(MachinableError, RuntimeError):
    """An experiment raised during execution; the cause is chained."""


class ClaimLost(ExecutionFailed):
    """Another process took this run's claim over (it was paused or cut off too long): it stops writing."""


class StorageError(MachinableError, OSError):
    """Storage cannot be read or written (permissions, disk full, ...)."""


class CorruptMetadata(StorageError):
    """A stored metadata file is missing or unreadable: `path` names the file, `reason` what is wrong."""

    def __init__(self, message: str, path: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.path = path
        self.reason = reason



class IndexCorrupt(StorageError):
    """The SQLite index cannot be used; rebuild it from the files."""


class ConditionError(ValidationError):
    """A condition of `find()`, `machinable list --where` or the dashboard's filter cannot be understood."""


class UnsafePath(MachinableError, ValueError):
    """A data path would leave the experiment's directory."""


class UnsupportedFormat(MachinableError, ValueError):
    """`save_data`/`load_data` got a file extension it cannot handle."""


class UntrustedData(MachinableError, PermissionError):
    """Loading a pickle from a storage not created by this user needs an explicit opt-in."""


class StateError(MachinableError, RuntimeError):
    """An operation does not fit the experiment's state (e.g. changing a committed experiment)."""


class SettingError(MachinableError, ValueError):
    """An environment setting of machinable (e.g. MACHINABLE_DURABILITY) has a value it does not know."""


class SlurmError(MachinableError, RuntimeError):
    """sbatch or scontrol failed, or is missing."""
