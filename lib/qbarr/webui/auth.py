"""Authentication for the web UI: bearer token, login sessions, CSRF tokens.

- The API takes ``Authorization: Bearer <[WebUI] Token>``, compared in constant time.
- The browser logs in with ``[WebUI] Password`` (or the token when no password is set) and
  gets a session cookie ``qbarr_session`` = ``sid.issued.mac``: HttpOnly, SameSite=Strict,
  signed with HMAC-SHA256 under a key kept in the database's ``kv`` table, so sessions
  survive a restart. The MAC also covers a fingerprint of the current credentials: changing
  the password or token logs every session out.
- Every POST needs the bearer token or the session's CSRF token (``X-CSRF-Token`` header or
  a ``csrf`` form field). The CSRF token is an HMAC of the session id, so nothing is stored.
- Auth can only be turned off with ``AuthDisabled = true``, and only on a loopback bind
  unless ``AllowInsecureExposure = true`` as well (:func:`check_exposure`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Mapping
from typing import Any

from qbarr import db as qdb
from qbarr.config import ConfigError
from qbarr.db import Database

SESSION_COOKIE = "qbarr_session"
PRELOGIN_COOKIE = "qbarr_login"
SESSION_MAX_AGE = 30 * 24 * 3600
KV_SESSION_KEY = "webui.session_key"


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(webui: Mapping[str, Any], path: str = "config.ini") -> None:
    """Refuse settings that would expose the web UI without protection.

    Raises:
        ConfigError: auth off on a non-loopback bind without AllowInsecureExposure, or auth
            on without any credential to log in with.
    """
    host = str(webui["Host"])
    if webui["AuthDisabled"]:
        if not is_loopback(host) and not webui["AllowInsecureExposure"]:
            raise ConfigError(
                [
                    f"{path}: [WebUI] AuthDisabled = true is refused with Host = {host!r} "
                    "(not a loopback address): anyone who reaches the port could restart programs "
                    "and edit the config. Bind 127.0.0.1, turn auth back on, or set "
                    "AllowInsecureExposure = true to accept the risk."
                ]
            )
        return
    if not webui["Token"] and not webui["Password"]:
        raise ConfigError(
            [
                f"{path}: [WebUI] needs a Token (`qbarr init` generates one) or a Password to log "
                "in with, or AuthDisabled = true (loopback only)"
            ]
        )


def credentials_fingerprint(webui: Mapping[str, Any]) -> str:
    """A hash of the current credentials, mixed into session MACs (not the secrets)."""
    material = f"{webui['Token']}\0{webui['Password']}\0{bool(webui['AuthDisabled'])}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def bearer_ok(header: str | None, token: str) -> bool:
    """True when ``header`` is ``Bearer <token>`` (constant-time compare, empty token never
    matches)."""
    if not token or not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def password_ok(given: str, webui: Mapping[str, Any]) -> bool:
    """The login form's check: [WebUI] Password if set, else the token."""
    expected = str(webui["Password"] or webui["Token"])
    if not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def load_session_key(db: Database) -> bytes:
    """The HMAC key for sessions, created once and kept in ``kv`` so it survives restarts."""
    with qdb.write_txn(db):
        db.execute(
            "INSERT OR IGNORE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
            (KV_SESSION_KEY, secrets.token_hex(32), time.time()),
        )
    row = qdb.rows(db, "SELECT value FROM kv WHERE key = ?", (KV_SESSION_KEY,))
    return bytes.fromhex(row[0]["value"])


class Sessions:
    """Signs and checks session cookies and derives CSRF tokens."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()

    def issue(self, fingerprint: str, now: float | None = None) -> str:
        sid = secrets.token_hex(16)
        issued = str(int(now if now is not None else time.time()))
        return f"{sid}.{issued}.{self._mac('session', sid, issued, fingerprint)}"

    def verify(self, cookie: str | None, fingerprint: str, now: float | None = None) -> str | None:
        """The session id of a valid, unexpired cookie, else None."""
        if not cookie or cookie.count(".") != 2:
            return None
        sid, issued, mac = cookie.split(".")
        if not hmac.compare_digest(
            mac.encode(), self._mac("session", sid, issued, fingerprint).encode()
        ):
            return None
        try:
            age = (now if now is not None else time.time()) - int(issued)
        except ValueError:
            return None
        return sid if 0 <= age <= SESSION_MAX_AGE else None

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)[:32]

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        if not sid or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf(sid).encode())


class LoginThrottle:
    """At most ``limit`` failed logins per client address in ``window`` seconds."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[float]] = {}

    def blocked(self, client: str, now: float | None = None) -> bool:
        now = now if now is not None else time.time()
        recent = [t for t in self._failures.get(client, []) if now - t < self.window]
        self._failures[client] = recent
        return len(recent) >= self.limit

    def failed(self, client: str, now: float | None = None) -> None:
        self._failures.setdefault(client, []).append(now if now is not None else time.time())
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.clear()
