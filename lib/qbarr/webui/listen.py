"""Can the web UI listen on this Host and Port? Asked before a config edit is saved (a taken
port or a foreign address would stop the web UI at its next start) and by the program
before it starts gunicorn (it waits and reports instead of exiting in a loop)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def problems(
    path: Path, webui: Mapping[str, Any], listening: tuple[str, int] | None = None
) -> list[str]:
    """Problems with ``[WebUI] Host``/``Port`` as config lines (naming file, section, key).

    ``listening`` is the address this process serves already: its port is ours, not taken.
    """
    host, port = str(webui["Host"]), int(webui["Port"])
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        return [f"{path}: [WebUI] Host = {host!r} is invalid: cannot listen on {host}: {exc}"]
    host_error = _bind(family, kind, proto, (address[0], 0, *address[2:]))
    if host_error is not None:
        return [
            f"{path}: [WebUI] Host = {host!r} is invalid: cannot listen on {host} "
            f"({host_error}): use 127.0.0.1, 0.0.0.0 or an address of this machine"
        ]
    if listening is not None and port == listening[1]:
        return []  # our own port: binding it again here would only find ourselves
    port_error = _bind(family, kind, proto, address)
    if port_error is None:
        return []
    if port_error == "in use":
        return [
            f"{path}: [WebUI] Port = {port} is invalid: {host}:{port} is already in use by "
            "another program; pick a free port"
        ]
    return [
        f"{path}: [WebUI] Port = {port} is invalid: cannot listen on {host}:{port} ({port_error})"
    ]


def _bind(family: int, kind: int, proto: int, address: tuple[Any, ...]) -> str | None:
    """None when a listening socket could bind ``address`` (as gunicorn binds), else why not."""
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None
