"""Start an Arr / Overseerr / Ombi simulator as a real subprocess (tests, bench, demo),
or an Arr simulator in a thread of this process (fast unit tests).

    sim = start_sim("radarr", api_key="k", qbt_url=url, qbt_username="u", qbt_password="p")
    try:
        ... sim.url ... sim.control("GET", "/sim/state") ...
    finally:
        sim.stop()

    arr = serve_in_thread(SimOptions("radarr", "radarr", qbt_url=url), api_key="k")
    try:
        ... arr.url ... arr.sim (the SimArr) ... arr.faults.update({"outage": 5}) ...
    finally:
        arr.stop()

The API key and the qBittorrent password go through the environment of the
child ($QBARR_SIM_API_KEY, $QBARR_SIM_QBT_PASSWORD), not its command line.
A port that was taken between choosing and binding is retried.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from qbarr.sim.arr.engine import SimArr, SimOptions
from qbarr.sim.arr.faults import Faults
from qbarr.sim.arr.server import InThread


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SimProcess:
    """A running simulator: where it listens and how to stop it."""

    kind: str
    url: str  # base URL including any --url-base
    root: str  # http://127.0.0.1:PORT (where /sim/ lives)
    api_key: str
    port: int
    proc: subprocess.Popen
    log_path: Path | None

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the unauthenticated /sim/ control API; returns the decoded JSON."""
        response = httpx.request(method, self.root + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not exit. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log(self) -> str:
        return (
            self.log_path.read_text(errors="replace")
            if self.log_path and self.log_path.exists()
            else ""
        )


def start_sim(
    kind: str,
    *,
    api_key: str,
    qbt_url: str = "",
    qbt_username: str = "admin",
    qbt_password: str = "",
    category: str | None = None,
    library: int = 200,
    missing_fraction: float = 0.1,
    cutoff_fraction: float = 0.05,
    seed: int = 1,
    search_duration: float = 0.5,
    command_duration: float = 0.1,
    grab_probability: float = 1.0,
    poll_interval: float = 0.25,
    url_base: str = "",
    extra: list[str] | tuple[str, ...] = (),
    log_dir: Path | None = None,
    ready_timeout: float = 45.0,
    attempts: int = 3,
    host: str = "127.0.0.1",
) -> SimProcess:
    """Start `python -m qbarr_programs.sim_arr` on a free port and wait until it answers."""
    last_error = ""
    for _ in range(attempts):
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "qbarr_programs.sim_arr",
            "--kind",
            kind,
            "--host",
            host,
            "--port",
            str(port),
            "--library",
            str(library),
            "--missing-fraction",
            str(missing_fraction),
            "--cutoff-fraction",
            str(cutoff_fraction),
            "--seed",
            str(seed),
        ]
        if kind in ("radarr", "sonarr", "lidarr"):
            args += [
                "--category",
                category or kind,
                "--search-duration",
                str(search_duration),
                "--command-duration",
                str(command_duration),
                "--grab-probability",
                str(grab_probability),
                "--poll-interval",
                str(poll_interval),
            ]
            if qbt_url:
                args += ["--qbt-url", qbt_url, "--qbt-username", qbt_username]
            if url_base:
                args += ["--url-base", url_base]
        args += list(extra)
        env = {
            **os.environ,
            "QBARR_SIM_API_KEY": api_key,
            "QBARR_SIM_QBT_PASSWORD": qbt_password,
            "PYTHONUNBUFFERED": "1",
        }
        log_path = None
        with contextlib.ExitStack() as stack:
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                log_path = log_dir / f"sim-{kind}-{port}.log"
                out: Any = stack.enter_context(open(log_path, "wb"))
            else:
                out = subprocess.DEVNULL
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        root = f"http://{host}:{port}"
        sim = SimProcess(
            kind,
            root + ("/" + url_base.strip("/") if url_base.strip("/") else ""),
            root,
            api_key,
            port,
            proc,
            log_path,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(root + "/sim/state", timeout=2).status_code == 200:
                    return sim
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        last_error = sim.log()[-2000:]
        sim.stop()
        if "Address already in use" not in last_error:
            break
    raise RuntimeError(f"{kind} simulator did not start:\n{last_error}")


def assemble(
    options: SimOptions,
    library_size: int,
    api_key: str,
    *,
    missing_fraction: float = 0.1,
    cutoff_fraction: float = 0.05,
    url_base: str = "",
    qbt: Any = None,
) -> tuple[Callable[..., Any], SimArr, Faults]:
    """A generated library and the WSGI callable of one Arr simulator (server.wsgi_app)."""
    from qbarr.sim.arr.library import generate
    from qbarr.sim.arr.server import wsgi_app

    lib = generate(options.kind, library_size, missing_fraction, cutoff_fraction, options.seed)
    sim = SimArr(lib, options, qbt)
    faults = Faults(seed=options.seed)
    return wsgi_app(sim, api_key, faults, url_base), sim, faults


def serve_in_thread(
    options: SimOptions, api_key: str, library_size: int = 200, qbt_password: str = ""
) -> InThread:
    """A generated Arr simulator, started, on a free port of 127.0.0.1 in a daemon thread."""
    from qbarr.sim.arr.library import generate
    from qbarr.sim.arr.server import serve_in_thread as serve

    qbt = None
    if options.qbt_url:
        from qbarr.qbittorrent import QbtClient

        qbt = QbtClient(options.qbt_url, options.qbt_username, qbt_password, timeout=10.0)
    lib = generate(options.kind, library_size, 0.1, 0.05, options.seed)
    served = serve(SimArr(lib, options, qbt), api_key, Faults(seed=options.seed))
    served.sim.start()
    return served
