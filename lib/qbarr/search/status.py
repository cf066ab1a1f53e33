"""Search state for people: the heartbeat row, ``qbarr status`` and ``qbarr why``.

The search program of instance ``Radarr-Main`` keeps the row ``Radarr-Main:search``
(kind ``search``, program ``search-<slug>``) of the ``instances`` table fresh through
:class:`qbarr.heartbeat.Heartbeat`; the CLI and the web UI read it with
:func:`search_status`, and :func:`search_history` lists the searches of one item key
(``movie:123``) or of one torrent hash (re-searches after its failure).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from qbarr.db import Database, rows

DAY = 86400.0
HOUR = 3600.0


def row_name(instance: str) -> str:
    """The ``instances`` row of an instance's search program."""
    return f"{instance}:search"


def search_status(
    db: Database, instance: str, now: float | None = None, recent: int = 10
) -> dict[str, Any]:
    """Everything ``qbarr status`` and the web UI show about one instance's searches.

    Keys: ``instance``, ``program`` (the heartbeat row as a dict with ``counts`` and
    ``stats`` decoded, or None when the program never ran), ``searches_24h``,
    ``searches_1h``, ``by_status_24h`` ({status: n}), ``by_reason_24h``,
    ``cooling_down`` (items searched in the last 24 h), ``last`` (the newest searches,
    newest first).
    """
    import time

    now = time.time() if now is None else now
    beat = rows(db, "SELECT * FROM instances WHERE name = ?", (row_name(instance),))
    program = _decode(beat[0]) if beat else None
    day = rows(
        db,
        "SELECT status, reason, COUNT(*) AS n FROM searches "
        "WHERE instance = ? AND at > ? GROUP BY status, reason",
        (instance, now - DAY),
    )
    by_status: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for r in day:
        by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
        if r["status"] not in ("error", "dry-run"):
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + r["n"]
    hour = rows(
        db,
        "SELECT COUNT(*) AS n FROM searches "
        "WHERE instance = ? AND at > ? AND status NOT IN ('error', 'dry-run')",
        (instance, now - HOUR),
    )[0]["n"]
    cooling = rows(
        db,
        "SELECT COUNT(*) AS n FROM search_cooldowns WHERE instance = ? AND last_at > ?",
        (instance, now - DAY),
    )[0]["n"]
    last = rows(
        db,
        "SELECT * FROM searches WHERE instance = ? ORDER BY at DESC, id DESC LIMIT ?",
        (instance, recent),
    )
    return {
        "instance": instance,
        "program": program,
        "searches_24h": sum(by_reason.values()),
        "searches_1h": int(hour),
        "by_status_24h": by_status,
        "by_reason_24h": by_reason,
        "cooling_down": int(cooling),
        "last": [_search_row(r) for r in last],
    }


def search_history(
    db: Database, item_or_hash: str, instance: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Searches of one item key (also as part of a series search) or of one torrent hash,
    newest first."""
    needle = item_or_hash.strip()
    clause = "(item = ? OR hash = ? OR result LIKE ?)"
    params: list[Any] = [needle, needle.lower(), f'%"{needle}"%']
    if instance:
        clause += " AND instance = ?"
        params.append(instance)
    found = rows(
        db,
        f"SELECT * FROM searches WHERE {clause} ORDER BY at DESC, id DESC LIMIT ?",
        (*params, limit),
    )
    return [_search_row(r) for r in found]


def format_history(entries: list[dict[str, Any]]) -> list[str]:
    """One line per search for the CLI: when, instance, what, why, command, outcome."""
    import datetime as dt

    lines = []
    for e in entries:
        when = dt.datetime.fromtimestamp(e["at"]).strftime("%Y-%m-%d %H:%M:%S")
        what = e["item"] + (f" (+{len(e['covers'])} episodes)" if e.get("covers") else "")
        title = f" {e['title']!r}" if e.get("title") else ""
        cmd = (
            f"{e['command']}#{e['command_id']}" if e.get("command_id") is not None else e["command"]
        )
        extra = (
            f": {e['message']}"
            if e.get("message")
            else (f": {e['error']}" if e.get("error") else "")
        )
        lines.append(
            f"{when} [{e['instance']}] {what}{title} searched ({e['reason']}) "
            f"with {cmd} -> {e['status']}{extra}"
        )
    return lines


def _search_row(r: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(r)
    result = json.loads(r["result"]) if r.get("result") else {}
    out["covers"] = result.get("covers", [])
    out["message"] = result.get("message")
    out["error"] = result.get("error")
    out["detail"] = result.get("detail")
    return out


def _decode(r: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(r)
    for key in ("counts", "stats"):
        try:
            out[key] = json.loads(r.get(key) or "{}")
        except ValueError:
            out[key] = {}
    return out
