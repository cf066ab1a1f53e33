"""A small threaded WSGI server for the simulators, with a clean SIGTERM exit.

wsgiref's server handles one request at a time; the simulators must answer
a manager, a search program and a test concurrently, so this adds threads.
SIGTERM and SIGINT shut the server down and the program exits 0.

:func:`serve_in_thread` serves one Arr simulator on a thread of the calling process
instead (in-process tests): the test holds the :class:`~qbarr.sim.arr.engine.SimArr` and
reads or drives it directly.
"""

from __future__ import annotations

import logging
import signal
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from qbarr.sim.arr.app import build_app, with_url_base
from qbarr.sim.arr.control import add_control_routes
from qbarr.sim.arr.engine import SimArr
from qbarr.sim.arr.faults import FaultMiddleware, Faults

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


def wsgi_app(sim: SimArr, api_key: str, faults: Faults, url_base: str = "") -> Callable:
    """One Arr simulator's WSGI callable: the API and /sim/ control, below ``url_base``,
    behind the fault middleware."""
    app = build_app(sim, api_key)
    add_control_routes(app, sim, faults)
    return FaultMiddleware(with_url_base(app, url_base), faults)


@dataclass
class InThread:
    """An Arr simulator served on a daemon thread of this process."""

    sim: SimArr
    faults: Faults
    url: str
    server: ThreadingServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()
        self.sim.stop()


def serve_in_thread(
    sim: SimArr, api_key: str, faults: Faults | None = None, host: str = "127.0.0.1"
) -> InThread:
    """Serve ``sim`` on a free port of ``host``; its own threads (the qBittorrent poller,
    the command runner) are not started: call ``sim.start()`` or ``sim.poll_once()``."""
    faults = faults or Faults()
    server = make_server(host, 0, wsgi_app(sim, api_key, faults), ThreadingServer, QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return InThread(sim, faults, f"http://{host}:{server.server_port}", server, thread)
