"""Search state for people: the search program's heartbeat row and ``qbarr why``.

The search program of instance ``Radarr-Main`` keeps the row ``Radarr-Main:search``
(kind ``search``, program ``search-<slug>``, see :func:`row_name`) of the ``instances`` table
fresh through :class:`qbarr.heartbeat.Heartbeat`, where ``qbarr status`` and the web UI read
every program's row; :func:`search_history` lists the searches of one item key
(``movie:123``) or of one torrent hash (re-searches after its failure).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from qbarr.db import Database, rows

DAY = 86400.0
HOUR = 3600.0
SEARCH_KIND = "search"
"""The ``kind`` of a search program's ``instances`` row (an Arr instance's is radarr...)."""


def row_name(instance: str) -> str:
    """The ``instances`` row of an instance's search program."""
    return f"{instance}:search"


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
