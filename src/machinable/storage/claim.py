"""Exclusive claims on a path that work across processes and hosts sharing a filesystem.

A claim is a small JSON file holding the owner's host, boot id, pid namespace, pid,
process start time, a random token and the owner's heartbeat interval and stale window,
created with O_CREAT|O_EXCL (atomic on local disks and NFSv3+). The owner's heartbeat is
the file's mtime. Every process judges a claim by the settings stored in it, not by its own.

A claim is taken over when its owner is gone. On the owner's machine (same host name,
boot and pid namespace) that is decided by its process: gone (or a zombie) means gone;
running means alive even if its heartbeat is stale (a long C call can starve the
heartbeat thread of the GIL); stopped (Ctrl-Z, SIGSTOP, `scontrol suspend`) means gone
once its heartbeat is stale. Elsewhere only the heartbeat tells. Breaking a stale claim
is serialised by a short-lived `<path>.break` claim, and the claim is renamed aside and
judged once more before it is removed, so an owner waking up at that moment either keeps
it or finds it gone.

A takeover is fenced: the owner re-reads its claim at every heartbeat, and `check()`
(called before each write of the owner) re-reads it whenever the last confirmation is
older than the owner's lease, on a clock that also runs while the machine is suspended.
The lease is shorter than the stale window, so no other process can have taken the
claim over while it holds; an owner that was paused past its stale window finds out
before its first write.
"""

from __future__ import annotations

import json
import os
import threading
import time

from machinable.errors import ValidationError

# the host name claims record; set MACHINABLE_HOST where several machines share one name (containers)
HOST = os.environ.get("MACHINABLE_HOST") or os.uname().nodename


def heartbeat_seconds() -> float:
    """MACHINABLE_HEARTBEAT_SECONDS; by default 10, or a sixth of MACHINABLE_STALE_SECONDS if that is less."""
    if "MACHINABLE_HEARTBEAT_SECONDS" in os.environ:
        return float(os.environ["MACHINABLE_HEARTBEAT_SECONDS"])
    if "MACHINABLE_STALE_SECONDS" in os.environ:
        return min(10.0, float(os.environ["MACHINABLE_STALE_SECONDS"]) / 6)
    return 10.0


def stale_after() -> float:
    """A heartbeat older than this means the owner is gone (MACHINABLE_STALE_SECONDS, default 6 heartbeats)."""
    return float(os.environ.get("MACHINABLE_STALE_SECONDS", str(6 * heartbeat_seconds())))


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name; None if gone, [] if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return []
    return stat[stat.rfind(")") + 2 :].split()


def process_state(pid: int, start: str | None = None) -> str | None:
    """The kernel's state letter of `pid` ("R", "S", "D", "T" for stopped, ...), None if it is gone.

    `start` (the process start time recorded in the claim) guards against pid reuse.
    "?" for a live process whose state cannot be read (no /proc).
    """
    if not os.path.isdir("/proc"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    fields = _proc_stat(pid)
    if fields is None or (fields and fields[0] in ("Z", "X")):
        return None  # exited (a zombie is not yet reaped)
    if not fields:
        return "?"
    if start not in (None, "?") and fields[19] != start:
        return None  # the pid was reused by another process
    return fields[0]


WRITE_GRACE = 2.0  # seconds a claim file may stay empty while its owner writes it

def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _namespace() -> int | None:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


# what makes a pid meaningful: the same kernel boot and pid namespace (containers sharing a
# host name have their own), besides the host name
BOOT = _read("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE = _namespace()

_OWN_START = None


def owner_info() -> dict:
    global _OWN_START
    pid = os.getpid()
    if _OWN_START is None or _OWN_START[0] != pid:
        fields = _proc_stat(pid)
        _OWN_START = (pid, fields[19] if fields else None)
    heartbeat, stale = heartbeat_seconds(), stale_after()
    if not 0 < 2 * heartbeat < stale:
        raise ValidationError(
            f"MACHINABLE_STALE_SECONDS ({stale:g}) must be more than twice MACHINABLE_HEARTBEAT_SECONDS "
            f"({heartbeat:g}), or other processes take a live run over between its heartbeats."
        )
    return {
        "host": HOST, "pid": pid, "start": _OWN_START[1], "boot": BOOT, "pidns": PID_NAMESPACE,
        "token": os.urandom(8).hex(), "since": time.time(), "heartbeat": heartbeat, "stale": stale,
    }


def lease(info: dict) -> float:
    """How long after confirming its claim the owner may write without confirming again.

    Two heartbeats, at most half the stale window: a taker waits the whole window after
    the owner's last touch, so the rest is margin for clocks and slow reads.
    """
    return min(2 * info["heartbeat"], info["stale"] / 2)


BOOTTIME = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def _now() -> float:
    """Seconds on a clock that keeps running while the machine is suspended (unlike monotonic)."""
    return time.clock_gettime(BOOTTIME)


def same_machine(info: dict) -> bool:
    """Whether the claim's pid can be asked here: same host name, boot and pid namespace
    (a claim written before boot and namespace were recorded goes by the host name)."""
    return info.get("host") == HOST and info.get("boot", BOOT) == BOOT and info.get("pidns", PID_NAMESPACE) == PID_NAMESPACE


class Claim:
    """An exclusive claim on `path`.

    `data` is stored in the claim file for whoever finds it later; `on_break(info)` is
    called with a dead owner's info before its claim is removed, to finish or undo what
    the owner left half done (called again by the next taker if that one dies too).
    After `acquire()`, `took_over` is the info of the owner whose claim was broken for
    it (None if the claim was free), and `lost` the info of whoever holds it once it
    was taken over from us ({} if the file is gone).
    """

    def __init__(self, path: str, data: dict | None = None, on_break=None):
        self.path = path
        self.data = data
        self.on_break = on_break
        self.token: str | None = None
        self.info: dict | None = None
        self.took_over: dict | None = None
        self.lost: dict | None = None
        self.confirmed = 0.0  # _now() of the last confirmation of ownership
        self._owning = threading.Lock()  # the heartbeat thread confirms while the owner may release

    # --- reading ------------------------------------------------------------------

    def holder(self) -> tuple[dict | None, float] | None:
        """(owner info or None while being written, heartbeat time); None if unclaimed."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
                mtime = os.fstat(f.fileno()).st_mtime
        except FileNotFoundError:
            return None
        try:
            info = json.loads(raw)
        except ValueError:
            return None, mtime
        return (info if isinstance(info, dict) else None), mtime

    @staticmethod
    def alive(holder: tuple[dict | None, float]) -> bool:
        """Whether the owner may still be working (see the module's docstring)."""
        info, heartbeat = holder
        age = time.time() - heartbeat
        if info is None:
            return age <= WRITE_GRACE
        if same_machine(info) and isinstance(info.get("pid"), int):
            state = process_state(info["pid"], info.get("start"))
            if state is None:
                return False
            if state not in ("T", "t"):
                return True
        stale = info.get("stale")
        return age <= (stale if isinstance(stale, (int, float)) else stale_after())

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
                self.token, self.info, self.lost = info["token"], info, None
                self.confirmed = _now()
                return True
            broken = self.break_if_stale()
            if broken is None:
                return False
            self.took_over = broken or None
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
        self.took_over = None
        while not self.try_acquire():
            if not waited and on_wait is not None:
                holder = self.holder()
                on_wait(holder[0] if holder else None)
            waited = True
            time.sleep(poll)
            poll = min(poll * 1.5, max_poll)

    def break_if_stale(self) -> dict | None:
        """Remove the claim if its owner is gone (after `on_break`).

        Returns None if it is still held, else the info of the owner whose claim was
        removed ({} if there was none to remove): it is free now. The file is first
        renamed aside and judged again there, so an owner that wakes up meanwhile either
        touched it before (it is put back) or finds it gone when it confirms.
        """
        holder = self.holder()
        if holder is None:
            return {}  # released meanwhile: try again
        if self.alive(holder):
            return None
        breaker = Claim(self.path + ".break")
        if not breaker.try_acquire():
            return None
        try:
            directory, name = os.path.split(self.path)
            aside = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return {}
            moved = Claim(aside).holder()
            if moved is None or self.alive(moved) or _token(moved) != _token(holder):
                self._put_back(aside)  # its owner woke up, or it is another claim by now
                return None
            try:
                if self.on_break is not None:
                    self.on_break(moved[0])
            except BaseException:
                self._put_back(aside)  # the next taker tries again
                raise
            os.unlink(aside)
            return moved[0] or {}
        finally:
            breaker.release()

    def _put_back(self, aside: str) -> None:
        try:
            os.link(aside, self.path)
        except FileExistsError:
            pass  # someone claimed it meanwhile: the owner finds it lost at its next confirmation
        os.unlink(aside)

    # --- owning -------------------------------------------------------------------

    def confirm(self) -> bool:
        """Re-read the claim: touch it if it is still ours, else remember who took it (`lost`).

        The file that was read is touched (not whatever the path names by then), and it
        must still be the one at the path afterwards: a taker renames a claim aside before
        it judges it for the last time.
        """
        with self._owning:
            if self.token is None or self.lost is not None:
                return False
            started = _now()
            try:
                with open(self.path, "rb") as f:
                    info = json.loads(f.read())
                    if isinstance(info, dict) and info.get("token") == self.token:
                        os.utime(f.fileno() if os.utime in os.supports_fd else self.path)
                        if os.stat(self.path).st_ino == os.fstat(f.fileno()).st_ino:
                            self.confirmed = started
                            return True
            except (OSError, ValueError):
                pass
            self.lost = (self.holder() or ({}, 0))[0] or {}
            return False

    def check(self) -> bool:
        """True while the claim is ours: confirmed within the lease, else confirmed now."""
        if self.lost is None and _now() - self.confirmed > lease(self.info):
            self.confirm()
        return self.lost is None

    def release(self) -> None:
        """Remove the claim if it is still ours (re-read just before); a claim taken over is the new owner's."""
        with self._owning:  # the heartbeat must not confirm while the file goes
            holder = self.holder() if self.token is not None and self.lost is None else None
            if holder is not None and _token(holder) == self.token:
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
        """Forget the parent's claims and thread; a forked child starts afresh (and unlocked).

        The claims' own locks are made anew too: the parent's heartbeat thread may have held
        one at the fork, and a child (e.g. a data loader worker) writes under its run's claim.
        """
        for claim in getattr(self, "claims", ()):
            claim._owning = threading.Lock()
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
                claim.confirm()
                if claim.lost is not None:
                    self.discard(claim)  # taken over: its owner's next write raises ClaimLost


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
