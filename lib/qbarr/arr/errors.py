"""Typed errors of the Arr clients.

Callers (the managers, the search program) branch on the type, never on the
text: an unreachable Arr is retried later, a wrong key is reported once and
clearly, a protocol error usually means a reverse proxy or a wrong URL.
Messages name the instance URL (without query or credentials) and never the
API key.
"""

from __future__ import annotations


class ArrError(Exception):
    """Anything that went wrong talking to an Arr."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class ArrAuthError(ArrError):
    """401/403: the API key is wrong (or a proxy refuses us)."""


class ArrUnavailable(ArrError):
    """Connection refused, timeout, 5xx, 429: try again later."""


class ArrNotFound(ArrError):
    """404: the queue item, command or media does not exist (any more)."""


class ArrBadRequest(ArrError):
    """4xx other than 401/403/404: the Arr refused what we sent."""


class ArrProtocolError(ArrError):
    """The answer is not the Arr's JSON: an HTML page, a redirect, broken JSON."""
