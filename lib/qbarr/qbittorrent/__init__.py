"""qBittorrent WebUI API v2 client for 4.5 and 5.x (see client.py for the design)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbarr import lazy

from . import states
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

if TYPE_CHECKING:
    from .client import QbtClient

# The client (httpx) on first use: the web UI reads snapshots and states, never qBittorrent.
__getattr__ = lazy.exports(__name__, {"QbtClient": "client"})

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
