"""Fault injection for the simulators (WSGI middleware, driven from /sim/faults).

Settings (POST /sim/faults, JSON; every key optional; DELETE clears):

    latency       seconds added before answering (0)
    error_rate    share of API calls answered with error_status (0..1)
    error_status  the HTTP status of those errors (503)
    unauthorized  answer every API call 401 (as with a wrong key)
    html          answer 200 text/html: a reverse proxy's login page
    malformed     answer 200 application/json with broken JSON
    redirect      answer 302 to a login page (as a reverse proxy's SSO would)
    path          only calls whose path contains this text (all API calls)
    count         apply to this many calls, then clear everything (unlimited)

Only API paths are affected (`/api/`), never `/sim/`, so a test can always
turn the faults off again.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    b"<form method='post' action='/login'><input name='username'>"
    b"<input name='password' type='password'><button>Sign in</button></form>"
    b"</body></html>"
)
BROKEN_JSON = b'{"page": 1, "records": [{"id": 1, "title": "trunc'

DEFAULTS: dict[str, Any] = {
    "latency": 0.0,
    "error_rate": 0.0,
    "error_status": 503,
    "unauthorized": False,
    "html": False,
    "malformed": False,
    "redirect": False,
    "path": "",
    "count": None,
}
REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    429: "Too Many Requests",
    401: "Unauthorized",
    404: "Not Found",
    400: "Bad Request",
    403: "Forbidden",
}


class Faults:
    """The current fault settings, shared by all request threads."""

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.Lock()
        self.settings = dict(DEFAULTS)
        self.rng = random.Random(seed)
        self.injected = 0

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        clean = dict(changes)
        for key in ("latency", "error_rate"):
            if key in clean:
                clean[key] = float(clean[key])
                if clean[key] < 0 or (key == "error_rate" and clean[key] > 1):
                    raise ValueError(f"{key} out of range: {clean[key]}")
        if "error_status" in clean:
            clean["error_status"] = int(clean["error_status"])
        if clean.get("count") is not None:
            clean["count"] = int(clean["count"])
        with self.lock:
            self.settings.update(clean)
            return dict(self.settings)

    def clear(self) -> dict[str, Any]:
        with self.lock:
            self.settings = dict(DEFAULTS)
            return dict(self.settings)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {**self.settings, "injected": self.injected}

    def pick(self, path: str) -> tuple[float, str | None, int]:
        """(latency, action or None, status) for one call; counts down `count`."""
        with self.lock:
            s = self.settings
            if s["path"] and s["path"] not in path:
                return 0.0, None, 0
            action = None
            if s["unauthorized"]:
                action = "unauthorized"
            elif s["html"]:
                action = "html"
            elif s["malformed"]:
                action = "malformed"
            elif s["redirect"]:
                action = "redirect"
            elif s["error_rate"] and self.rng.random() < s["error_rate"]:
                action = "error"
            latency = s["latency"]
            if (action or latency) and s["count"] is not None:
                s["count"] -= 1
                if s["count"] <= 0:
                    self.settings = dict(DEFAULTS)
            if action:
                self.injected += 1
            return latency, action, s["error_status"]


class FaultMiddleware:
    """Wraps a WSGI app; API calls may be delayed or answered with a fault."""

    def __init__(self, app: Callable, faults: Faults, api_marker: str = "/api/") -> None:
        self.app = app
        self.faults = faults
        self.api_marker = api_marker

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.api_marker not in path or path.startswith("/sim/"):
            return self.app(environ, start_response)
        latency, action, status = self.faults.pick(path)
        if latency:
            time.sleep(latency)
        if action is None:
            return self.app(environ, start_response)
        if action == "unauthorized":
            return _answer(start_response, 401, "text/plain", b"")
        if action == "html":
            return _answer(start_response, 200, "text/html; charset=utf-8", LOGIN_PAGE)
        if action == "malformed":
            return _answer(start_response, 200, "application/json; charset=utf-8", BROKEN_JSON)
        if action == "redirect":
            start_response(
                "302 Found",
                [("Location", "/login?returnUrl=%2F&token=sso-abc123"), ("Content-Length", "0")],
            )
            return [b""]
        body = b"<html><body><h1>%d %s</h1></body></html>" % (
            status,
            REASONS.get(status, "Error").encode(),
        )
        return _answer(start_response, status, "text/html", body)


def _answer(start_response: Callable, status: int, ctype: str, body: bytes) -> list[bytes]:
    start_response(
        f"{status} {REASONS.get(status, 'OK' if status == 200 else 'Error')}",
        [("Content-Type", ctype), ("Content-Length", str(len(body)))],
    )
    return [body]
