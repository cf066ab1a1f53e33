"""`qbarr status`: every instance's heartbeat, state and last error, from the database.

Per qBittorrent (``[qBittorrent]`` and each ``[qBittorrent-<name>]``): its version, which
manager reads it, the age of its last poll, its torrents, or its error.

Per instance: its status (and what it is waiting on, while a call to a slow remote is under
way), each remote's reachability from its own last call (ok or down, since when, its last
error with its age), and the actions not done yet: per kind how many, the oldest's age and
why (waiting for an unreachable remote, answer lost, refused, held by the brake ...), with
the latest error among them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from qbarr import db as dbmod
from qbarr import heartbeat, storage, store
from qbarr.heartbeat import backlog_lines, target_text, waiting_text
from qbarr.paths import Home
from qbarr.reader.feed import clients_view
from qbarr.supervision import SupervisionError, Supervisor, full_name
from qbarr.units import format_duration

from .common import EX_FAIL

NAME = "status"
HELP = "show each instance's heartbeat age, cycle time, status, last error, counts and brake"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    parser.add_argument(
        "--crashes", type=int, default=5, metavar="N", help="show the last N crashes (default 5)"
    )


def _age(now: float, then: float | None) -> str:
    return "-" if not then else format_duration(max(0.0, now - then)) + " ago"


def _reachability(now: float, row: dict[str, Any]) -> list[str]:
    targets = row["stats"].get("targets")
    if isinstance(targets, dict) and targets:
        return [f"  {target_text(now, t)}" for t in targets.values() if isinstance(t, dict)]
    # a row from before per-remote reachability: the columns (NULL: that remote not used)
    known = [(n, row[k]) for n, k in (("qBittorrent", "qbt_ok"), ("Arr", "arr_ok"))]
    parts = [f"{n} {'ok' if ok else 'down'}" for n, ok in known if ok is not None]
    return [f"  {', '.join(parts)}"] if parts else []


def _programs(home: Home) -> dict[str, dict[str, Any]]:
    try:
        return {info["name"]: info for info in Supervisor(home.supervisor_url).processes()}
    except SupervisionError:
        return {}


def collect(home: Home, crashes: int) -> dict[str, Any]:
    db = dbmod.connect(store.location(home))
    try:
        instances = heartbeat.read_all(db)
        clients = clients_view(db, time.time())
        recent = dbmod.rows(db, "SELECT * FROM crashes ORDER BY id DESC LIMIT ?", (crashes,))
    finally:
        db.close()
    found = storage.space(home.root)
    return {
        "instances": instances,
        "clients": clients,
        "crashes": recent,
        "programs": _programs(home),
        "now": time.time(),
        "storage": {
            "free_bytes": found.free if found else None,
            "total_bytes": found.total if found else None,
            "full": bool(found and found.low),
            "warning": storage.warning(home.root),
        },
    }


def render_text(data: dict[str, Any]) -> list[str]:
    now, programs = data["now"], data["programs"]
    if not programs:
        lines = ["supervisord: not running (or not reachable)"]
    else:
        lines = [
            "supervisord: running; programs: "
            + ", ".join(f"{full_name(p)} {p['statename']}" for p in programs.values())
        ]
    if data["storage"]["warning"]:
        lines.append(f"DISK FULL: {data['storage']['warning']}")
    lines += client_lines(data.get("clients") or [])
    if not data["instances"]:
        lines.append("no instance has reported yet")
    for row in data["instances"]:
        proc = programs.get(row["program"], {})
        brake = f"ENGAGED ({row['brake_reason']})" if row["brake_engaged"] else "off"
        counts = ", ".join(f"{k} {v}" for k, v in sorted(row["counts"].items())) or "-"
        waiting = waiting_text(row["stats"], row["heartbeat_at"])
        client = row["stats"].get("client")
        lines += [
            f"{row['name']} ({row['kind'] or '?'}, "
            + (f"qBittorrent [{client}], " if client else "")
            + f"program {row['program']}: "
            f"{proc.get('statename', 'not running')})",
            f"  status {row['status']}{', ' + waiting if waiting else ''}, "
            f"heartbeat {_age(now, row['heartbeat_at'])}, "
            f"cycle {row['cycle_s'] if row['cycle_s'] is not None else '-'} s, "
            f"cycles {row['cycles']}, "
            f"pid {row['pid']}",
            *_reachability(now, row),
            f"  torrents {row['torrents']}, counts: {counts}, brake {brake}",
            *(f"  {line}" for line in backlog_lines(now, row["stats"].get("backlog"))),
        ]
        if row["last_error"]:
            lines.append(f"  last error ({_age(now, row['last_error_at'])}): {row['last_error']}")
    if data["crashes"]:
        lines.append("recent crashes and restarts:")
        for c in data["crashes"]:
            pid = f" (pid {c['pid']})" if c["pid"] else ""
            lines.append(
                f"  {_age(now, c['at'])}: {c['program']} {c['event']}{pid} {c['detail'] or ''}"
            )
    return lines


def client_lines(clients: list[dict[str, Any]]) -> list[str]:
    """One line per qBittorrent, from what its reader published."""
    lines = []
    for c in clients:
        polled = "-" if c["polled_age"] is None else format_duration(c["polled_age"]) + " ago"
        state = "ok" if c["up"] else "DOWN"
        line = (
            f"qBittorrent [{c['client']}]: {state}, {c['version'] or 'version unknown'}, "
            f"read by {c['reader'] or '-'}, last poll {polled}, torrents {c['torrents']}"
        )
        if c["error"]:
            age = "" if c["error_age"] is None else f" ({format_duration(c['error_age'])} ago)"
            line += f", error{age}: {c['error']}"
        lines.append(line)
    return lines


def run(args: argparse.Namespace, home: Home) -> int:
    absent = store.missing(home)
    if absent is not None:
        print(
            f"qbarr status: no database at {absent} (start the suite with `qbarr run`)",
            file=sys.stderr,
        )
        return EX_FAIL
    data = collect(home, args.crashes)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print("\n".join(render_text(data)))
    return 0
