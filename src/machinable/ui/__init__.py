"""The dashboard: a read-only web page of the stored experiments (`machinable ui`).

    from machinable import ui
    ui.serve()                                   # http://127.0.0.1:8765/ until Ctrl+C
    server = ui.serve(port=0, block=False)       # in a background thread, on a free port
    print(server.url); ...; server.stop()

Standard library only (http.server); the page is the HTML, CSS and JavaScript in
`machinable/ui/static`, which loads nothing from elsewhere. Experiments are read from
their files; their modules are never imported and data files are never unpickled.
"""

from __future__ import annotations

import os


def create_server(storage=None, host: str = "127.0.0.1", port: int = 8765, verbose: bool = False,
                  allowed_hosts=()):
    """A `DashboardServer` bound to (host, port), not yet serving.

    `storage` is a Storage, a storage directory, or None for the current storage
    (`./storage` unless a `with storage:` block says otherwise). `allowed_hosts` are the
    host names other machines reach it by; a non-loopback `host` requires them.
    """
    from machinable.storage import Storage
    from machinable.ui.server import DashboardServer

    if storage is None:
        storage = Storage.current()
    elif isinstance(storage, (str, os.PathLike)):
        from machinable.storage.filesystem import Filesystem

        storage = Filesystem({"directory": os.path.abspath(os.fspath(storage))})
    return DashboardServer(storage, host, port, verbose=verbose, allowed_hosts=allowed_hosts)


def serve(storage=None, host: str = "127.0.0.1", port: int = 8765, block: bool = True, verbose: bool = False,
          allowed_hosts=()):
    """Serve the dashboard of `storage` at http://host:port/ (port 0: a free port).

    With `block=True` (default) prints the URL and serves until Ctrl+C; with
    `block=False` serves in a background thread and returns the server at once
    (`server.url`, `server.stop()`).
    """
    server = create_server(storage, host, port, verbose, allowed_hosts)
    if not block:
        return server.start()
    print(f"machinable dashboard: {server.url} (Ctrl+C to stop)", flush=True)
    server.run()
    return server


__all__ = ["create_server", "serve"]
