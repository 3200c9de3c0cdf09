"""Issue 8: `ui --host 0.0.0.0` switched the Host-header check off, so any web page could reach
the dashboard through DNS rebinding. A non-loopback bind now needs `--allow-host NAME`,
and every request naming another host is refused, whatever the bind address."""

import http.client
import json
import socket

import pytest
from click.testing import CliRunner

from machinable.cli import cli
from machinable.ui import create_server
from machinable.ui.server import Exposed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_for(port: int, host_header: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/api/experiments", headers={"Host": host_header})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_non_loopback_bind_without_allowed_hosts_refuses_to_start(project):
    port = free_port()
    with pytest.raises(Exposed, match="--allow-host"):
        create_server(project.storage, host="0.0.0.0", port=port)
    result = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0", "--port", str(port)])
    assert result.exit_code == 1 and "--allow-host NAME" in result.output and "DNS rebinding" in result.output
    with socket.socket() as s:  # nothing was bound: the port is still free
        s.bind(("0.0.0.0", port))


def test_a_non_loopback_bind_answers_only_the_allowed_host_names(project):
    server = create_server(project.storage, host="0.0.0.0", port=0, allowed_hosts=["Dash.Example.org"]).start()
    port = server.server_address[1]
    try:
        for forged in (f"evil.example:{port}", "evil.example", f"dash.example.org.evil.example:{port}",
                       f"10.1.2.3:{port}"):
            status, data = status_for(port, forged)  # before: 200 for all of them
            assert status == 403, forged
            assert "dash.example.org" in data["error"] and "--allow-host" in data["error"]
        for allowed in (f"dash.example.org:{port}", "DASH.example.org", f"127.0.0.1:{port}", f"localhost:{port}"):
            assert status_for(port, allowed)[0] == 200, allowed
    finally:
        server.stop()


def test_a_loopback_bind_may_allow_more_names_and_still_refuses_others(project):
    server = create_server(project.storage, port=0, allowed_hosts=["proxy.lab"]).start()
    port = server.server_address[1]
    try:
        assert status_for(port, f"proxy.lab:{port}")[0] == 200
        assert status_for(port, f"[::1]:{port}")[0] == 200
        assert status_for(port, f"evil.example:{port}")[0] == 403
    finally:
        server.stop()
