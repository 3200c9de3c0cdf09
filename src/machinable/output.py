"""Tee the output of a running experiment to the terminal and to its `output.log`."""

from __future__ import annotations

import contextlib
import sys


class _Tee:
    def __init__(self, stream, log):
        self._stream = stream
        self._log = log

    def write(self, text):
        self._log.write(text)
        return self._stream.write(text)

    def flush(self):
        self._log.flush()
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _LazyLog:
    """Creates the log file on the first write, so silent runs cost no file."""

    def __init__(self, path):
        self.path = path
        self._file = None

    def write(self, text):
        if self._file is None:
            self._file = open(self.path, "a", buffering=1, encoding="utf-8")
        self._file.write(text)

    def flush(self):
        if self._file is not None:
            self._file.flush()

    def close(self):
        if self._file is not None:
            self._file.close()


@contextlib.contextmanager
def captured(path: str):
    log = _LazyLog(path)
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(stdout, log), _Tee(stderr, log)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        log.close()
