"""Search state for people: the heartbeat row, ``qbarr status`` and ``qbarr why``.

The search program of instance ``Radarr-Main`` keeps the row ``Radarr-Main:search``
(kind ``search``) of the ``instances`` table fresh; the CLI and the web UI read it with
:func:`search_status`, and :func:`search_history` lists the searches of one item key
(``movie:123``) or of one torrent hash (re-searches after its failure).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from qbarr.db import rows, write_txn

DAY = 86400.0
HOUR = 3600.0


def row_name(instance: str) -> str:
    """The ``instances`` row of an instance's search program."""
    return f"{instance}:search"


def heartbeat(
    db: sqlite_utils.Database,
    instance: str,
    *,
    program: str,
    pid: int,
    status: str,
    now: float,
    started_at: float,
    cycles: int,
    cycle_s: float | None,
    counts: Mapping[str, Any],
    stats: Mapping[str, Any],
    arr_ok: bool | None,
    last_error: str | None,
) -> None:
    """Upsert the heartbeat row (``last_error_at`` keeps the time the error first appeared)."""
    with write_txn(db):
        db.execute(
            """INSERT INTO instances (name, kind, program, pid, status, started_at, heartbeat_at, cycles, cycle_s,
                                      counts, arr_ok, last_error, last_error_at, stats)
               VALUES (?, 'search', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET
                 kind = 'search', program = excluded.program, pid = excluded.pid, status = excluded.status,
                 started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, cycles = excluded.cycles,
                 cycle_s = excluded.cycle_s, counts = excluded.counts, arr_ok = excluded.arr_ok,
                 last_error_at = CASE WHEN excluded.last_error IS NULL THEN NULL
                                      WHEN instances.last_error IS excluded.last_error THEN instances.last_error_at
                                      ELSE excluded.last_error_at END,
                 last_error = excluded.last_error, stats = excluded.stats""",
            (
                row_name(instance), program, pid, status, started_at, now, cycles, cycle_s,
                json.dumps(dict(counts), sort_keys=True), None if arr_ok is None else int(arr_ok),
                last_error, now if last_error else None, json.dumps(dict(stats), sort_keys=True, default=str),
            ),
        )


def search_status(db: sqlite_utils.Database, instance: str, now: float | None = None, recent: int = 10) -> dict[str, Any]:
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
        "SELECT status, reason, COUNT(*) AS n FROM searches WHERE instance = ? AND at > ? GROUP BY status, reason",
        (instance, now - DAY),
    )
    by_status: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for r in day:
        by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
        if r["status"] != "error":
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + r["n"]
    hour = rows(
        db, "SELECT COUNT(*) AS n FROM searches WHERE instance = ? AND at > ? AND status != 'error'", (instance, now - HOUR)
    )[0]["n"]
    cooling = rows(
        db, "SELECT COUNT(*) AS n FROM search_cooldowns WHERE instance = ? AND last_at > ?", (instance, now - DAY)
    )[0]["n"]
    last = rows(db, "SELECT * FROM searches WHERE instance = ? ORDER BY at DESC, id DESC LIMIT ?", (instance, recent))
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
    db: sqlite_utils.Database, item_or_hash: str, instance: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Searches of one item key (also as part of a series search) or of one torrent hash,
    newest first."""
    needle = item_or_hash.strip()
    clause = "(item = ? OR hash = ? OR result LIKE ?)"
    params: list[Any] = [needle, needle.lower(), f'%"{needle}"%']
    if instance:
        clause += " AND instance = ?"
        params.append(instance)
    found = rows(db, f"SELECT * FROM searches WHERE {clause} ORDER BY at DESC, id DESC LIMIT ?", (*params, limit))
    return [_search_row(r) for r in found]


def format_history(entries: list[dict[str, Any]]) -> list[str]:
    """One line per search for the CLI: when, instance, what, why, command, outcome."""
    import datetime as dt

    lines = []
    for e in entries:
        when = dt.datetime.fromtimestamp(e["at"]).strftime("%Y-%m-%d %H:%M:%S")
        what = e["item"] + (f" (+{len(e['covers'])} episodes)" if e.get("covers") else "")
        title = f" {e['title']!r}" if e.get("title") else ""
        cmd = f"{e['command']}#{e['command_id']}" if e.get("command_id") is not None else e["command"]
        extra = f": {e['message']}" if e.get("message") else (f": {e['error']}" if e.get("error") else "")
        lines.append(f"{when} [{e['instance']}] {what}{title} searched ({e['reason']}) with {cmd} -> {e['status']}{extra}")
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
