"""The qBittorrent client's exception hierarchy.

Every failure of a call surfaces as a `QbtError` subclass so a manager can report
it and back off instead of crashing. Messages name the method, the API path and
the HTTP status; they never contain credentials, cookies or API keys.
``maybe_applied`` is True when qBittorrent may have carried the call out although it
failed for us (a timeout or a connection lost after sending, a 5xx), False when it surely
did not.
"""

from __future__ import annotations


class QbtError(Exception):
    """Any failure talking to qBittorrent. `.status` is the HTTP status if there was one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str = "",
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.maybe_applied = maybe_applied


class QbtAuthError(QbtError):
    """Wrong credentials, a banned IP, a rejected API key, or 401/403 even after re-login."""


class QbtUnavailable(QbtError):
    """qBittorrent cannot be reached or answers 5xx: connection refused, timeout, 502/503/504."""


class QbtProtocolError(QbtError):
    """The answer is not what the API promises (malformed JSON, wrong shape, bad version text)."""


class QbtNotFound(QbtError):
    """404: unknown torrent hash or unknown endpoint (e.g. pause on 5.x)."""


class QbtConflict(QbtError):
    """409 (unknown category, no metadata yet, ...) or an add that accepted no torrent."""
