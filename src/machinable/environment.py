"""What an execution records to make a run reproducible: host, Python, packages, code version.

Computed once per process (and per project directory for the code version), since
`git` and the package scan are the expensive parts.
"""

from __future__ import annotations

import functools
import json
import os
import sys


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


@functools.lru_cache(maxsize=None)
def packages() -> dict:
    """Installed distributions and their versions, as the interpreter would import them.

    Read from the `<name>-<version>.dist-info`/`.egg-info` folder names on sys.path
    (first one wins, like imports): the same answer as importlib.metadata without
    parsing every METADATA file, which costs ~50 ms per process.
    """
    found: dict = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext in (".dist-info", ".egg-info") and "-" in stem:
                package, version = stem.split("-")[:2]
                found.setdefault(package.replace("_", "-").lower(), version)
    return dict(sorted(found.items()))


@functools.lru_cache(maxsize=None)
def code_version(directory: str) -> dict:
    """Git commit and uncommitted diff of `directory` when it is inside a git repository."""
    import subprocess

    def git(*args):
        try:
            result = subprocess.run(
                ["git", "-C", directory, *args], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"directory": directory, "git": None}
    return {
        "directory": directory,
        "git": {"commit": commit.strip(), "diff": git("diff", "HEAD") or "", "status": git("status", "--porcelain") or ""},
    }


@functools.lru_cache(maxsize=None)
def encoded(directory: str) -> tuple[str, str]:
    """The `"code": ...` and `"packages": ...` JSON object members, computed once per process."""
    return f' "code": {json.dumps(code_version(directory))}', f' "packages": {json.dumps(packages())}'
