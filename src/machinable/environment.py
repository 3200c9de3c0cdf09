"""What an execution records to make a run reproducible: host, Python, packages, code version.

The code version and the packages describe the files *on disk when a run starts*: the
git commit, uncommitted diff and status of the project, the SHA-256 of the experiment's
module file, and the installed distributions. Python does not reload a module that was
edited after it was imported, so a record can describe code newer than the code that ran
in a long-lived process; the diff and hash say which file that was.

Running `git` costs milliseconds, so each part is a snapshot that is reused while the
stat signatures (mtime, ctime, size, inode) of the files it depends on are unchanged,
which costs about a microsecond per watched file. What the git snapshot watches:
`.git/HEAD`, the branch ref, `packed-refs` and the index (commits, checkouts, `git add`),
every imported module file inside the repository or project (and their directories, so
new files and editors' write-and-rename saves show), and every file `git status` named.
Packages are exact: their listing is read from the sys.path directories, whose mtime
changes whenever an install adds or removes one, also while the process runs.

Limits: an in-place edit of a tracked file that is neither imported nor already modified
(a data or config file, a module only a subprocess imports) is not seen until a watched
file changes; outside a repository only `<project>/.git` is watched, so a repository
created in a parent directory later is not seen either. The check costs ~1-2 us per
watched file. A file changed within RECENT_NS of a snapshot makes it untrusted (read
again next time), which covers coarse timestamps on this host's clock, not a network
filesystem whose clock runs behind it by more.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import Any, NamedTuple


@functools.lru_cache(maxsize=None)
def _static_host() -> dict:
    import getpass
    import platform

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {
        "hostname": os.uname().nodename,
        "user": user,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
    }


# set by batch systems in their jobs: recorded so an execution can be matched to its job
JOB_ID_VARIABLES = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "PBS_JOBID", "LSB_JOBID")


def host() -> dict:
    job_ids = {name: os.environ[name] for name in JOB_ID_VARIABLES if os.environ.get(name)}
    return {**_static_host(), "pid": os.getpid(), "argv": list(sys.argv), "job_ids": job_ids}


# --- snapshots: values derived from files, recomputed when the files' stats change --------

# A file written twice within one tick of the filesystem clock (a kernel tick, <= 10 ms on
# Linux) can keep its mtime: a snapshot of files changed this recently is not trusted.
RECENT_NS = 20_000_000


class _Snapshot(NamedTuple):
    inputs: Any  # what the value was computed for (e.g. sys.path); another input recomputes
    paths: tuple
    signature: tuple | None  # None: a file changed too recently for its stat to tell
    value: Any


_snapshots: dict = {}


def _stat(path: str):
    try:
        s = os.stat(path)
    except OSError:
        return None
    return s.st_mtime_ns, s.st_ctime_ns, s.st_size, s.st_ino


def _tracked(key, inputs, compute):
    """`compute()` -> (value, paths it was read from), reused while inputs and stats are unchanged."""
    snapshot = _snapshots.get(key)
    if (
        snapshot is not None
        and snapshot.signature is not None
        and snapshot.inputs == inputs
        and tuple(map(_stat, snapshot.paths)) == snapshot.signature
    ):
        return snapshot.value
    recent = time.time_ns() - RECENT_NS
    value, paths = compute()
    signature = tuple(map(_stat, paths))
    if any(stat is not None and max(stat[0], stat[1]) >= recent for stat in signature):
        signature = None
    _snapshots[key] = _Snapshot(inputs, paths, signature, value)
    return value


# --- packages ------------------------------------------------------------------------------


def _scan_packages(entries) -> tuple:
    """Installed distributions and their versions, as the interpreter would import them.

    Read from the `<name>-<version>.dist-info`/`.egg-info` folder names on sys.path
    (first one wins, like imports): the same answer as importlib.metadata without
    parsing every METADATA file, which costs ~50 ms per process.
    """
    found: dict = {}
    for entry in entries:
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext in (".dist-info", ".egg-info") and "-" in stem:
                package, version = stem.split("-")[:2]
                found.setdefault(package.replace("_", "-").lower(), version)
    found = dict(sorted(found.items()))
    return (found, json.dumps(found)), entries


def _packages() -> tuple[dict, str]:
    entries = tuple(dict.fromkeys(entry or os.getcwd() for entry in sys.path))
    return _tracked("packages", entries, lambda: _scan_packages(entries))


def packages() -> dict:
    return _packages()[0]


# --- code version --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _roots(directory: str) -> tuple[str, ...]:
    """`directory` and the repository around it (found as git does, by a `.git` entry)."""
    real = os.path.realpath(directory)
    top = real
    while not os.path.exists(os.path.join(top, ".git")):
        parent = os.path.dirname(top)
        if parent == top:
            return directory, real
        top = parent
    return directory, top


_imported: dict = {}


def _imported_files(roots: tuple[str, ...]) -> tuple[str, ...]:
    """Files of the imported modules under `roots`; rescanned when the number of modules changes."""
    count = len(sys.modules)
    cached = _imported.get(roots)
    if cached is None or cached[0] != count:
        prefixes = tuple(os.path.join(root, "") for root in roots)
        files = (getattr(module, "__file__", None) for module in list(sys.modules.values()))
        cached = _imported[roots] = (count, tuple(sorted({f for f in files if f and f.startswith(prefixes)})))
    return cached[1]


def _run_git(directory: str, *args) -> str | None:
    import subprocess

    try:
        result = subprocess.run(
            ["git", "--no-optional-locks", "-C", directory, *args],
            capture_output=True, encoding="utf-8", errors="surrogateescape", timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _status(raw: str) -> tuple[str, list[str]]:
    """`git status --porcelain -z` as `--porcelain` lines (names unquoted) and the paths it names."""
    lines, paths = [], []
    entries = iter(raw.split("\0")[:-1])
    for entry in entries:
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # renamed or copied: the source follows
            source = next(entries)
            lines.append(f"{code} {source} -> {path}")
            paths += [source, path]
        else:
            lines.append(entry)
            paths.append(path)
    return "".join(line + "\n" for line in lines), paths


def _read_git(directory: str, modules: tuple[str, ...]) -> tuple[str, tuple]:
    """The `"git"` member as JSON, and the files whose change would change it."""
    found = _run_git(
        directory, "rev-parse", "HEAD", "--symbolic-full-name", "HEAD",
        "--absolute-git-dir", "--git-common-dir", "--show-toplevel",
    )
    if found is None:
        # `git init` or a first commit there writes into it
        return "null", (os.path.join(_roots(directory)[1], ".git"),)
    commit, ref, git_dir, common_dir, top = found.splitlines()
    common_dir = os.path.join(directory, common_dir)
    status, changed = _status(_run_git(directory, "status", "--porcelain", "-z") or "")
    git = {"commit": commit, "diff": _run_git(directory, "diff", "HEAD") or "", "status": status}
    refs = [os.path.join(git_dir, "HEAD"), os.path.join(git_dir, "index"), os.path.join(common_dir, "packed-refs")]
    if ref.startswith("refs/"):
        refs.append(os.path.join(common_dir, ref))
    folders = {top, *map(os.path.dirname, modules)}
    changed = [os.path.join(top, path) for path in changed]
    return json.dumps(git), tuple(dict.fromkeys([*refs, *sorted(folders), *modules, *changed]))


def _hash_module(name: str, path: str | None) -> tuple[str, tuple]:
    import hashlib  # here, not at the top: loading OpenSSL costs ~2 ms of `import machinable`

    digest = None
    if path is not None:
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            pass
    return json.dumps({"name": name, "path": path, "sha256": digest}), (path,) if path else ()


def _code(directory: str, module: str | None) -> str:
    path = getattr(sys.modules.get(module), "__file__", None) if module else None
    watched = _imported_files(_roots(directory))
    if path and path not in watched:  # also watched when sys.modules swapped it in at the same count
        watched += (path,)
    git = _tracked(("git", directory), watched, lambda: _read_git(directory, watched))
    module_json = "null" if module is None else _tracked(("module", module), path, lambda: _hash_module(module, path))
    return f'{{"directory": {json.dumps(directory)}, "git": {git}, "module": {module_json}}}'


def code_version(directory: str, module: str | None = None) -> dict:
    """Git commit, diff and status of `directory` (None outside a repository) and the
    name, path and SHA-256 of the file of the imported module `module`, as on disk now."""
    return json.loads(_code(directory, module))


def encoded(directory: str, module: str | None = None) -> tuple[str, str]:
    """The `"code": ...` and `"packages": ...` JSON object members of an execution record."""
    return f' "code": {_code(directory, module)}', f' "packages": {_packages()[1]}'
