"""SPEC §6, §12: pickles run code when loaded; one not saved by this user needs an explicit opt-in,
also when its storage arrived as a copy or archive (so file ownership says nothing).

The tests run as any user: "another user" is simulated by chown (as root) or skipped.
"""

import os
import pickle

import pytest

from machinable import Experiment, get
from machinable.errors import StorageError, UntrustedData


class Evil:
    """Unpickling this creates a directory: proof that loading a pickle runs code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def other_user(path: str) -> None:
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(path, 4242, 4242)


def test_loading_a_pickle_is_documented_to_run_code():
    doc = " ".join(Experiment.load_data.__doc__.split())
    assert "Pickles (.p/.pkl) run code when loaded" in doc and "trust=True" in doc


@pytest.mark.parametrize("name", ["evil.pkl", "evil.p", "nested/evil.pkl"])
def test_a_pickle_of_another_user_is_refused_without_opt_in(project, name):
    experiment = get("estimate_gravity").commit()
    marker = os.path.join(project.path, "code-ran")
    experiment.save_data(name, "placeholder")
    path = experiment.local_directory("data", name)
    with open(path, "wb") as f:
        f.write(pickle.dumps(Evil(marker)))
    other_user(path)
    with pytest.raises(UntrustedData) as info:
        experiment.load_data(name)
    message = str(info.value)
    assert f"{path} is a pickle not saved by you" in message
    assert "loading a pickle runs arbitrary code" in message and "load_data(..., trust=True)" in message
    assert not os.path.exists(marker)  # refused before unpickling: nothing ran
    experiment.load_data(name, trust=True)  # the explicit opt-in
    assert os.path.isdir(marker)  # ... and it does run code


def test_own_pickles_and_other_formats_load_without_opt_in(project):
    numpy = pytest.importorskip("numpy")
    experiment = get("estimate_gravity").commit()
    experiment.save_data("mine.pkl", {"a": {1, 2}})
    assert experiment.load_data("mine.pkl") == {"a": {1, 2}}
    for name, value in (("other.json", {"x": 1}), ("other.txt", "text"), ("other.npy", numpy.arange(3))):
        experiment.save_data(name, value)
        other_user(experiment.local_directory("data", name))
        loaded = experiment.load_data(name)  # cannot run code: no opt-in needed
        assert (loaded == value).all() if name.endswith(".npy") else loaded == value


def test_a_npy_file_holding_a_pickle_is_not_unpickled(project):
    numpy = pytest.importorskip("numpy")
    experiment = get("estimate_gravity").commit()
    marker = os.path.join(project.path, "code-ran")
    experiment.save_data("array.npy", numpy.arange(2))
    with open(experiment.local_directory("data", "array.npy"), "wb") as f:
        numpy.save(f, numpy.array([Evil(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        experiment.load_data("array.npy")
    assert not os.path.exists(marker)


def test_a_pickle_from_a_storage_received_as_a_tar_archive_needs_opt_in(project, tmp_path, monkeypatch):
    """Unpacked files belong to whoever unpacks them: before, such a pickle loaded without trust=True."""
    import tarfile

    experiment = get("estimate_gravity").commit()
    marker = os.path.join(project.path, "code-ran")
    experiment.save_data("evil.pkl", Evil(marker))  # signed by the sender's key
    archive = tmp_path / "storage.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(project.storage, arcname="storage")
    received = tmp_path / "received"
    with tarfile.open(archive) as tar:
        tar.extractall(received)
    monkeypatch.setenv("MACHINABLE_SIGNING_KEY", str(tmp_path / "receiver.key"))  # the receiver's own key
    with get("machinable.storage.filesystem", {"directory": str(received / "storage")}):
        copy = Experiment.find_by_id(experiment.experiment_id)
        assert os.stat(copy.local_directory("data", "evil.pkl")).st_uid == os.getuid()  # owned by the receiver
        with pytest.raises(UntrustedData, match="not saved by you.*copy or archive of a storage"):
            copy.load_data("evil.pkl")
        assert not os.path.exists(marker)
        copy.save_data("mine.pkl", [1, 2])  # what the receiver saves is theirs
        assert copy.load_data("mine.pkl") == [1, 2]
        copy.load_data("evil.pkl", trust=True)
        assert os.path.isdir(marker)


def test_an_empty_signing_key_left_by_a_crash_is_refused(project, tmp_path, monkeypatch):
    """A crash between creating the key file and writing it left it empty; before, every pickle was
    then "signed" with an empty key, which anyone can reproduce: a forged pickle loaded without trust=True."""
    import hashlib
    import hmac

    key = tmp_path / "signing.key"
    key.write_bytes(b"")
    monkeypatch.setenv("MACHINABLE_SIGNING_KEY", str(key))
    experiment = get("estimate_gravity").commit()
    marker = os.path.join(project.path, "code-ran")
    forged = pickle.dumps(Evil(marker))
    os.makedirs(experiment.local_directory("data"), exist_ok=True)
    with open(experiment.local_directory("data", "forged.pkl"), "wb") as f:
        f.write(forged)
    os.makedirs(experiment.local_directory(".signatures"), exist_ok=True)
    with open(experiment.local_directory(".signatures", "forged.pkl.sig"), "wb") as f:
        f.write(hmac.new(b"", forged, hashlib.sha256).hexdigest().encode())
    with pytest.raises(StorageError, match=rf"The signing key {key} is damaged \(0 bytes.*Delete it"):
        experiment.load_data("forged.pkl")
    with pytest.raises(StorageError, match="is damaged"):
        experiment.save_data("mine.pkl", [1])
    assert not os.path.exists(experiment.local_directory("data", "mine.pkl"))  # refused before writing
    assert not os.path.exists(marker)
    key.unlink()
    experiment.save_data("mine.pkl", [1])  # a new key, written whole
    assert len(key.read_bytes()) == 32 and experiment.load_data("mine.pkl") == [1]
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("signing.key")] == ["signing.key"]
