"""A torrent's history: everything qbarr recorded about one info-hash.

The one reader behind ``qbarr why HASH`` and the web UI's torrent page: the torrent rows
(one per instance, with the manager's memory), the decisions with their actions
(:func:`qbarr.journal.history`), the searches sent for it (:func:`qbarr.search.status.
search_history`) and the protect/unprotect requests made from the web UI. Plain dicts,
fully fetched, oldest first; no formatting (the CLI and the pages do that).
"""

from __future__ import annotations

import json
import re
from typing import Any

from qbarr.db import Database, rows
from qbarr.journal import history as decisions_of
from qbarr.search.status import search_history

MAX_SEARCHES = 200
# A search item (``movie:12``): its history also holds the search program's journal
# (temporary quality profiles), kept under ``<instance>:search``.
ITEM_KEY = re.compile(r"^(movie|series|episode|album|artist):\d+$")


def read(db: Database, torrent_hash: str, instance: str | None = None) -> dict[str, Any]:
    """The history of ``torrent_hash`` (any case), for one instance or all of them.

    Keys: ``hash``, ``instance``, ``torrents``, ``decisions`` (each with ``actions``),
    ``searches``, ``requests``. Every list is empty when nothing was recorded.
    """
    h = torrent_hash.lower()
    where, params = (
        ("hash = ?", (h,))
        if instance is None
        else (
            "hash = ? AND instance = ?",
            (h, instance),
        )
    )
    torrents = rows(db, f"SELECT * FROM torrents WHERE {where} ORDER BY instance", params)
    for t in torrents:
        try:
            t["memory"] = json.loads(t.get("memory") or "{}")
        except ValueError:
            t["memory"] = {}
    requests = rows(db, f"SELECT * FROM requests WHERE {where} ORDER BY created_at, id", params)
    decisions = decisions_of(db, h, instance)
    if instance is not None and ITEM_KEY.match(h):
        decisions += decisions_of(db, h, f"{instance}:search")
        decisions.sort(key=lambda d: (d["at"], d["id"]))
    return {
        "hash": h,
        "instance": instance,
        "torrents": torrents,
        "decisions": decisions,
        "searches": list(reversed(search_history(db, h, instance, limit=MAX_SEARCHES))),
        "requests": requests,
    }


def is_empty(found: dict[str, Any]) -> bool:
    return not any(found[k] for k in ("torrents", "decisions", "searches", "requests"))
