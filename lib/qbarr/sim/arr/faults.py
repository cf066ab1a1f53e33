"""Fault injection for the simulators (WSGI middleware, driven from /sim/faults).

Settings (POST /sim/faults, JSON; every key optional; DELETE clears):

    latency       seconds added before the call is carried out (0)
    latency_after seconds added after the call was carried out, before answering (0):
                  a slow Arr whose answer comes after the client gave up, effect applied
    error_rate    share of API calls answered with error_status, without effect (0..1)
    apply_then_fail  share of API calls carried out, then answered with error_status
                  anyway (0..1): the Arr queued the command but the answer says 5xx
    error_status  the HTTP status of those errors (503)
    unauthorized  answer every API call 401 (as with a wrong key)
    html          answer 200 text/html: a reverse proxy's login page
    malformed     answer 200 application/json with broken JSON
    redirect      answer 302 to a login page (as a reverse proxy's SSO would)
    path          only calls whose path contains this text (all API calls)
    method        only calls with this HTTP method, e.g. POST (all methods)
    count         apply to this many calls, then clear everything (unlimited)
    outage        the Arr is down for this many seconds from now: every API call is
                  answered error_status without effect, whatever path/method say;
                  then it answers again by itself (GET shows the seconds left)

Only API paths are affected (`/api/`), never `/sim/`, so a test can always
turn the faults off again.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    b"<form method='post' action='/login'><input name='username'>"
    b"<input name='password' type='password'><button>Sign in</button></form>"
    b"</body></html>"
)
BROKEN_JSON = b'{"page": 1, "records": [{"id": 1, "title": "trunc'

DEFAULTS: dict[str, Any] = {
    "latency": 0.0,
    "latency_after": 0.0,
    "error_rate": 0.0,
    "apply_then_fail": 0.0,
    "error_status": 503,
    "unauthorized": False,
    "html": False,
    "malformed": False,
    "redirect": False,
    "path": "",
    "method": "",
    "count": None,
    "outage": 0.0,
}
RATES = ("error_rate", "apply_then_fail")
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


class Pick(NamedTuple):
    """What to do with one call: wait ``latency``, answer ``action`` instead of carrying it
    out (None: carry it out), then wait ``after`` and, with ``then_fail``, answer ``status``
    although the call took effect."""

    latency: float = 0.0
    action: str | None = None
    status: int = 0
    after: float = 0.0
    then_fail: bool = False


class Faults:
    """The current fault settings, shared by all request threads."""

    def __init__(self, seed: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.settings = dict(DEFAULTS)
        self.rng = random.Random(seed)
        self.clock = clock
        self.injected = 0
        self.down_until = 0.0

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        clean = dict(changes)
        for key in ("latency", "latency_after", "outage", *RATES):
            if key in clean:
                clean[key] = float(clean[key])
                if clean[key] < 0 or (key in RATES and clean[key] > 1):
                    raise ValueError(f"{key} out of range: {clean[key]}")
        if "error_status" in clean:
            clean["error_status"] = int(clean["error_status"])
        if clean.get("count") is not None:
            clean["count"] = int(clean["count"])
        if "method" in clean:
            clean["method"] = str(clean["method"]).upper()
        with self.lock:
            self.settings.update(clean)
            if "outage" in clean:
                self.down_until = self.clock() + clean["outage"]
            return self._view()

    def clear(self) -> dict[str, Any]:
        with self.lock:
            self.settings = dict(DEFAULTS)
            self.down_until = 0.0
            return self._view()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {**self._view(), "injected": self.injected}

    def _view(self) -> dict[str, Any]:
        return {**self.settings, "outage": round(max(0.0, self.down_until - self.clock()), 3)}

    def pick(self, path: str, method: str = "GET") -> Pick:
        """What to do with one call; counts down `count`."""
        with self.lock:
            s = self.settings
            if self.clock() < self.down_until:
                self.injected += 1
                return Pick(action="error", status=s["error_status"])
            if (s["path"] and s["path"] not in path) or (
                s["method"] and s["method"] != method.upper()
            ):
                return Pick()
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
            then_fail = (
                action is None
                and bool(s["apply_then_fail"])
                and self.rng.random() < s["apply_then_fail"]
            )
            after = 0.0 if action else s["latency_after"]
            pick = Pick(s["latency"], action, s["error_status"], after, then_fail)
            if (action or then_fail or pick.latency or pick.after) and s["count"] is not None:
                s["count"] -= 1
                if s["count"] <= 0:
                    self.settings = dict(DEFAULTS)
            if action or then_fail:
                self.injected += 1
            return pick


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
        pick = self.faults.pick(path, environ.get("REQUEST_METHOD", "GET"))
        if pick.latency:
            time.sleep(pick.latency)
        action, status = pick.action, pick.status
        if action is None and (pick.after or pick.then_fail):
            return self._late(environ, start_response, pick)
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
        return _error(start_response, status)

    def _late(self, environ: dict[str, Any], start_response: Callable, pick: Pick) -> list[bytes]:
        """Carry the call out, then answer late, or with an error although it took effect."""
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return lambda data: None

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if pick.after:
            time.sleep(pick.after)
        if pick.then_fail or not captured:
            return _error(start_response, pick.status or 503)
        start_response(*captured)
        return [body]


def _error(start_response: Callable, status: int) -> list[bytes]:
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
