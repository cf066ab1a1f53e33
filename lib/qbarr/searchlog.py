"""The search journal and cooldowns in the shared database, for every search path.

Both the search program and the Arr managers (re-search after a failed download) go
through here, so an item searched by one is cooled down for the other and both count
against the same daily budget. Rows of ``searches``:

- ``status``: ``sending`` (journaled, command not confirmed yet), ``sent`` (the Arr
  accepted it), then the Arr's own command status once seen (``queued``, ``started``,
  ``completed``, ``failed``, ``aborted`` ...), or ``error`` (never reached the Arr; does
  not count against any budget), ``unknown`` (the Arr forgot the command) or
  ``dry-run`` (DryRun: journaled only, no cooldown, no budget).
- ``item`` is the first key (the series for a series search); ``result`` holds a short
  JSON object: the other keys covered, the Arr's message, or the error.

The search program journals *before* sending (``begin``), so a SIGKILL between the two
never leads to a second search of the same item; the managers, which send first, call
:func:`record_search` right after sending.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qbarr.arr.kinds import KINDS, SONARR
from qbarr.db import Database, inserted_id, rows, write_txn
from qbarr.search.model import PlannedSearch, Usage
from qbarr.search.settings import SearchSettings

DAY = 86400.0
HOUR = 3600.0
COUNTED = "status NOT IN ('error', 'dry-run')"
PENDING_STATUSES = ("sending", "sent", "queued", "started")
FINAL_STATUSES = frozenset({"completed", "failed", "aborted", "cancelled", "orphaned"})


# --- reads -----------------------------------------------------------------------------


def cooldowns(db: Database, instance: str, since: float) -> dict[str, float]:
    """item key -> last search time, for items searched after ``since`` (any path)."""
    found = rows(
        db,
        "SELECT item, last_at FROM search_cooldowns WHERE instance = ? AND last_at > ?",
        (instance, since),
    )
    return {r["item"]: float(r["last_at"]) for r in found}


def usage(db: Database, instance: str, now: float, settings: SearchSettings) -> Usage:
    """Budget counters of one instance from the journal (all paths, errors excluded)."""
    last = rows(
        db, f"SELECT MAX(at) AS at FROM searches WHERE instance = ? AND {COUNTED}", (instance,)
    )
    day, day_frees = _window(
        db, instance, now - DAY, settings.max_per_day if settings.max_per_day > 0 else None
    )
    hour, hour_frees = _window(db, instance, now - HOUR, settings.hourly_cap)
    window = settings.request_window
    req, req_frees = _window(db, instance, now - window, settings.request_limit, reason="request")
    return Usage(
        last_24h=day,
        last_hour=hour,
        requests_in_window=req,
        last_command_at=last[0]["at"] if last and last[0]["at"] is not None else None,
        day_frees_at=day_frees + DAY if day_frees is not None else None,
        hour_frees_at=hour_frees + HOUR if hour_frees is not None else None,
        requests_frees_at=req_frees + window if req_frees is not None else None,
    )


def _window(
    db: Database,
    instance: str,
    since: float,
    cap: int | None,
    reason: str | None = None,
) -> tuple[int, float | None]:
    """Searches after ``since``, and (when at or over ``cap``) the time of the search whose
    leaving the window gives a slot back."""
    where = f"instance = ? AND at > ? AND {COUNTED}" + (" AND reason = ?" if reason else "")
    params: tuple = (instance, since, reason) if reason else (instance, since)
    count = int(rows(db, f"SELECT COUNT(*) AS n FROM searches WHERE {where}", params)[0]["n"])
    if cap is None or count < cap:
        return count, None
    hit = rows(
        db,
        f"SELECT at FROM searches WHERE {where} ORDER BY at ASC LIMIT 1 OFFSET ?",
        (*params, count - cap),
    )
    return count, float(hit[0]["at"]) if hit else None


def pending_commands(db: Database, instance: str, since: float) -> dict[int, int]:
    """command id -> journal row id of searches whose outcome is not known yet."""
    marks = ",".join("?" * len(PENDING_STATUSES))
    found = rows(
        db,
        "SELECT id, command_id FROM searches "
        "WHERE instance = ? AND at > ? AND command_id IS NOT NULL "
        f"AND status IN ({marks})",
        (instance, since, *PENDING_STATUSES),
    )
    return {int(r["command_id"]): int(r["id"]) for r in found}


# --- the search program's path -------------------------------------------------------------


def begin(
    db: Database,
    instance: str,
    search: PlannedSearch,
    now: float,
    dry_run: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Journal a search about to be sent and start the cooldown of every key it covers.

    Returns the row id and the previous cooldown rows (to put back with :func:`abandon`
    if the command never reached the Arr). A dry run is journaled as ``dry-run`` only.
    """
    with write_txn(db):
        previous = _previous(db, instance, search.keys)
        row_id = _insert(
            db,
            instance,
            search.keys,
            search.reason,
            _command_name(search),
            None,
            now,
            title=search.title,
            status="dry-run" if dry_run else "sending",
            detail=search.detail,
        )
        if not dry_run:
            _cool(db, instance, search.keys, now)
    return row_id, previous


def sent(db: Database, row_id: int, command_id: int | None, status: str = "sent") -> None:
    """The Arr accepted the command."""
    with write_txn(db):
        db.execute(
            "UPDATE searches SET status = ?, command_id = ? WHERE id = ?",
            (status or "sent", command_id, row_id),
        )


def lost(db: Database, row_id: int, error: str) -> None:
    """The answer was lost (timeout, 5xx): the Arr may have the command. The row becomes
    ``unknown`` (it counts) and the cooldown stays until a look-up says otherwise."""
    with write_txn(db):
        _set_result(db, row_id, "unknown", {"error": error[:500], "message": "answer lost"})


def abandon(
    db: Database,
    instance: str,
    row_id: int,
    error: str,
    previous: Mapping[str, Any] | None,
) -> None:
    """The command did not reach the Arr: mark the row ``error``; with ``previous``, undo
    the cooldown (a transient outage must not cool down an item that was never searched)."""
    with write_txn(db):
        _set_result(db, row_id, "error", {"error": error[:500]})
        if previous is not None:
            for key, old in previous.items():
                if old is None:
                    db.execute(
                        "DELETE FROM search_cooldowns WHERE instance = ? AND item = ?",
                        (instance, key),
                    )
                else:
                    db.execute(
                        "UPDATE search_cooldowns SET last_at = ?, count = ? "
                        "WHERE instance = ? AND item = ?",
                        (old["last_at"], old["count"], instance, key),
                    )


def update_results(
    db: Database, instance: str, commands: Sequence[Mapping[str, Any]], now: float
) -> int:
    """Copy the Arr's command status onto our journal rows; returns rows changed.

    Rows still pending after a day whose command the Arr no longer lists become
    ``unknown``.
    """
    pending = pending_commands(db, instance, now - 7 * DAY)
    if not pending:
        return 0
    by_id = {int(c["id"]): c for c in commands if isinstance(c.get("id"), int)}
    changes: list[tuple[int, str, dict[str, Any] | None]] = []
    current = {r["id"]: r["status"] for r in _rows_by_id(db, pending.values())}
    for command_id, row_id in pending.items():
        cmd = by_id.get(command_id)
        if cmd is None:
            age = now - float(_row_at(db, row_id))
            if age > DAY:
                changes.append(
                    (row_id, "unknown", {"message": "the Arr no longer lists this command"})
                )
            continue
        status = str(cmd.get("status") or "").lower()
        if status and status != current.get(row_id):
            result = (
                {"message": cmd.get("message")}
                if status in FINAL_STATUSES and cmd.get("message")
                else None
            )
            changes.append((row_id, status, result))
    if changes:
        with write_txn(db):
            for row_id, status, result in changes:
                _set_result(db, row_id, status, result)
    return len(changes)


def prune(db: Database, instance: str, older_than: float) -> int:
    """Forget journal rows and cooldowns older than ``older_than`` (keeps the table small)."""
    with write_txn(db):
        n = db.execute(
            "DELETE FROM searches WHERE instance = ? AND at < ?", (instance, older_than)
        ).rowcount
        db.execute(
            "DELETE FROM search_cooldowns WHERE instance = ? AND last_at < ?",
            (instance, older_than),
        )
    return int(n or 0)


# --- the managers' path (re-search after a failed download) ---------------------------------


def may_search(
    db: Database,
    instance: str,
    items: Iterable[str],
    now: float,
    settings: SearchSettings,
) -> list[str]:
    """The item keys a manager may re-search now, in the order given.

    Dropped: duplicates, items searched (by any path) within ``ReSearchCooldown`` (a
    failed download deserves a new search soon, since its release is now blocklisted,
    but never twice in a burst), and whatever would exceed ``MaxSearchesPerDay``.
    """
    wanted = list(dict.fromkeys(items))
    if not wanted:
        return []
    recent = (
        cooldowns(db, instance, now - settings.research_cooldown)
        if settings.research_cooldown > 0
        else {}
    )
    allowed = [k for k in wanted if k not in recent]
    if settings.max_per_day > 0:
        used = usage(db, instance, now, settings).last_24h
        allowed = allowed[: max(0, settings.max_per_day - used)]
    return allowed


def record_search(
    db: Database,
    instance: str,
    item_keys: Sequence[str],
    reason: str,
    command: str,
    command_id: int | None,
    now: float,
    hash: str | None = None,
    title: str = "",
    status: str = "sent",
) -> int:
    """Journal a search a manager sent (one row) and cool down every key; returns the row id.

    ``reason`` says why (e.g. ``stalled``, ``manual-fail``, ``import-failed``);
    ``command`` is the Arr command name (``MoviesSearch`` ...); ``hash`` links the search
    to the torrent that failed, for ``qbarr why HASH``.
    """
    keys = list(dict.fromkeys(item_keys))
    if not keys:
        raise ValueError("record_search needs at least one item key")
    with write_txn(db):
        row_id = _insert(
            db,
            instance,
            keys,
            reason,
            command,
            command_id,
            now,
            title=title,
            status=status,
            hash=hash,
        )
        if status != "error":
            _cool(db, instance, keys, now)
    return row_id


# --- helpers -----------------------------------------------------------------------------


def _command_name(search: PlannedSearch) -> str:
    """The name of the Arr command a planned search sends (``movie`` -> ``MoviesSearch``)."""
    for kind in KINDS.values():
        if search.command == kind.media:
            return kind.search_command
    if search.command == "season":
        return "SeasonSearch"
    return SONARR.series_search_command if search.command == "series" else search.command


def _insert(
    db: Database,
    instance: str,
    keys: Sequence[str],
    reason: str,
    command: str,
    command_id: int | None,
    now: float,
    *,
    title: str = "",
    status: str,
    hash: str | None = None,
    detail: str = "",
) -> int:
    extra: dict[str, Any] = {}
    if len(keys) > 1:
        extra["covers"] = list(keys[1:])
    if detail:
        extra["detail"] = detail
    cur = db.execute(
        "INSERT INTO searches "
        "(instance, item, title, reason, command, command_id, status, result, hash, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            instance,
            keys[0],
            title,
            reason,
            command,
            command_id,
            status,
            json.dumps(extra) if extra else None,
            hash.lower() if hash else None,
            now,
        ),
    )
    return inserted_id(cur)


def _cool(db: Database, instance: str, keys: Iterable[str], now: float) -> None:
    for key in keys:
        db.execute(
            "INSERT INTO search_cooldowns (instance, item, last_at, count) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (instance, item) DO UPDATE SET "
            # the existing row by its table's name: PostgreSQL finds a bare column ambiguous
            "last_at = MAX(search_cooldowns.last_at, excluded.last_at), "
            "count = search_cooldowns.count + 1",
            (instance, key, now),
        )


def _previous(db: Database, instance: str, keys: Sequence[str]) -> dict[str, Any]:
    marks = ",".join("?" * len(keys))
    found = rows(
        db,
        "SELECT item, last_at, count FROM search_cooldowns "
        f"WHERE instance = ? AND item IN ({marks})",
        (instance, *keys),
    )
    by_key = {r["item"]: {"last_at": r["last_at"], "count": r["count"]} for r in found}
    return {k: by_key.get(k) for k in keys}


def _set_result(db: Database, row_id: int, status: str, result: Mapping[str, Any] | None) -> None:
    if result is None:
        db.execute("UPDATE searches SET status = ? WHERE id = ?", (status, row_id))
        return
    old = db.execute("SELECT result FROM searches WHERE id = ?", (row_id,)).fetchone()
    merged = json.loads(old[0]) if old and old[0] else {}
    merged.update({k: v for k, v in result.items() if v is not None})
    db.execute(
        "UPDATE searches SET status = ?, result = ? WHERE id = ?",
        (status, json.dumps(merged), row_id),
    )


def _rows_by_id(db: Database, ids: Iterable[int]) -> list[dict]:
    ids = list(ids)
    marks = ",".join("?" * len(ids))
    return rows(db, f"SELECT id, status FROM searches WHERE id IN ({marks})", tuple(ids))


def _row_at(db: Database, row_id: int) -> float:
    found = rows(db, "SELECT at FROM searches WHERE id = ?", (row_id,))
    return float(found[0]["at"]) if found else 0.0
