"""Clients for Radarr v3, Sonarr v3 and Lidarr v1 (httpx), one shared base.

from qbarr.arr import make_client
with make_client("radarr", "http://127.0.0.1:7878", key) as arr:
    for item in arr.queue(): ...

The client (and with it httpx, ~8 MB per process) is imported when first asked for: the
watchdog and the web UI read ``qbarr.arr.kinds`` through the policy and never call an Arr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbarr import lazy
from qbarr.arr.errors import (
    ArrAuthError,
    ArrBadRequest,
    ArrError,
    ArrNotFound,
    ArrProtocolError,
    ArrUnavailable,
)
from qbarr.arr.kinds import KINDS, ArrKind, kind_of
from qbarr.arr.models import QueueItem, flatten_messages, parse_queue_record

if TYPE_CHECKING:
    from qbarr.arr.client import ArrClient, make_client, public_url

__getattr__ = lazy.exports(
    __name__, {"ArrClient": "client", "make_client": "client", "public_url": "client"}
)


__all__ = [
    "ArrAuthError",
    "ArrBadRequest",
    "ArrClient",
    "ArrError",
    "ArrKind",
    "ArrNotFound",
    "ArrProtocolError",
    "ArrUnavailable",
    "KINDS",
    "QueueItem",
    "flatten_messages",
    "kind_of",
    "make_client",
    "parse_queue_record",
    "public_url",
]
