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

from machinable.errors import UntrustedData
from machinable.storage.files import write_atomic

# hashlib, hmac and secrets are imported where used: loading OpenSSL costs ~3 ms of `import machinable`


def key_path() -> str:
    return os.environ.get("MACHINABLE_SIGNING_KEY") or os.path.join(
        os.path.expanduser("~"), ".config", "machinable", "signing.key"
    )


def _key(create: bool) -> bytes | None:
    path = key_path()
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        if not create:
            return None
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # created by another process meanwhile
        return _key(create=False)
    import secrets

    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return _key(create=False)


def _digest(key: bytes, raw: bytes) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, raw, hashlib.sha256).hexdigest().encode()


def sign(signature: str, raw: bytes, check=None) -> None:
    """Write the `signature` file of pickle bytes `raw` just saved."""
    os.makedirs(os.path.dirname(signature), exist_ok=True)
    write_atomic(signature, _digest(_key(create=True), raw), check)


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
