"""The code version an execution records is the one on disk when it starts, even in one process."""

import hashlib
import os
import subprocess
import time

import pytest

from machinable import environment, get


def git(project, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=project.path, check=True,
                   capture_output=True)


def settle():
    """Let the files age past the window in which a stat cannot tell a second write."""
    time.sleep(2 * environment.RECENT_NS / 1e9)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def code(version):
    return get("estimate_gravity", {"time_dilation": version}).launch().execution.record["code"]


@pytest.fixture
def repository(project):
    project.write(".gitignore", "storage/\n__pycache__/\n")
    git(project, "init", "-q")
    git(project, "add", ".gitignore", "estimate_gravity.py")
    git(project, "commit", "-qm", "init")
    code(10)  # creates storage/ in the project, so the snapshots the tests start from are settled
    settle()
    return project


def test_edit_between_launches_records_new_diff_and_hash(repository):
    module = os.path.join(repository.path, "estimate_gravity.py")
    first = code(1)
    assert first["git"]["diff"] == "" and first["module"]["sha256"] == sha256(module)
    assert first["module"]["name"] == "estimate_gravity" and first["module"]["path"] == module
    settle()
    with open(module, "a") as f:
        f.write("# edited between launches\n")
    second = code(2)
    assert "+# edited between launches" in second["git"]["diff"]
    assert second["git"]["status"] == " M estimate_gravity.py\n"
    assert second["module"]["sha256"] == sha256(module) != first["module"]["sha256"]
    assert second["git"]["commit"] == first["git"]["commit"]


def test_edit_of_another_imported_project_module_is_seen(repository, monkeypatch):
    repository.write("provenance_helpers.py", "SCALE = 1\n")
    git(repository, "add", "provenance_helpers.py")
    git(repository, "commit", "-qm", "helpers")
    monkeypatch.syspath_prepend(str(repository.path))
    import provenance_helpers  # noqa: F401  (an imported project module is watched)

    settle()
    first = code(1)
    settle()
    repository.write("provenance_helpers.py", "SCALE = 2\n")
    second = code(2)
    assert first["git"]["diff"] == "" and "+SCALE = 2" in second["git"]["diff"]


def test_staging_between_launches(repository):
    module = os.path.join(repository.path, "estimate_gravity.py")
    with open(module, "a") as f:
        f.write("# a change\n")
    settle()
    edited = code(1)
    settle()
    git(repository, "add", "estimate_gravity.py")  # only .git/index changes
    staged = code(2)
    assert edited["git"]["status"] == " M estimate_gravity.py\n"
    assert staged["git"]["status"] == "M  estimate_gravity.py\n" and staged["git"]["diff"] == edited["git"]["diff"]


def test_commit_and_branch_switch_between_launches(repository):
    first = code(1)
    git(repository, "commit", "-q", "--allow-empty", "-m", "second")  # only the branch ref changes
    git(repository, "branch", "old", "HEAD~1")
    settle()
    second = code(2)
    git(repository, "symbolic-ref", "HEAD", "refs/heads/old")  # only .git/HEAD changes
    third = code(3)
    assert first["git"]["commit"] != second["git"]["commit"] and third["git"]["commit"] == first["git"]["commit"]


def test_new_file_in_the_project_is_seen(repository):
    first = code(1)
    repository.write("notes.txt", "a new untracked file\n")
    second = code(2)
    assert first["git"]["status"] == "" and second["git"]["status"] == "?? notes.txt\n"


def test_same_size_edit_on_a_coarse_clock_is_seen(repository, monkeypatch):
    """A rewrite within one tick of the filesystem clock keeps the mtime: a snapshot of files
    changed within RECENT_NS of it is not trusted. Simulated: 1 s timestamps, a 2 s window."""
    stat = environment._stat

    def coarse(path):
        found = stat(path)
        return found and (found[0] // 10**9 * 10**9, found[1] // 10**9 * 10**9, *found[2:])

    monkeypatch.setattr(environment, "_stat", coarse)
    monkeypatch.setattr(environment, "RECENT_NS", 2 * 10**9)
    module = os.path.join(repository.path, "estimate_gravity.py")
    with open(module, "a") as f:
        f.write("# version a\n")
    first = code(1)
    with open(module, "r+") as f:  # same size, same inode, at once
        source = f.read()
        f.seek(0)
        f.write(source.replace("# version a", "# version b"))
    second = code(2)
    assert "+# version a" in first["git"]["diff"] and "+# version b" in second["git"]["diff"]
    assert second["module"]["sha256"] == sha256(module) != first["module"]["sha256"]


def test_outside_a_repository_git_is_none_but_the_module_is_hashed(project):
    first = code(1)
    assert first["git"] is None
    assert first["module"]["sha256"] == sha256(os.path.join(project.path, "estimate_gravity.py"))
    assert first["directory"] == str(project.path)


def test_nothing_changed_reuses_the_snapshot_without_running_git(repository, monkeypatch):
    first = code(1)
    calls = []
    run_git = environment._run_git
    monkeypatch.setattr(environment, "_run_git", lambda *args: calls.append(args) or run_git(*args))
    assert code(3) == code(4) == first
    assert calls == []


def test_installed_packages_follow_the_sys_path_folders(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "fresh-package" not in environment.packages()
    settle()
    assert "fresh-package" not in environment.packages()
    (tmp_path / "fresh_package-1.2.dist-info").mkdir()
    assert environment.packages()["fresh-package"] == "1.2"


def test_status_names_renames_and_unusual_paths():
    raw = "R  new name.py\0old name.py\0?? sub/\0 M caf\u00e9.py\0"
    text, paths = environment._status(raw)
    assert text == "R  old name.py -> new name.py\n?? sub/\n M caf\u00e9.py\n"
    assert paths == ["old name.py", "new name.py", "sub/", "caf\u00e9.py"]
