"""Tee the output of a running experiment to the terminal and to its `output.log`.

The log is what is kept, so it is written first and completely. The terminal is a
courtesy: once writing to it fails (a closed pipe as in `... | head -1`, a full disk
behind a redirection), output goes on to the log only, and the experiment's outcome
is what its code did.
"""

from __future__ import annotations

import contextlib
import os
import sys

from machinable.errors import ClaimLost


class Terminal:
    """A terminal stream that stops receiving output once writing to it fails, instead of raising."""

    def __init__(self, stream):
        self.stream = stream
        self.broken = False

    def write(self, text):
        if not self.broken:
            try:
                self.stream.write(text)
            except (OSError, ValueError):  # EPIPE, ENOSPC, or the stream was closed
                self.broken = True
        return len(text)

    def flush(self):
        if not self.broken:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def __getattr__(self, name):
        return getattr(self.stream, name)


class _Tee(Terminal):
    def __init__(self, stream, log):
        super().__init__(stream)
        self._log = log

    def write(self, text):
        self._log.write(text)
        return super().write(text)

    def flush(self):
        self._log.flush()
        super().flush()


class _LazyLog:
    """Appends to the log file, created on the first write, so silent runs cost no file.

    Whole lines are written as they complete, a partial line at flush or close. `check()`
    (the run's fence) is called before every write to the file: a run that was taken over
    adds nothing to the log of the run that took over, not even a buffered partial line.
    """

    def __init__(self, path, check=None):
        self.path = path
        self._check = check
        self._fd = None
        self._pending = ""

    def write(self, text):
        self._pending += text
        if "\n" in text:
            self.flush()

    def flush(self):
        text, self._pending = self._pending, ""
        if not text:
            return
        if self._check is not None:
            self._check()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = text.encode("utf-8", "backslashreplace")
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self):
        try:
            self.flush()
        except ClaimLost:
            pass  # the run ends with ClaimLost anyway; its last partial line is dropped
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


@contextlib.contextmanager
def captured(path: str, check=None):
    log = _LazyLog(path, check)
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(stdout, log), _Tee(stderr, log)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        log.close()
