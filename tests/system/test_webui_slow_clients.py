"""Slow clients against the real web UI (gunicorn under supervisord): a client that sends
half a request and then nothing must not hold a thread for good. With as many such
clients as threads, the web UI still answers /health, and closes the slow connections."""

from __future__ import annotations

import socket

import httpx
import pytest

from qbarr.webui.worker import REQUEST_READ_TIMEOUT
from tests.conftest import free_port
from tests.support import waiting, webui_supervisord
from tests.support import webui_seed as seedmod

pytestmark = pytest.mark.system

HALF_HEADERS = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
HALF_BODY = (
    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\npassword="
)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset); False while it is open."""
    sock.settimeout(0.2)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_half_sent_requests_are_cut_and_do_not_starve_the_web_ui(tmp_path):
    port = free_port()
    home = seedmod.make_home(tmp_path, port=port, extra_webui="Threads = 2\n")
    suite = webui_supervisord.start(home, managers=(), webui=True)
    slow: list[socket.socket] = []
    try:
        waiting.wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200,
            what="the web UI",
            ignore=(httpx.HTTPError,),
        )
        for partial in (HALF_HEADERS, HALF_BODY, HALF_HEADERS, HALF_BODY):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(partial)
            slow.append(sock)
        # more slow clients than threads: /health is still answered (a generous client
        # timeout; before the fix it never was)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=6 * REQUEST_READ_TIMEOUT)
        assert health.status_code == 200
        for sock in slow:
            waiting.wait_for(
                lambda s=sock: closed_by_server(s),
                timeout=6 * REQUEST_READ_TIMEOUT,
                interval=0.1,
                what="the server to close a half-sent request",
            )
        assert "Traceback" not in (home.logs / "webui.log").read_text()
    finally:
        for sock in slow:
            sock.close()
        suite.stop()
