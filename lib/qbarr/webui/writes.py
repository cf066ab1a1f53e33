"""The only database writes the web UI makes, each in one short ``BEGIN IMMEDIATE``.

The web UI never talks to a manager: it releases a brake by clearing the flag the manager
reads, and asks for (un)protecting a torrent with a row in ``requests`` that the manager
applies (adds / removes the ProtectedTag in qBittorrent, then sets ``done_at``/``result``).
"""

from __future__ import annotations

import time
from typing import Any

from qbarr.db import Database, rows, write_txn

REQUEST_KINDS = ("protect", "unprotect")


def release_brake(db: Database, instance: str, now: float | None = None) -> dict[str, Any]:
    """Clear the brake of ``instance``; returns whether it was engaged."""
    now = now if now is not None else time.time()
    with write_txn(db):
        found = rows(db, "SELECT brake_engaged FROM instances WHERE name = ?", (instance,))
        was = bool(found and found[0]["brake_engaged"])
        db.execute(
            "UPDATE instances SET brake_engaged = 0, brake_released_at = ? WHERE name = ?",
            (now, instance),
        )
    return {"instance": instance, "was_engaged": was, "released_at": now}


def request_protection(
    db: Database, instance: str, torrent_hash: str, kind: str, now: float | None = None
) -> dict[str, Any]:
    """Queue a protect/unprotect request for the manager; an identical pending one is reused."""
    if kind not in REQUEST_KINDS:
        raise ValueError(f"kind must be one of {REQUEST_KINDS}")
    now = now if now is not None else time.time()
    h = torrent_hash.lower()
    with write_txn(db):
        pending = rows(
            db,
            "SELECT id, kind FROM requests WHERE instance = ? AND hash = ? AND done_at IS NULL "
            "ORDER BY id DESC LIMIT 1",
            (instance, h),
        )
        if pending and pending[0]["kind"] == kind:
            request_id = pending[0]["id"]
        else:
            cursor = db.execute(
                "INSERT INTO requests (instance, hash, kind, created_at) VALUES (?, ?, ?, ?)",
                (instance, h, kind, now),
            )
            request_id = cursor.lastrowid
    return {"id": request_id, "instance": instance, "hash": h, "kind": kind, "created_at": now}
