"""A small threaded WSGI server for the simulators, with a clean SIGTERM exit.

wsgiref's server handles one request at a time; the simulators must answer
a manager, a search program and a test concurrently, so this adds threads.
SIGTERM and SIGINT shut the server down and the program exits 0.
"""

from __future__ import annotations

import logging
import signal
import socketserver
import threading
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

log = logging.getLogger("qbarr.sim")


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class QuietHandler(WSGIRequestHandler):
    """One debug line per request instead of wsgiref's stderr chatter."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


def serve(
    app: Callable,
    host: str,
    port: int,
    on_stop: Callable[[], None] | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; then run on_stop and return."""
    server = make_server(host, port, app, server_class=ThreadingServer, handler_class=QuietHandler)

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if ready:
        ready(server.server_port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if on_stop:
            on_stop()
