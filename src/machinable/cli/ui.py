"""`machinable ui`: serve the read-only dashboard."""

from __future__ import annotations

import click

from machinable.cli.output import storage_root


@click.command("ui", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to serve on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but a loopback address makes the dashboard readable from other machines "
                   "and requires --allow-host.")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A host name (or address) browsers may reach the dashboard by; repeatable. Requests naming any "
                   "other host are refused (DNS rebinding).")
def ui_command(port: int, host: str, allowed_hosts: tuple) -> None:
    """Serve the read-only dashboard (experiments, records, plots, comparisons) until Ctrl+C."""
    import errno

    from machinable import ui
    from machinable.storage import Storage
    from machinable.ui.server import Exposed, is_loopback

    storage = Storage.current()
    try:
        server = ui.create_server(storage, host, port, allowed_hosts=allowed_hosts)
    except Exposed as error:
        raise click.ClickException(str(error))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(f"Port {port} on {host} is in use; pass --port N, or --port 0 for a free one.")
        raise click.ClickException(f"Cannot serve on {host}:{port}: {error.strerror or error}.")
    if not is_loopback(host):
        click.echo(f"Warning: bound to {host}, so anyone who can reach this machine can read the experiments.", err=True)
    where = storage_root(storage) or repr(storage)
    click.echo(f"machinable dashboard: {server.url} (storage {where}; Ctrl+C to stop)")
    server.run()
