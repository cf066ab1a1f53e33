"""qBittorrent WebUI API v2 client for 4.5 and 5.x (see client.py for the design)."""

from __future__ import annotations

from . import states
from .client import QbtClient
from .errors import (
    QbtAuthError,
    QbtConflict,
    QbtError,
    QbtNotFound,
    QbtProtocolError,
    QbtUnavailable,
)
from .snapshot import Snapshot
from .version import QbtVersion

__all__ = [
    "QbtClient",
    "Snapshot",
    "QbtVersion",
    "QbtError",
    "QbtAuthError",
    "QbtUnavailable",
    "QbtProtocolError",
    "QbtNotFound",
    "QbtConflict",
    "states",
]
