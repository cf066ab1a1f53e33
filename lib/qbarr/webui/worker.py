"""gunicorn's gthread worker with a deadline on reading each request.

gunicorn (27) gives a new connection up to 5 s to send its first byte, then reads the
request with a blocking socket and no time limit: four clients that send half a request
and then nothing held all four threads of the default web UI, /health included, for as
long as they liked (bench/webui_slow_clients.py). Here every request must arrive whole -
headers and body - within REQUEST_READ_TIMEOUT of the moment a thread takes it; a client
that is slower gets its connection closed (as if it had hung up) and the thread goes back
to the pool. Reads only: writing a large answer to a slow reader is not limited here.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

REQUEST_READ_TIMEOUT = 15.0
"""Seconds from a thread taking a request until its headers and body must have arrived."""


class DeadlineSocket:
    """A client socket whose reads stop at a deadline (EOF, as a hung-up client would give),
    so gunicorn's parser treats a too-slow client as one that went away."""

    def __init__(self, sock: socket.socket, budget: float) -> None:
        self._sock = sock
        self._budget = budget
        self.deadline: float | None = None

    def start_request(self) -> None:
        self.deadline = time.monotonic() + self._budget

    def recv(self, size: int, *flags: int) -> bytes:
        if self.deadline is None:
            return self._sock.recv(size, *flags)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return b""
        prior = self._sock.gettimeout()
        self._sock.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            return b""
        finally:
            self._sock.settimeout(prior)

    def __getattr__(self, name: str) -> Any:  # everything else is the socket's
        return getattr(self._sock, name)


class DeadlineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with :class:`DeadlineSocket` around every client connection."""

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, REQUEST_READ_TIMEOUT)
        conn.sock.start_request()
        return super().handle(conn)
