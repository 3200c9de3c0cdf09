"""Interpreters and the machine: venvs, the snapshot of src/ every machinable process runs, machine info."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys

from benchmarks.settings import HERE, PEER_ENV, REPO, log


def _venv_python(path):
    return os.path.join(path, "bin", "python")


def ensure_venv(path: str, requirements: list[str], pth: str | None = None) -> str:
    """A venv at `path` with `requirements` installed (cached by a hash marker)."""
    py = _venv_python(path)
    want = hashlib.sha256(json.dumps([sys.version, requirements, pth]).encode()).hexdigest()
    marker = os.path.join(path, ".machinable-bench")
    if os.path.exists(py) and os.path.exists(marker) and open(marker).read() == want:
        return py
    if not os.path.exists(py):
        log(f"creating venv {path}")
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    if requirements:
        log(f"pip install into {path}: {' '.join(requirements)}")
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore")
        p = subprocess.run([py, "-m", "pip", "install", "-q", *requirements], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"pip install failed in {path}: {p.stderr[-2000:]}")
    if pth:
        purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(purelib, "machinable-bench-src.pth"), "w") as f:
            f.write(pth + "\n")
    with open(marker, "w") as f:
        f.write(want)
    return py


def machinable_requirements() -> list[str]:
    """machinable's dependencies (pyproject.toml) and Optuna for `Search`, pinned to the peers' Optuna so that
    the search rows compare one Optuna version."""
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        try:
            import tomllib

            dependencies = list(tomllib.load(f)["project"]["dependencies"])
        except ImportError:  # Python 3.10
            text = f.read().decode()
            block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M).group(1)
            dependencies = re.findall(r"\"([^\"]+)\"", block)
    return dependencies + [line for line in peer_requirements() if line.startswith("optuna==")]


def peer_requirements() -> list[str]:
    with open(os.path.join(HERE, "requirements-peers.txt")) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


SNAPSHOT = {"path": None}  # copy of src/ taken at start: one code version for the whole run


def child_env(python=None):
    env = dict(os.environ)
    for k, v in PEER_ENV.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env.pop("PYTHONPATH", None)  # venv interpreters must see only their own packages
    if SNAPSHOT["path"] and python is not None and python == SNAPSHOT.get("python"):
        env["PYTHONPATH"] = SNAPSHOT["path"]
    return env


def snapshot_source(base) -> dict:
    """Copy src/machinable so that edits made while the benchmark runs do not mix code versions."""
    src = os.path.join(REPO, "src", "machinable")
    dest = os.path.join(base, "_src")
    shutil.copytree(src, os.path.join(dest, "machinable"), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(os.path.join(dest, "machinable"))):
        dirs.sort()
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                h.update(os.path.relpath(os.path.join(root, name), dest).encode() + b"\0" + f.read())
    SNAPSHOT["path"] = dest
    return {"path": dest, "sha256": h.hexdigest()[:16]}


# --- machine info -----------------------------------------------------------------------


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _mount_of(path):
    path = os.path.realpath(path)
    best = ("?", "?", "?")
    for line in _read("/proc/mounts").splitlines():
        dev, mnt, fstype = line.split()[:3]
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[1]):
            best = (dev, mnt, fstype)
    return {"device": best[0], "mount": best[1], "fstype": best[2]}


def machine_info(base):
    cpu = re.search(r"^model name\s*:\s*(.*)$", _read("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+)", _read("/proc/meminfo"), re.M)
    osr = re.search(r'^PRETTY_NAME="?(.*?)"?$', _read("/etc/os-release"), re.M)
    git = {}
    try:
        git["commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                       text=True).stdout.strip()
        git["dirty"] = bool(subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src"],
                                           capture_output=True, text=True).stdout.strip())
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "kernel": platform.release(),
        "os": osr.group(1) if osr else platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "base_dir": base,
        "base_filesystem": _mount_of(base),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "git": git,
    }


def versions_of(py, packages):
    code = ("import json, importlib.metadata as m\nout = {}\nfor p in %r:\n    try: out[p] = m.version(p)\n"
            "    except Exception: out[p] = None\nprint(json.dumps(out))") % (list(packages),)
    p = subprocess.run([py, "-c", code], capture_output=True, text=True, env=child_env(py))
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}
