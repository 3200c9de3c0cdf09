"""The dashboard's HTTP server: the standard library's ThreadingHTTPServer, read-only.

GET (and HEAD) serve the packaged static files and the JSON API; every other method
gets 405. It refuses requests whose Host header names a host other than a loopback
address, localhost or one of `allowed_hosts` (so a web page cannot reach it through DNS
rebinding); bound to any other address it does not start without `allowed_hosts`.
Requests are answered concurrently, each with a storage (and index connection) of its own.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from contextlib import contextmanager

from machinable.errors import MachinableError
from machinable.ui import api

CONCURRENT_REQUESTS = 8  # requests that read the storage at once, each with its own storage and index connection

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or the name localhost."""
    host = host.strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host of a Host header, without its port: "[::1]:80" -> "::1", "Example.org:80" -> "example.org"."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0].lower() if header.count(":") == 1 else header.lower()


class Exposed(MachinableError, ValueError):
    """A dashboard bound to a non-loopback address without the host names it may be reached by."""


class DashboardServer(ThreadingHTTPServer):
    """Serves the dashboard of `storage` on (host, port); port 0 picks a free port (see `url`).

    `allowed_hosts`: the names (or addresses) other machines reach it by, which their
    browsers send as the Host header; required unless `host` is a loopback address.
    """

    daemon_threads = True

    def __init__(self, storage, host: str = "127.0.0.1", port: int = 8765, verbose: bool = False,
                 allowed_hosts=()):
        self.allowed_hosts = {host_name(name.strip()) for name in allowed_hosts if name.strip()}
        if not is_loopback(host) and not self.allowed_hosts:
            raise Exposed(
                f"Bound to {host}, the dashboard answers other machines, and any web page could reach it "
                "through DNS rebinding unless it knows the host names it is reached by: name them with "
                "--allow-host NAME (repeatable; e.g. --allow-host myserver.lab.org --allow-host 10.0.0.5), "
                "or bind 127.0.0.1 and use an SSH tunnel."
            )
        self.storage = storage  # never used by requests: the caller may go on using it in its own thread
        self.verbose = verbose
        self._slots = threading.BoundedSemaphore(CONCURRENT_REQUESTS)
        self._idle = queue.SimpleQueue()  # storages not serving a request: CONCURRENT_REQUESTS at most
        self._thread: threading.Thread | None = None
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), DashboardHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/"

    @contextmanager
    def storage_for_request(self):
        """A storage serving only this request (an SQLite connection is not shared between threads).

        At most CONCURRENT_REQUESTS requests read the storage at once (others wait), so a burst of
        requests cannot open an index connection each.
        """
        with self._slots:
            try:
                storage = self._idle.get_nowait()
            except queue.Empty:
                storage = type(self.storage)(self.storage.portable_config())
            try:
                yield storage
            finally:
                self._idle.put(storage)

    def start(self) -> "DashboardServer":
        """Serve in a background (daemon) thread; `stop()` ends it."""
        self._thread = threading.Thread(target=self.serve_forever, name="machinable-ui", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def run(self) -> None:
        """Serve until interrupted (Ctrl+C), then close the socket."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()

    def handle_error(self, request, client_address):
        """A browser that navigated away mid-answer is not an error worth a traceback."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class DashboardHandler(BaseHTTPRequestHandler):
    server_version = "machinable-ui"
    server: DashboardServer

    def do_GET(self):
        self._respond(send_body=True)

    def do_HEAD(self):
        self._respond(send_body=False)

    def __getattr__(self, name):
        if name.startswith("do_"):  # POST, PUT, DELETE, PATCH, OPTIONS, anything: read-only server
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self):
        self._discard_body()
        response = api.error_response(405, f"The dashboard is read-only: {self.command} is not allowed, only GET.")
        response.headers["Allow"] = "GET, HEAD"
        self._send(response, send_body=True)

    def _discard_body(self) -> None:
        try:
            length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)

    def _respond(self, send_body: bool) -> None:
        if not self._host_allowed():
            names = ["127.0.0.1", "localhost", *sorted(self.server.allowed_hosts)]
            self._send(api.error_response(403, f"This dashboard only answers requests addressed to "
                                               f"{', '.join(names[:-1])} or {names[-1]} (see --allow-host)."), send_body)
            return
        target = urlsplit(self.path)
        parts = [unquote(part) for part in target.path.split("/")[1:]]
        try:
            response = self._route(parts, parse_qs(target.query, keep_blank_values=True))
        except Exception as error:  # a bug or an unreadable storage: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            response = api.error_response(500, f"{type(error).__name__}: {error}")
        self._send(response, send_body)

    def _route(self, parts: list[str], query: dict) -> api.Response:
        if parts in ([""], ["index.html"]):
            return static_file("index.html")
        if len(parts) == 2 and parts[0] == "static":
            return static_file(parts[1])
        if parts and parts[0] == "api":
            with self.server.storage_for_request() as storage:
                return api.route(storage, parts[1:], query)
        return api.error_response(404, f"Nothing at {urlsplit(self.path).path}; the dashboard starts at /.")

    def _host_allowed(self) -> bool:
        host = self.headers.get("Host")
        if host is None:
            return True  # HTTP/1.0 clients may omit it; DNS rebinding needs a browser, which sends it
        name = host_name(host.strip())
        return is_loopback(name) or name in self.server.allowed_hosts

    def _send(self, response: api.Response, send_body: bool) -> None:
        size = os.path.getsize(response.path) if response.path else len(response.body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(size))
        for name, value in {**SECURITY_HEADERS, **response.headers}.items():
            self.send_header(name, value)
        self.end_headers()
        if not send_body:
            return
        if response.path:
            with open(response.path, "rb") as f:
                remaining = size  # exactly the announced length, even if the file grew meanwhile
                while remaining > 0:
                    chunk = f.read(min(remaining, 1 << 16))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    remaining -= len(chunk)
        else:
            self.wfile.write(response.body)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


def static_file(name: str) -> api.Response:
    """A file shipped in machinable/ui/static (by its plain name; nothing else on disk is reachable)."""
    if name not in _static_names():
        return api.error_response(404, f"No static file {name!r}.")
    path = os.path.join(STATIC, name)
    content_type = CONTENT_TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
    return api.Response(content_type=content_type, path=path)


def _static_names() -> set:
    try:
        return {name for name in os.listdir(STATIC) if not name.startswith(".")}
    except OSError:
        return set()

