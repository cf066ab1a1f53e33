"""Benchmark: can a handful of slow clients starve the web UI?

    python bench/webui_slow_clients.py [--slow 4] [--threads 4] [--kind headers|body|idle]

Starts the real ``qbarr-webui`` (gunicorn, gthread) under supervisord in a temp data dir,
opens ``--slow`` connections that send part of a request and then nothing (``headers``: a
request line and one header; ``body``: complete headers of a POST announcing 1000 bytes and
10 of them; ``idle``: connect and send nothing, as a browser's pre-connect does), then:

- times a fresh ``GET /health`` from another client (how long the web UI is unresponsive),
- waits until the server closes each slow connection and prints when (or that it did not
  within --hold seconds).

Figures only; nothing is asserted. Everything started is stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port  # noqa: E402
from tests.support import webui_seed as seedmod  # noqa: E402
from tests.support import webui_supervisord  # noqa: E402

PARTIAL = {
    "headers": b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    "body": (
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
        b"password=x"
    ),
    "idle": b"",
}


def closed_after(sock: socket.socket, started: float, hold: float) -> float | None:
    """Seconds until the server closed ``sock`` (read returns EOF or reset), or None."""
    sock.settimeout(max(0.1, started + hold - time.monotonic()))
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return round(time.monotonic() - started, 1)
    except TimeoutError:
        return None
    except OSError:
        return round(time.monotonic() - started, 1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=4)
    parser.add_argument(
        "--threads", type=int, default=None, help="[WebUI] Threads (default: the default)"
    )
    parser.add_argument("--kind", choices=sorted(PARTIAL), default="headers")
    parser.add_argument("--hold", type=float, default=45.0, help="seconds to keep the slow clients")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qbs", dir="/tmp"))
    port = free_port()
    extra = f"Threads = {args.threads}\n" if args.threads else ""
    home = seedmod.make_home(root, port=port, instances=("Radarr-Main",), extra_webui=extra)
    suite = webui_supervisord.start(home, managers=(), webui=True)
    results: dict[str, object] = {
        "slow_clients": args.slow,
        "kind": args.kind,
        "threads": args.threads or "default",
    }
    slow: list[socket.socket] = []
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=args.hold)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for _ in range(args.slow):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(PARTIAL[args.kind])
            slow.append(sock)
        started = time.monotonic()
        time.sleep(0.5)  # let the server hand them to its threads
        t0 = time.monotonic()
        try:
            status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=args.hold).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        results["health_status"] = status
        results["health_seconds"] = round(time.monotonic() - t0, 2)
        results["slow_closed_after_s"] = [closed_after(s, started, args.hold) for s in slow]
    finally:
        for sock in slow:
            sock.close()
        suite.stop()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
