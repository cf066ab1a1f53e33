"""Fault injection and gzip, as WSGI middleware around the /api/v2 routes.

Faults are set through the control API (`POST /sim/faults`) and apply only to
/api/v2 paths (optionally only to paths containing `path`): a fixed or jittered
latency, HTTP errors (a rate, or exactly the next N requests), malformed JSON
(same), and a hang longer than any client timeout. Randomness comes from the
simulator's seed, so a run is repeatable.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

FIELDS = {
    "latency": float,
    "jitter": float,
    "error_rate": float,
    "error_status": int,
    "error_next": int,
    "malformed_rate": float,
    "malformed_next": int,
    "hang": float,
    "path": str,
}
MALFORMED = b'{"rid":7,"torrents":{"0000000000000000000000000000000000000000":{"name":"trunc'


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rnd = random.Random(seed)
        self.injected = {"errors": 0, "malformed": 0, "delayed": 0}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.settings: dict[str, Any] = {
                "latency": 0.0,
                "jitter": 0.0,
                "error_rate": 0.0,
                "error_status": 503,
                "error_next": 0,
                "malformed_rate": 0.0,
                "malformed_next": 0,
                "hang": 0.0,
                "path": "",
            }

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        with self._lock:
            for key, value in changes.items():
                self.settings[key] = FIELDS[key](value)
            return dict(self.settings)

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {**self.settings, "injected": dict(self.injected)}

    def decide(self, path: str) -> tuple[float, str]:
        """-> (seconds to wait, 'error' | 'malformed' | '')."""
        with self._lock:
            s = self.settings
            if s["path"] and s["path"] not in path:
                return 0.0, ""
            delay = s["hang"] or max(0.0, s["latency"] + self._rnd.uniform(-1, 1) * s["jitter"])
            kind = ""
            if s["error_next"] > 0:
                s["error_next"] -= 1
                kind = "error"
            elif s["malformed_next"] > 0:
                s["malformed_next"] -= 1
                kind = "malformed"
            elif s["error_rate"] and self._rnd.random() < s["error_rate"]:
                kind = "error"
            elif s["malformed_rate"] and self._rnd.random() < s["malformed_rate"]:
                kind = "malformed"
            if kind == "error":
                self.injected["errors"] += 1
            elif kind == "malformed":
                self.injected["malformed"] += 1
            if delay:
                self.injected["delayed"] += 1
            return delay, kind


def middleware(
    app: Callable[..., Iterable[bytes]], faults: Faults, use_gzip: bool
) -> Callable[..., Iterable[bytes]]:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/api/v2/"):
            return app(environ, start_response)
        delay, kind = faults.decide(path)
        if delay:
            time.sleep(delay)
        if kind == "error":
            status = faults.settings["error_status"]
            body = b"Simulated failure"
            start_response(
                f"{status} Simulated",
                [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if kind == "malformed":
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(MALFORMED)))],
            )
            return [MALFORMED]
        if not use_gzip or "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
            return app(environ, start_response)
        return _gzip(app, environ, start_response)

    return wrapped


def _gzip(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """qBittorrent compresses answers when the client accepts gzip; so do we (>1 KiB)."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, capture)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
    if len(body) > 1024:
        body = gzip.compress(body, compresslevel=1)
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    start_response(captured["status"], headers)
    return [body]
