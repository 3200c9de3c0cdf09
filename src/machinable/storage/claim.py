"""Exclusive claims on a path that work across processes and hosts sharing a filesystem.

A claim is a small JSON file holding the owner's host, pid, process start time and a
random token, created with O_CREAT|O_EXCL (atomic on local disks and NFSv3+). The
owner's heartbeat is the file's mtime. A claim is
taken over when its owner is gone: its pid no longer runs on this host, or its heartbeat
is stale (any host). Breaking a stale claim is itself serialised by a short-lived
`<path>.break` claim, so two processes can never both break and re-create it.
"""

from __future__ import annotations

import json
import os
import threading
import time

HOST = os.uname().nodename


def heartbeat_seconds() -> float:
    return float(os.environ.get("MACHINABLE_HEARTBEAT_SECONDS", "10"))


def stale_after() -> float:
    """A heartbeat older than this means the owner is gone."""
    return float(os.environ.get("MACHINABLE_STALE_SECONDS", str(6 * heartbeat_seconds())))


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against pid reuse), None if not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return "?"
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # zombie or dead: exited, not yet reaped
        return None
    return fields[19]


def pid_alive(pid: int, start: str | None = None) -> bool:
    if os.path.isdir("/proc"):
        current = process_start(pid)
        return current is not None and (start is None or current == "?" or current == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


WRITE_GRACE = 2.0  # seconds a claim file may stay empty while its owner writes it

_OWN_START = None


def owner_info() -> dict:
    global _OWN_START
    pid = os.getpid()
    if _OWN_START is None or _OWN_START[0] != pid:
        _OWN_START = (pid, process_start(pid))
    return {"host": HOST, "pid": pid, "start": _OWN_START[1], "token": os.urandom(8).hex(), "since": time.time()}


class Claim:
    """An exclusive claim on `path`.

    `data` is stored in the claim file for whoever finds it later; `on_break(info)` is
    called with a dead owner's info before its claim is removed, to finish or undo what
    the owner left half done (called again by the next taker if that one dies too).
    """

    def __init__(self, path: str, data: dict | None = None, on_break=None):
        self.path = path
        self.data = data
        self.on_break = on_break
        self.token: str | None = None

    # --- reading ------------------------------------------------------------------

    def holder(self) -> tuple[dict | None, float] | None:
        """(owner info or None while being written, heartbeat time); None if unclaimed."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None
        try:
            return json.loads(raw), mtime
        except ValueError:
            return None, mtime

    @staticmethod
    def alive(holder: tuple[dict | None, float]) -> bool:
        info, heartbeat = holder
        age = time.time() - heartbeat
        if age > stale_after() or (info is None and age > WRITE_GRACE):
            return False
        if info and info.get("host") == HOST:
            return pid_alive(info["pid"], info.get("start"))
        return True

    def is_held(self) -> bool:
        holder = self.holder()
        return holder is not None and self.alive(holder)

    # --- acquiring ----------------------------------------------------------------

    def try_acquire(self) -> bool:
        for _ in range(2):
            info = owner_info()
            if self.data is not None:
                info["data"] = self.data
            if self._create(json.dumps(info).encode()):
                self.token = info["token"]
                return True
            if not self.break_if_stale():
                return False
        return False

    def _create(self, raw: bytes) -> bool:
        """Create the claim file (O_EXCL: atomic on local disks and NFSv3+); False if it exists.

        A crash between creating and writing leaves an empty file: `alive()` treats one
        older than `WRITE_GRACE` seconds as abandoned.
        """
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, raw)
        finally:
            os.close(fd)
        return True

    def acquire(self, on_wait=None, poll: float = 0.02, max_poll: float = 0.5) -> None:
        """Block until acquired; `on_wait(holder_info)` is called once if we have to wait."""
        waited = False
        while not self.try_acquire():
            if not waited and on_wait is not None:
                holder = self.holder()
                on_wait(holder[0] if holder else None)
            waited = True
            time.sleep(poll)
            poll = min(poll * 1.5, max_poll)

    def break_if_stale(self) -> bool:
        """Remove the claim if its owner is gone (after `on_break`); True if it is free now."""
        holder = self.holder()
        if holder is None:
            return True  # released meanwhile: try again
        if self.alive(holder):
            return False
        breaker = Claim(self.path + ".break")
        if not breaker.try_acquire():
            return False
        try:
            holder_now = self.holder()
            if holder_now is None:
                return True
            if self.alive(holder_now) or _token(holder_now) != _token(holder):
                return False
            if self.on_break is not None:
                self.on_break(holder_now[0])
            os.unlink(self.path)
            return True
        except FileNotFoundError:
            return True
        finally:
            breaker.release()

    # --- owning -------------------------------------------------------------------

    def owned(self) -> bool:
        holder = self.holder()
        return holder is not None and self.token is not None and _token(holder) == self.token

    def heartbeat(self) -> None:
        if self.owned():
            os.utime(self.path)

    def release(self) -> None:
        if self.token is not None and self.owned():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        self.token = None


def _token(holder) -> str | None:
    info = holder[0]
    return info.get("token") if info else None


class _Heartbeats:
    """One daemon thread per process touches every claim the process holds."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Forget the parent's claims and thread; a forked child starts afresh (and unlocked)."""
        self.claims: set = set()
        self.lock = threading.Lock()
        self.thread = None

    def add(self, claim: Claim) -> None:
        with self.lock:
            self.claims.add(claim)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="machinable-heartbeat", daemon=True)
                self.thread.start()

    def discard(self, claim: Claim) -> None:
        with self.lock:
            self.claims.discard(claim)

    def _run(self):
        interval = heartbeat_seconds()
        while True:
            time.sleep(interval)
            with self.lock:
                claims = list(self.claims)
            for claim in claims:
                try:
                    claim.heartbeat()
                except OSError:
                    pass


_heartbeats = _Heartbeats()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_heartbeats.reset)


class Heartbeat:
    """Keeps a claim's heartbeat fresh while the `with` block runs."""

    def __init__(self, claim: Claim):
        self.claim = claim

    def __enter__(self):
        _heartbeats.add(self.claim)
        return self

    def __exit__(self, *exc):
        _heartbeats.discard(self.claim)
