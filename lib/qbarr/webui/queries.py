"""Read-only queries behind the web UI's pages, API and metrics.

Every function takes an open connection and plain arguments and returns plain dicts
(fully fetched rows). Untrusted text (names, tags, reasons, errors) is returned as-is:
escaping is the renderer's job. Writes live in :mod:`qbarr.webui.writes`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from qbarr import heartbeat, history
from qbarr.db import Database, rows
from qbarr.policy.docs import RULE_TONE
from qbarr.reader.feed import clients_view
from qbarr.search.status import SEARCH_KIND
from qbarr.webui.words import dur, rule_words

# A failed torrent is one whose release was blocklisted or which was deleted for one of the
# rules that fail torrents (a seeding-done removal is not a failure); an import is an
# import command sent. Counted when the action reached ``done``, not when a rule matched.
FAIL_RULES = tuple(sorted(rule for rule, tone in RULE_TONE.items() if tone == "bad"))

TORRENT_SORTS = {
    "name": "name COLLATE NOCASE",
    "state": "state",
    "progress": "progress",
    "ratio": "ratio",
    "seeding_time": "seeding_time",
    "size": "size",
    "category": "category",
    "rule": "last_rule",
    "added_on": "added_on",
    "decided_at": "last_decided_at",
}
MAX_PER_PAGE = 500


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def instances(
    db: Database, now: float | None = None, search_programs: bool = False
) -> list[dict[str, Any]]:
    """Every Arr instance row (with ``search_programs``: the search programs' rows too),
    its JSON columns parsed and the heartbeat age added."""
    now = now if now is not None else time.time()
    out = []
    where = "" if search_programs else "WHERE kind != ?"
    params = () if search_programs else (SEARCH_KIND,)
    for row in rows(db, f"SELECT * FROM instances {where} ORDER BY name", params):
        row["counts"] = _json(row.get("counts"))
        row["stats"] = _json(row.get("stats"))
        hb = row.get("heartbeat_at")
        row["heartbeat_age"] = None if hb is None else max(0.0, now - hb)
        row["brake_engaged"] = bool(row.get("brake_engaged"))
        for key in ("qbt_ok", "arr_ok"):
            row[key] = None if row.get(key) is None else bool(row[key])
        out.append(row)
    return out


def instance_names(db: Database) -> list[str]:
    """Names of the Arr instances that have a row (search programs' rows are not instances)."""
    found = rows(db, "SELECT name FROM instances WHERE kind != ? ORDER BY name", (SEARCH_KIND,))
    return [r["name"] for r in found]


def find_instance(db: Database, name: str) -> str | None:
    """The Arr instance whose row has this name or program name (not a search program)."""
    found = rows(
        db,
        "SELECT name FROM instances WHERE kind != ? AND (name = ? OR program = ?)",
        (SEARCH_KIND, name, name),
    )
    return str(found[0]["name"]) if found else None


def crash_summary(db: Database) -> dict[str, dict[str, Any]]:
    """Per program: number of crash/restart events and the last one."""
    summary: dict[str, dict[str, Any]] = {}
    for row in rows(
        db, "SELECT program, COUNT(*) AS n, MAX(id) AS last_id FROM crashes GROUP BY program"
    ):
        summary[row["program"]] = {"restarts": row["n"], "last_id": row["last_id"]}
    ids = [s["last_id"] for s in summary.values()]
    if ids:
        marks = ",".join("?" * len(ids))
        for row in rows(db, f"SELECT * FROM crashes WHERE id IN ({marks})", tuple(ids)):
            summary[row["program"]]["last_crash"] = {
                "event": row["event"],
                "at": row["at"],
                "pid": row["pid"],
                "from_state": row["from_state"],
                "detail": row["detail"],
            }
    return summary


def programs(
    infos: list[dict[str, Any]], db: Database, now: float | None = None
) -> list[dict[str, Any]]:
    """supervisord's process list joined with crashes and each manager's instance row."""
    now = now if now is not None else time.time()
    crashes = crash_summary(db)
    by_program = {
        row["program"]: row
        for row in instances(db, now, search_programs=True)
        if row.get("program")
    }
    out = []
    for info in infos:
        name, full = info["name"], info.get("fullname", info["name"])
        crash = crashes.get(full) or crashes.get(name) or {}
        inst = by_program.get(name) or by_program.get(full)
        running = info.get("statename") == "RUNNING"
        uptime = (now - info["start"]) if running and info.get("start") else None
        out.append(
            {
                "name": full,
                "group": info.get("group", ""),
                "state": info.get("statename", ""),
                "pid": info.get("pid") or None,
                "uptime": uptime,
                "uptime_text": dur(uptime),
                "description": info.get("description", ""),
                "exitstatus": info.get("exitstatus"),
                "spawnerr": info.get("spawnerr", ""),
                "restarts": crash.get("restarts", 0),
                "last_crash": crash.get("last_crash"),
                "instance": _manager_view(inst) if inst else None,
            }
        )
    return out


def _manager_view(inst: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": inst["name"],
        "status": inst.get("status"),
        "heartbeat_age": inst.get("heartbeat_age"),
        "cycle_s": inst.get("cycle_s"),
        "cycles": inst.get("cycles"),
        "last_error": inst.get("last_error"),
        "last_error_at": inst.get("last_error_at"),
        "brake_engaged": inst.get("brake_engaged"),
        "brake_reason": inst.get("brake_reason"),
        "brake_at": inst.get("brake_at"),
    }


@dataclass(frozen=True)
class TorrentQuery:
    """Filters, order and page of the instance view (validated by the caller)."""

    rule: str | None = None
    state: str | None = None
    q: str | None = None
    sort: str = "name"
    order: str = "asc"
    page: int = 1
    per_page: int = 50


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def torrents(
    db: Database, instance: str, query: TorrentQuery, protected_tag: str = ""
) -> dict[str, Any]:
    """One page of an instance's current torrents (LIMIT/OFFSET over indexed columns)."""
    where = ["instance = ?", "gone_at IS NULL"]
    params: list[Any] = [instance]
    if query.rule:
        where.append("last_rule = ?")
        params.append(query.rule)
    if query.state:
        where.append("state = ?")
        params.append(query.state)
    if query.q:
        where.append("(name LIKE ? ESCAPE '\\' OR hash = ?)")
        params += [_like(query.q), query.q.lower()]
    clause = " AND ".join(where)
    total = rows(db, f"SELECT COUNT(*) AS n FROM torrents WHERE {clause}", tuple(params))[0]["n"]
    order = "DESC" if query.order == "desc" else "ASC"
    sql = (
        f"SELECT hash, name, state, progress, ratio, seeding_time, size, category, tags, "
        f"last_rule, last_reason, last_decided_at, first_seen, added_on FROM torrents "
        f"WHERE {clause} ORDER BY {TORRENT_SORTS[query.sort]} {order}, hash {order} "
        "LIMIT ? OFFSET ?"
    )
    page_rows = rows(db, sql, (*params, query.per_page, (query.page - 1) * query.per_page))
    pending = pending_requests(db, instance)
    items = [_torrent_item(r, protected_tag, pending.get(r["hash"])) for r in page_rows]
    return {"items": items, "total": total, "page": query.page, "per_page": query.per_page}


def _tags(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _torrent_item(row: dict[str, Any], protected_tag: str, pending: str | None) -> dict[str, Any]:
    tags = _tags(row.get("tags"))
    item = dict(row)
    item["tags"] = tags
    item["protected"] = bool(protected_tag) and protected_tag in tags
    item["rule_words"] = rule_words(row.get("last_rule"))
    item["pending_request"] = pending
    return item


def torrent_facets(db: Database, instance: str) -> dict[str, Any]:
    """Rules and states present for an instance, with counts (for the filter menus)."""
    rules_ = rows(
        db,
        "SELECT COALESCE(last_rule, '') AS v, COUNT(*) AS n FROM torrents "
        "WHERE instance = ? AND gone_at IS NULL GROUP BY last_rule ORDER BY v",
        (instance,),
    )
    states = rows(
        db,
        "SELECT COALESCE(state, '') AS v, COUNT(*) AS n FROM torrents "
        "WHERE instance = ? AND gone_at IS NULL GROUP BY state ORDER BY v",
        (instance,),
    )
    return {"rules": {r["v"]: r["n"] for r in rules_}, "states": {r["v"]: r["n"] for r in states}}


def pending_requests(db: Database, instance: str) -> dict[str, str]:
    """hash -> kind of the newest request the manager has not applied yet."""
    found = rows(
        db,
        "SELECT hash, kind FROM requests WHERE instance = ? AND done_at IS NULL ORDER BY id",
        (instance,),
    )
    return {r["hash"]: r["kind"] for r in found}


@dataclass(frozen=True)
class JournalQuery:
    instance: str | None = None
    rule: str | None = None
    torrent: str | None = None
    action: str | None = None
    since: float | None = None
    until: float | None = None
    before_id: int | None = None
    limit: int = 50


def decisions(db: Database, query: JournalQuery) -> dict[str, Any]:
    """The decision journal, newest first, keyset-paged by ``before_id``."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("d.instance", query.instance), ("d.rule", query.rule)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if query.torrent:
        where.append("(d.hash = ? OR d.name LIKE ? ESCAPE '\\')")
        params += [query.torrent.lower(), _like(query.torrent)]
    if query.action:
        where.append("EXISTS (SELECT 1 FROM actions a WHERE a.decision_id = d.id AND a.kind = ?)")
        params.append(query.action)
    if query.since is not None:
        where.append("d.at >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append("d.at <= ?")
        params.append(query.until)
    if query.before_id is not None:
        where.append("d.id < ?")
        params.append(query.before_id)
    sql = (
        f"SELECT d.id, d.instance, d.hash, d.name, d.rule, d.code, d.reason, d.inputs, d.dry_run, "
        "d.at "
        f"FROM decisions d WHERE {' AND '.join(where)} ORDER BY d.id DESC LIMIT ?"
    )
    found = rows(db, sql, (*params, query.limit + 1))
    more = len(found) > query.limit
    found = found[: query.limit]
    acts = _actions_of(db, [d["id"] for d in found])
    items = [_decision_item(d, acts.get(d["id"], [])) for d in found]
    next_before = items[-1]["id"] if more and items else None
    return {"items": items, "next_before_id": next_before}


def _decision_item(row: dict[str, Any], acts: list[dict[str, Any]]) -> dict[str, Any]:
    item = dict(row)
    item["inputs"] = _json(row.get("inputs"))
    item["dry_run"] = bool(row.get("dry_run"))
    item["rule_words"] = rule_words(row["rule"])
    item["actions"] = acts
    return item


def _action_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "decision_id": row["decision_id"],
        "instance": row["instance"],
        "hash": row["hash"],
        "kind": row["kind"],
        "status": row["status"],
        "attempts": row["attempts"],
        "result": row["result"],
        "destructive": bool(row["destructive"]),
        "params": _json(row.get("params")),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _actions_of(db: Database, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for row in rows(
        db, f"SELECT * FROM actions WHERE decision_id IN ({marks}) ORDER BY id", tuple(ids)
    ):
        out.setdefault(row["decision_id"], []).append(_action_item(row))
    return out


def journal_choices(db: Database) -> dict[str, list[str]]:
    """Distinct rules and action kinds seen (for the journal's filter menus)."""
    rules_ = [r["rule"] for r in rows(db, "SELECT DISTINCT rule FROM decisions ORDER BY rule")]
    kinds = [r["kind"] for r in rows(db, "SELECT DISTINCT kind FROM actions ORDER BY kind")]
    return {"rules": rules_, "actions": kinds}


def torrent_history(
    db: Database, torrent_hash: str, protected_tag: str = ""
) -> dict[str, Any] | None:
    """One torrent as a chronological timeline, from :func:`qbarr.history.read` (what
    `qbarr why` prints); None when nothing is known about it."""
    found = history.read(db, torrent_hash)
    if history.is_empty(found):
        return None
    events: list[dict[str, Any]] = []
    for d in found["decisions"]:
        events.append(
            _event(d, "decision", d["at"], d["reason"], rule_words(d["rule"]), rule=d["rule"])
        )
        events[-1]["dry_run"] = bool(d["dry_run"])
        for a in d["actions"]:
            text = f"{a['kind']}: {a['status']}" + (f" ({a['result']})" if a.get("result") else "")
            events.append(_event(a, "action", a["created_at"], text, f"attempts {a['attempts']}"))
    for s in found["searches"]:
        text = f"{s['command']} {s['title']}".strip()
        events.append(_event(s, "search", s["at"], text, s["reason"] or ""))
    for r in found["requests"]:
        done = "applied" if r.get("done_at") else "pending"
        text = f"{r['kind']} requested ({done})"
        events.append(_event(r, "request", r["created_at"], text, r.get("result") or ""))
    events.sort(key=lambda e: (e["at"], e["type"] != "decision"))
    name = next((m["name"] for m in found["torrents"] if m.get("name")), None) or next(
        (d["name"] for d in found["decisions"] if d["name"]), ""
    )
    return {
        "hash": found["hash"],
        "name": name,
        "torrents": [
            _torrent_item(m, protected_tag, None)
            | {"instance": m["instance"], "gone_at": m["gone_at"]}
            for m in found["torrents"]
        ],
        "events": events,
    }


def _event(
    row: dict[str, Any], kind: str, at: float, text: str, detail: str, rule: str | None = None
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": at,
        "type": kind,
        "instance": row["instance"],
        "rule": rule,
        "text": text,
        "detail": detail,
        "dry_run": False,
    }


def overview(db: Database, now: float | None = None) -> dict[str, Any]:
    """Reachability per instance, decisions per rule in the last 24 h, and per hour the
    imports sent and the torrents failed (actions done, see FAIL_RULES)."""
    now = now if now is not None else time.time()
    start = (int(now) // 3600 - 23) * 3600
    per_rule = rows(
        db,
        "SELECT rule, COUNT(*) AS n FROM decisions WHERE at >= ? GROUP BY rule ORDER BY n DESC",
        (now - 86400,),
    )
    hourly_rows = rows(
        db,
        "SELECT CAST((at - ?) / 3600 AS INTEGER) AS h, COUNT(*) AS n FROM decisions "
        "WHERE at >= ? GROUP BY h",
        (start, start),
    )
    marks = ",".join("?" * len(FAIL_RULES))
    done_rows = rows(
        db,
        "SELECT CAST((a.updated_at - ?) / 3600 AS INTEGER) AS h, "
        "COUNT(DISTINCT CASE WHEN a.kind = 'import' THEN a.decision_id END) AS imports, "
        "COUNT(DISTINCT CASE WHEN a.kind IN ('blocklist', 'delete') "
        f"AND d.rule IN ({marks}) THEN a.decision_id END) AS failures "
        "FROM actions a JOIN decisions d ON d.id = a.decision_id "
        "WHERE a.status = 'done' AND a.updated_at >= ? GROUP BY h",
        (start, *FAIL_RULES, start),
    )
    failed_actions = rows(
        db,
        "SELECT CAST((updated_at - ?) / 3600 AS INTEGER) AS h, COUNT(*) AS n FROM actions "
        "WHERE status = 'failed' AND updated_at >= ? GROUP BY h",
        (start, start),
    )
    hours = [
        {"hour": start + i * 3600, "imports": 0, "failures": 0, "decisions": 0, "action_errors": 0}
        for i in range(24)
    ]
    for r in hourly_rows:
        if 0 <= r["h"] < 24:
            hours[r["h"]]["decisions"] += r["n"]
    for r in done_rows:
        if 0 <= r["h"] < 24:
            hours[r["h"]]["imports"] += r["imports"]
            hours[r["h"]]["failures"] += r["failures"]
    for r in failed_actions:
        if 0 <= r["h"] < 24:
            hours[r["h"]]["action_errors"] += r["n"]
    insts = [
        {
            "name": i["name"],
            "kind": i["kind"],
            "program": i["program"],
            "client": i["stats"].get("client"),
            "status": i["status"],
            "qbt_ok": i["qbt_ok"],
            "arr_ok": i["arr_ok"],
            "heartbeat_age": i["heartbeat_age"],
            "torrents": i["torrents"],
            "brake_engaged": i["brake_engaged"],
            "last_error": i["last_error"],
            "last_error_at": i["last_error_at"],
            "waiting": heartbeat.waiting_text(i["stats"], i["heartbeat_at"]),
        }
        for i in instances(db, now)
    ]
    return {
        "instances": insts,
        "clients": clients_view(db, now),
        "rules_24h": {r["rule"]: r["n"] for r in per_rule},
        "hourly": hours,
    }


def last_notification_test(db: Database) -> dict[str, Any] | None:
    """The newest "send a test notification" request and its result (None: never asked)."""
    found = rows(db, "SELECT * FROM notify_tests ORDER BY id DESC LIMIT 1")
    return found[0] if found else None
