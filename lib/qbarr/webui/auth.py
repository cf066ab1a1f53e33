"""Authentication for the web UI: bearer token, login sessions, CSRF tokens.

- The API takes ``Authorization: Bearer <[WebUI] Token>``, compared in constant time.
- The browser logs in with ``[WebUI] Password`` (or the token when no password is set) and
  gets a session cookie ``qbarr_session`` = ``sid.issued.mac``: HttpOnly, SameSite=Strict,
  signed with HMAC-SHA256 under a key kept in the database's ``kv`` table. The MAC also
  covers a fingerprint of the current credentials: changing the password or token logs
  every session out. A session also lives on the server: a row in ``webui_sessions`` (the
  sid's SHA-256, not the sid), deleted by logout and expired after ``[WebUI]
  SessionLifetime``, so a copied cookie dies with its session.
- Failed logins are throttled per client address and for the account as a whole
  (:class:`LoginThrottle`). The client address is the TCP peer; ``X-Forwarded-For`` counts
  only when the peer is one of ``[WebUI] TrustedProxies`` (:func:`client_address`).
- Requests must name this web UI in their Host header (:func:`host_allowed`): an IP
  address, ``localhost``, the configured Host or one of ``[WebUI] AllowedHosts``. A page
  on another site that rebinds its DNS name to 127.0.0.1 is refused (DNS rebinding).
- Every POST needs the bearer token or the session's CSRF token (``X-CSRF-Token`` header or
  a ``csrf`` form field). The CSRF token is an HMAC of the session id, so nothing is stored.
- Auth can only be turned off with ``AuthDisabled = true``, and only on a loopback bind
  unless ``AllowInsecureExposure = true`` as well (:func:`qbarr.config.suite_problems`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qbarr import db as qdb
from qbarr.db import Database

SESSION_COOKIE = "qbarr_session"
PRELOGIN_COOKIE = "qbarr_login"
KV_SESSION_KEY = "webui.session_key"
MAX_SESSIONS = 1000  # the oldest sessions beyond this are dropped (anonymous ones pile up)


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
    """Signs and checks session cookies, keeps live sessions in the database, derives CSRF
    tokens. ``db`` gives this thread's connection; ``lifetime`` the current SessionLifetime."""

    def __init__(
        self,
        key: bytes,
        db: Callable[[], Database],
        lifetime: Callable[[], float],
    ) -> None:
        self._key = key
        self._db = db
        self._lifetime = lifetime

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _row_id(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    @property
    def lifetime(self) -> float:
        return float(self._lifetime())

    def issue(self, fingerprint: str, now: float | None = None) -> str:
        """A new session: its row, and the cookie value for it."""
        now = now if now is not None else time.time()
        sid = secrets.token_hex(16)
        issued = str(int(now))
        db = self._db()
        with qdb.write_txn(db):
            db.execute("DELETE FROM webui_sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "DELETE FROM webui_sessions WHERE id NOT IN (SELECT id FROM webui_sessions "
                "ORDER BY created_at DESC LIMIT ?)",
                (MAX_SESSIONS - 1,),
            )
            db.execute(
                "INSERT INTO webui_sessions (id, created_at, expires_at) VALUES (?, ?, ?)",
                (self._row_id(sid), now, now + self.lifetime),
            )
        return f"{sid}.{issued}.{self._mac('session', sid, issued, fingerprint)}"

    def verify(self, cookie: str | None, fingerprint: str, now: float | None = None) -> str | None:
        """The session id of a valid, live cookie, else None."""
        if not cookie or cookie.count(".") != 2:
            return None
        sid, issued, mac = cookie.split(".")
        if not hmac.compare_digest(
            mac.encode(), self._mac("session", sid, issued, fingerprint).encode()
        ):
            return None
        now = now if now is not None else time.time()
        try:
            age = now - int(issued)
        except ValueError:
            return None
        if not 0 <= age <= self.lifetime:
            return None
        live = qdb.rows(
            self._db(),
            "SELECT 1 FROM webui_sessions WHERE id = ? AND expires_at > ?",
            (self._row_id(sid), now),
        )
        return sid if live else None

    def revoke(self, sid: str | None) -> None:
        """End a session on the server (logout): its cookie is worthless from now on."""
        if not sid:
            return
        db = self._db()
        with qdb.write_txn(db):
            db.execute("DELETE FROM webui_sessions WHERE id = ?", (self._row_id(sid),))

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)[:32]

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        if not sid or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf(sid).encode())


class LoginThrottle:
    """Failed logins: at most PER_ADDRESS per client address and PER_ACCOUNT in all (there is
    one account) within ``window`` seconds. The account limit bounds guessing from many
    addresses; the address limit keeps one noisy client from locking out everyone early."""

    PER_ADDRESS = 10
    PER_ACCOUNT = 50
    ACCOUNT = "\0account"

    def __init__(self, window: float = 300.0) -> None:
        self.window = window
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> int:
        recent = [t for t in self._failures.get(key, []) if now - t < self.window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return len(recent)

    def blocked(self, client: str, now: float | None = None) -> bool:
        now = now if now is not None else time.time()
        return (
            self._recent(client, now) >= self.PER_ADDRESS
            or self._recent(self.ACCOUNT, now) >= self.PER_ACCOUNT
        )

    def failed(self, client: str, now: float | None = None) -> None:
        now = now if now is not None else time.time()
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            for key in list(self._failures):
                if key != self.ACCOUNT:
                    self._recent(key, now)
        for key in (client, self.ACCOUNT):
            self._failures.setdefault(key, []).append(now)


Networks = list[ipaddress.IPv4Network | ipaddress.IPv6Network]


def parse_networks(values: Iterable[str]) -> Networks:
    """``[WebUI] TrustedProxies`` entries (addresses or CIDR blocks) as networks."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _in(address: str, networks: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(environ: Mapping[str, Any], trusted: Networks) -> str:
    """Who is asking: the TCP peer, or - only when the peer is a trusted proxy - the last
    ``X-Forwarded-For`` entry that is not a trusted proxy itself."""
    peer = str(environ.get("REMOTE_ADDR") or "?")
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for h in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in(hop, trusted):
            return hop
    return peer


def forwarded_https(environ: Mapping[str, Any], trusted: Networks) -> bool:
    """The browser talks https to us: our own scheme, or X-Forwarded-Proto of a trusted proxy."""
    if environ.get("wsgi.url_scheme") == "https":
        return True
    peer = str(environ.get("REMOTE_ADDR") or "")
    proto = str(environ.get("HTTP_X_FORWARDED_PROTO", "")).split(",")[0].strip().lower()
    return proto == "https" and _in(peer, trusted)


def host_allowed(host_header: str | None, names: Iterable[str]) -> bool:
    """True when the Host header names this web UI: an IP address (DNS rebinding needs a
    name), ``localhost``, or one of ``names`` (the configured Host and AllowedHosts).
    A missing header (HTTP/1.0) is allowed: browsers always send one."""
    if not host_header:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return host == "localhost" or host in {n.strip().lower().rstrip(".") for n in names}
