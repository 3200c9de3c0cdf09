"""Which pickles load without `trust=True`: those this user's machinable signed when saving them.

Loading a pickle runs code. File ownership cannot tell who wrote one (a storage
unpacked from a tar archive or copied is owned by whoever unpacked it), so
`save_data("x.pkl", ...)` also writes `.signatures/x.pkl.sig` in the experiment's directory, an HMAC-SHA256 of the bytes
under a secret key of this user (`~/.config/machinable/signing.key`, created on first
use with mode 0600; `MACHINABLE_SIGNING_KEY` names another file). A copy keeps its
signatures, but they verify only with the key of the user who saved them: anyone
else's pickle (a colleague's storage, an archive) needs `load_data(name, trust=True)`.
"""

from __future__ import annotations

import os

from machinable.errors import StorageError, UntrustedData
from machinable.storage.files import write_atomic

# hashlib, hmac and secrets are imported where used: loading OpenSSL costs ~3 ms of `import machinable`


def key_path() -> str:
    return os.environ.get("MACHINABLE_SIGNING_KEY") or os.path.join(
        os.path.expanduser("~"), ".config", "machinable", "signing.key"
    )


KEY_BYTES = 32


def _key(create: bool) -> bytes | None:
    """This user's key (None if there is none and `create` is False).

    A key shorter than KEY_BYTES (e.g. an empty file) is refused: anyone could sign with it.
    """
    path = key_path()
    try:
        with open(path, "rb") as f:
            key = f.read()
    except FileNotFoundError:
        if not create:
            return None
        _create_key(path)
        return _key(create=False)
    if len(key) < KEY_BYTES:
        raise StorageError(
            f"The signing key {path} is damaged ({len(key)} bytes, not at least {KEY_BYTES}), so it cannot "
            "tell your pickles from anyone else's. Delete it: a new key is made when a pickle is next saved "
            "(pickles signed before then load with load_data(..., trust=True))."
        )
    return key


def _create_key(path: str) -> None:
    """Write a new key whole, then link it into place: a crash never leaves a partial key, and if another
    process created one meanwhile, that one is kept."""
    import secrets

    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def _digest(key: bytes, raw: bytes) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, raw, hashlib.sha256).hexdigest().encode()


def sign(raw: bytes) -> bytes:
    """The signature of pickle bytes `raw` under this user's key (created on first use)."""
    return _digest(_key(create=True), raw)


def write_signature(path: str, signature: bytes, check=None) -> None:
    """Write the signature file of a pickle just saved."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, signature, check)


def check_trusted(path: str, signature: str, raw: bytes) -> None:
    """Raise UntrustedData unless the pickle at `path` (bytes `raw`) has this user's `signature` file."""
    key = _key(create=False)
    try:
        with open(signature, "rb") as f:
            signature = f.read()
    except OSError:
        signature = b""
    import hmac

    if key is not None and hmac.compare_digest(signature, _digest(key, raw)):
        return
    raise UntrustedData(
        f"{path} is a pickle not saved by you (no valid signature of your machinable key {key_path()}: "
        "e.g. it comes from another user, or from a copy or archive of a storage); loading a pickle runs "
        "arbitrary code. Pass load_data(..., trust=True) if you trust its origin."
    )
