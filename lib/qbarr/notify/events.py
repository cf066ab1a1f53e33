"""The events worth a notification, read from qbarr.db since the last look.

What the notify program remembers between looks (the last decision and crash ids, which
brakes and outages it already told, the day of the last digest) is a cursor kept in the
``kv`` table (key ``notify.cursor``): a restart neither repeats nor misses an event. A first
start begins at the present (it does not replay the journal's history).

- ``failed`` / ``import-failed``: a decision of a failing rule (not a dry run);
- ``brake``: an instance's brake engaged (once per engagement), with the command that
  releases it;
- ``program``: a program went FATAL or hung, or exited unexpectedly 3 times within 10 min (a
  crash loop; told again at most once an hour);
- ``unreachable`` / ``back``: a manager's heartbeat says qBittorrent or its Arr has been down
  for longer than ``UnreachableAfter`` (and, later, that it answers again);
- ``digest``: once a day at ``DigestHour``: decisions per rule, space freed, searches.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qbarr.db import Database, rows, write_txn
from qbarr.policy.docs import RULE_TONE
from qbarr.search.status import SEARCH_KIND
from qbarr.units import format_duration, format_size

KV_CURSOR = "notify.cursor"
FAILED_RULES = tuple(sorted(r for r, t in RULE_TONE.items() if t == "bad" and r != "import-failed"))
LOOP_EVENTS = ("exited", "backoff")
LOOP_COUNT, LOOP_WINDOW, LOOP_QUIET = 3, 600.0, 3600.0
BATCH = 5000  # rows per look: a burst larger than this continues at the next look


@dataclass(frozen=True)
class Event:
    kind: str
    at: float
    line: str


@dataclass
class Cursor:
    decision: int = 0
    crash: int = 0
    brakes: dict[str, float] = field(default_factory=dict)  # instance -> brake_at told
    down: dict[str, float] = field(default_factory=dict)  # "instance/remote" -> since told
    loops: dict[str, float] = field(default_factory=dict)  # program -> crash loop told at
    digest_day: str = ""
    saved: str = field(default="", repr=False, compare=False)  # what save() last wrote

    @classmethod
    def load(cls, db: Database) -> Cursor | None:
        found = rows(db, "SELECT value FROM kv WHERE key = ?", (KV_CURSOR,))
        if not found:
            return None
        data = json.loads(found[0]["value"])
        known = set(cls.__dataclass_fields__) - {"saved"}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def at_present(cls, db: Database) -> Cursor:
        """A first start: from the newest rows on, and what is engaged now counts as told."""
        last = rows(
            db,
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM decisions) AS d, "
            "(SELECT COALESCE(MAX(id), 0) FROM crashes) AS c",
        )[0]
        brakes = {
            r["name"]: float(r["brake_at"] or 0)
            for r in rows(db, "SELECT name, brake_at FROM instances WHERE brake_engaged = 1")
        }
        return cls(decision=int(last["d"]), crash=int(last["c"]), brakes=brakes)

    def save(self, db: Database, now: float) -> None:
        """Write the cursor when it moved (not a write a second while nothing happens)."""
        data = {k: v for k, v in self.__dict__.items() if k != "saved"}
        text = json.dumps(data, sort_keys=True)
        if text == self.saved:
            return
        with write_txn(db):
            db.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (KV_CURSOR, text, now),
            )
        self.saved = text


def read(db: Database, cur: Cursor, opts: Mapping[str, Any], now: float) -> list[Event]:
    """The events since ``cur`` (which is moved past them), as ``opts`` ([Notifications])
    asks for."""
    events = _decisions(db, cur, opts)
    events += _crashes(db, cur, opts, now)
    instances = rows(
        db,
        "SELECT name, brake_engaged, brake_reason, brake_at, stats FROM instances WHERE kind != ?",
        (SEARCH_KIND,),
    )
    events += _brakes(instances, cur, opts)
    events += _outages(instances, cur, opts, now)
    events += _digest(db, cur, opts, now)
    return events


def _decisions(db: Database, cur: Cursor, opts: Mapping[str, Any]) -> list[Event]:
    found = rows(
        db,
        "SELECT id, instance, name, hash, rule, reason, dry_run, at FROM decisions "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (cur.decision, BATCH),
    )
    events = []
    for d in found:
        cur.decision = max(cur.decision, int(d["id"]))
        if d["dry_run"]:
            continue
        if d["rule"] == "import-failed":
            if not opts["ImportFailed"]:
                continue
            kind = "import-failed"
        elif d["rule"] in FAILED_RULES:
            if not opts["TorrentFailed"]:
                continue
            kind = "failed"
        else:
            continue
        name = d["name"] or d["hash"]
        events.append(Event(kind, d["at"], f"{d['instance']}: {d['rule']}: {name} ({d['reason']})"))
    return events


def _crashes(db: Database, cur: Cursor, opts: Mapping[str, Any], now: float) -> list[Event]:
    found = rows(db, "SELECT * FROM crashes WHERE id > ? ORDER BY id LIMIT ?", (cur.crash, BATCH))
    events = []
    for c in found:
        cur.crash = max(cur.crash, int(c["id"]))
        if not opts["ProgramFailed"]:
            continue
        program = c["program"]
        if c["event"] in ("fatal", "hung"):
            what = "FATAL" if c["event"] == "fatal" else "hung"
            events.append(Event("program", c["at"], f"{program} {what}: {c['detail'] or ''}"))
        elif c["event"] in LOOP_EVENTS and now - cur.loops.get(program, 0.0) > LOOP_QUIET:
            recent = rows(
                db,
                "SELECT COUNT(*) AS n FROM crashes WHERE program = ? AND at > ? AND event IN "
                "('exited', 'backoff')",
                (program, c["at"] - LOOP_WINDOW),
            )[0]["n"]
            if recent >= LOOP_COUNT:
                cur.loops[program] = now
                events.append(
                    Event(
                        "program",
                        c["at"],
                        f"{program} crash loop: {recent} unexpected exits in "
                        f"{format_duration(LOOP_WINDOW)} (last: {c['detail'] or c['event']})",
                    )
                )
    return events


def _brakes(instances: list[dict[str, Any]], cur: Cursor, opts: Mapping[str, Any]) -> list[Event]:
    events = []
    for r in instances:
        name = r["name"]
        if not r["brake_engaged"]:
            cur.brakes.pop(name, None)
            continue
        at = float(r["brake_at"] or 0)
        if cur.brakes.get(name) == at:
            continue
        cur.brakes[name] = at
        if opts["Brake"]:
            events.append(
                Event(
                    "brake",
                    at or time.time(),
                    f"{name}: {r['brake_reason'] or 'brake engaged'}; destructive actions are "
                    f"held. Release with: qbarr brake release {shlex.quote(name)} (or the web "
                    "UI's Release button)",
                )
            )
    return events


def _outages(
    instances: list[dict[str, Any]], cur: Cursor, opts: Mapping[str, Any], now: float
) -> list[Event]:
    events = []
    after = float(opts["UnreachableAfter"])
    for r in instances:
        try:
            targets = json.loads(r["stats"] or "{}").get("targets") or {}
        except ValueError:
            continue
        for remote, t in targets.items():
            if not isinstance(t, dict):
                continue
            key = f"{r['name']}/{remote}"
            label = str(t.get("name") or remote)
            since = float(t.get("since") or 0)
            if t.get("ok") is False and since and now - since >= after:
                if cur.down.get(key) != since:
                    cur.down[key] = since
                    if opts["Unreachable"]:
                        error = f": {t['error']}" if t.get("error") else ""
                        events.append(
                            Event(
                                "unreachable",
                                since + after,
                                f"{r['name']}: {label} unreachable for "
                                f"{format_duration(now - since)}{error}",
                            )
                        )
            elif t.get("ok") is True and key in cur.down:
                down_since = cur.down.pop(key)
                if opts["Unreachable"]:
                    events.append(
                        Event(
                            "back",
                            since or now,
                            f"{r['name']}: {label} answers again (down "
                            f"{format_duration(max(0.0, (since or now) - down_since))})",
                        )
                    )
    return events


def _digest(db: Database, cur: Cursor, opts: Mapping[str, Any], now: float) -> list[Event]:
    local = time.localtime(now)
    day = time.strftime("%Y-%m-%d", local)
    if not opts["DailyDigest"] or local.tm_hour != int(opts["DigestHour"]):
        return []
    if cur.digest_day == day:
        return []
    cur.digest_day = day
    return [Event("digest", now, digest_text(db, now))]


def digest_text(db: Database, now: float) -> str:
    """The last 24 h: decisions per rule, space freed by deletions, searches sent."""
    since = now - 86400
    per_rule = rows(
        db,
        "SELECT rule, COUNT(*) AS n FROM decisions WHERE at >= ? AND dry_run = 0 "
        "GROUP BY rule ORDER BY n DESC",
        (since,),
    )
    # The JSON is read here, not in SQL: the engines' JSON functions differ, and a day's
    # deletions are few.
    deleted = [
        json.loads(r["inputs"] or "{}").get("size") or 0
        for r in rows(
            db,
            "SELECT d.inputs, a.params FROM actions a JOIN decisions d ON d.id = a.decision_id "
            "WHERE a.kind = 'delete' AND a.status = 'done' AND a.updated_at >= ?",
            (since,),
        )
        if json.loads(r["params"] or "{}").get("delete_files") is True
    ]
    freed = {"bytes": sum(deleted), "n": len(deleted)}
    searches = rows(db, "SELECT COUNT(*) AS n FROM searches WHERE at >= ?", (since,))[0]["n"]
    rules = ", ".join(f"{r['rule']} {r['n']}" for r in per_rule) or "none"
    return (
        f"last 24 h: decisions per rule: {rules}; space freed: "
        f"{format_size(int(freed['bytes']))} ({freed['n']} torrents deleted with their data); "
        f"searches sent: {searches}"
    )
