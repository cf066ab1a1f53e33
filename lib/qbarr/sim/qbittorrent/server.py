"""Serving the simulator: a threaded WSGI server, in a thread (tests) or as a program.

wsgiref with ThreadingMixIn: one thread per connection, so slow or hung clients
(and the `hang` fault) never block the others; the store lock serialises the
state changes. `serve_in_thread` is the helper for in-process tests; `spawn`
starts the real program (`python -m qbarr_programs.sim_qbittorrent`) on a port
and waits until it answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bottle

import qbarr.sim.qbittorrent.control as control
import qbarr.sim.qbittorrent.scenario as scenario
import qbarr.sim.qbittorrent.webapi as webapi

from .config import SimConfig
from .faults import Faults, middleware
from .store import Store

log = logging.getLogger("qbarr.sim.qbittorrent")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class _QuietHandler(WSGIRequestHandler):
    access_log = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        if self.access_log:
            log.info("%s %s", self.address_string(), format % args)

    def address_string(self) -> str:
        return str(self.client_address[0])


def _plain_error(error: bottle.HTTPError) -> str:
    bottle.response.content_type = "text/plain; charset=UTF-8"
    return str(error.body or error.status_line)


def build_app(store: Store, faults: Faults) -> Any:
    """The WSGI callable: /api/v2 (qBittorrent), /sim (control), faults and gzip around it."""
    app = bottle.Bottle(catchall=True)
    app.default_error_handler = _plain_error  # type: ignore[method-assign]
    webapi.install(app, store)
    control.install(app, store, faults)
    return middleware(app, faults, store.config.gzip)


class SimServer:
    """A bound simulator; call serve_forever() or start() (background thread)."""

    def __init__(
        self,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        scenario_spec: dict[str, Any] | None = None,
        access_log: bool = False,
    ) -> None:
        self.config = config or SimConfig()
        handler = type("Handler", (_QuietHandler,), {"access_log": access_log})
        self._httpd = make_server(
            host,
            self.config.port,
            _placeholder,
            server_class=_ThreadingServer,
            handler_class=handler,
        )
        self.host, self.port = host, int(self._httpd.server_address[1])
        self.config.port = self.port
        self.store = Store(self.config)
        self.faults = Faults(self.config.seed)
        if scenario_spec:
            with self.store.lock:
                now = self.store.clock.now()
                self.store.bump()
                for t in scenario.generate(self.store, scenario_spec, now):
                    if t.hash not in self.store.torrents:
                        self.store.insert(t, now)
        self._httpd.set_app(build_app(self.store, self.faults))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> SimServer:
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"qbt-sim:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _placeholder(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Starting", [("Content-Type", "text/plain")])
    return [b"starting"]


def serve_in_thread(
    config: SimConfig | None = None,
    scenario_spec: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
) -> SimServer:
    """Start a simulator in a daemon thread of this process; stop it with .stop()."""
    return SimServer(config, host, scenario_spec).start()


class SimProcess:
    """The simulator as a real subprocess (what supervisord runs)."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str) -> None:
        self.proc, self.url = proc, url

    @property
    def pid(self) -> int:
        return self.proc.pid

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the /sim control API; returns the decoded JSON."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return int(self.proc.returncode)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(
    port: int,
    *args: str,
    timeout: float = 30.0,
    log_path: str | None = None,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> SimProcess:
    """Run `python -m qbarr_programs.sim_qbittorrent --port PORT ARGS...` and wait until
    /sim/state answers (or raise RuntimeError with the tail of its output)."""
    cmd = [
        sys.executable,
        "-m",
        "qbarr_programs.sim_qbittorrent",
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log_path, "ab")) if log_path else subprocess.DEVNULL
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    sim = SimProcess(proc, f"http://{host}:{port}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = ""
            if log_path:
                with open(log_path, errors="replace") as log:
                    tail = log.read()[-2000:]
            raise RuntimeError(f"simulator exited with {proc.returncode}: {tail}")
        try:
            sim.control("GET", "/sim/state")
            return sim
        except OSError:
            time.sleep(0.05)
    sim.stop()
    raise RuntimeError(f"simulator did not answer on port {port} within {timeout:.0f} s")
