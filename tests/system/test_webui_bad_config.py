"""The web UI program under a real supervisord with a config.ini it cannot use: it waits and
reports (never an exit-78 loop that ends FATAL), starts serving once the file is fixed, and
a worker restarted while the file is broken keeps the last good config."""

from __future__ import annotations

import signal
import socket

import httpx
import psutil
import pytest

from tests.conftest import free_port
from tests.support import waiting, webui_supervisord
from tests.support import webui_seed as seedmod
from tests.support.webui_client import BEARER

pytestmark = pytest.mark.system


def wait_for(predicate, what: str, timeout: float = 60.0):
    return waiting.wait_for(
        predicate, timeout=timeout, interval=0.2, what=what, ignore=(httpx.HTTPError, OSError)
    )


def test_webui_waits_for_a_usable_config_then_serves(tmp_path):
    port = free_port()
    home = seedmod.make_home(tmp_path, port=port, token="", password="")
    log = home.logs / "webui.log"
    suite = webui_supervisord.start(home, managers=(), webui=True)  # RUNNING, not BACKOFF
    try:
        pid = suite.processes()["webui"]["pid"]
        wait_for(lambda: "[WebUI] needs a Token" in log.read_text(), "the problem in the log")
        assert "waiting for a fix" in log.read_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        # fixed credentials, but another program holds the port: still waiting, told why
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            home.config.write_text(seedmod.config_text(port=port))
            wait_for(
                lambda: f"127.0.0.1:{port} is already in use" in log.read_text(),
                "the port problem in the log",
            )
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=BEARER, timeout=10)
        wait_for(lambda: c.get("/health").status_code == 200, "the web UI to serve")
        assert suite.processes()["webui"]["pid"] == pid  # the same process: no restart loop
        assert suite.processes()["webui"]["statename"] == "RUNNING"

        # broken again; a new worker (gunicorn HUP) keeps the last good config
        worker = psutil.Process(pid).children()[0].pid
        home.config.write_text(seedmod.config_text(port=port, token="", password=""))
        psutil.Process(pid).send_signal(signal.SIGHUP)
        wait_for(
            lambda: [p.pid for p in psutil.Process(pid).children()] not in ([], [worker]),
            "a new gunicorn worker",
        )
        wait_for(lambda: c.get("/api/overview").status_code == 200, "the new worker to serve")
        assert suite.processes()["webui"]["pid"] == pid
        assert "keeping the last good config" in log.read_text()
    finally:
        suite.stop()
