"""Typed errors of the Arr clients.

Callers (the managers, the search program) branch on the type, never on the
text: an unreachable Arr is retried later, a wrong key is reported once and
clearly, a protocol error usually means a reverse proxy or a wrong URL.
Messages name the instance URL (without query or credentials) and never the
API key.

``maybe_applied`` tells a caller that must not send a command twice whether the Arr may
have carried the call out although it failed for us: True after a timeout, a connection
lost after sending, a 5xx or a broken 2xx answer (the outcome is unknown: look it up before
sending again); False when it surely did not (refused connection, 4xx, 429, a redirect).
"""

from __future__ import annotations


class ArrError(Exception):
    """Anything that went wrong talking to an Arr."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.maybe_applied = maybe_applied

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
