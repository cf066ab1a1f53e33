"""qBittorrent version probe result and the feature switches derived from it.

Branch on the WebAPI version, never on the application version (the reference's
table: 4.5.2 = 2.8.19, 4.6 = 2.9.x, 5.0 = 2.11.2, 5.1 = 2.11.4, 5.2 = 2.15.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import QbtProtocolError


def parse_webapi(text: str) -> tuple[int, ...]:
    """'2.8.19' -> (2, 8, 19); anything else is a protocol error."""
    try:
        parts = tuple(int(p) for p in text.strip().split("."))
    except ValueError:
        parts = ()
    if len(parts) < 2:
        raise QbtProtocolError(
            f"app/webapiVersion returned {text.strip()[:40]!r}, not a version",
            path="app/webapiVersion",
        )
    return parts


@dataclass(frozen=True)
class QbtVersion:
    """What `app/version` and `app/webapiVersion` said, plus derived switches."""

    app: str
    webapi: tuple[int, ...]

    @property
    def v5(self) -> bool:
        """WebAPI >= 2.11.0: stop/start endpoints, `stopped` add parameter, stopped* states."""
        return self.webapi >= (2, 11, 0)

    @property
    def needs_inactive_seeding_limit(self) -> bool:
        """setShareLimits requires inactiveSeedingTimeLimit from 4.6 (WebAPI 2.9.2)."""
        return self.webapi >= (2, 9, 2)

    @property
    def needs_share_limit_action(self) -> bool:
        """setShareLimits requires shareLimitAction from WebAPI 2.12.0 (5.2)."""
        return self.webapi >= (2, 12, 0)

    @property
    def json_add_result(self) -> bool:
        """torrents/add answers JSON (and 409 when all failed) from WebAPI 2.14.0."""
        return self.webapi >= (2, 14, 0)

    def __str__(self) -> str:
        return f"{self.app} (WebAPI {'.'.join(map(str, self.webapi))})"
