"""`qbarr brake status` and `qbarr brake release NAME`: the managers' safety brake.

A manager engages its brake when one cycle would remove or blocklist more torrents than
``BrakeMaxRemovals``: every destructive action (delete, blocklist) is then held, and the
instance reports "brake engaged", until the operator releases it here (or in the web UI).
Releasing clears the flag and turns the held actions back into planned ones; the manager
carries them out on its next cycle only if its rules still decide them, and skips the rest.
Nothing here talks to a manager: the database is the only channel (see docs/architecture.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from typing import Any

from qbarr import db as dbmod
from qbarr import store
from qbarr.config import slugify
from qbarr.db import Database
from qbarr.journal import release_brake
from qbarr.paths import Home
from qbarr.units import format_duration

from .common import EX_FAIL

NAME = "brake"
HOME_HELP = "data dir (as for every qbarr command)"
HELP = "show the safety brake of each Arr manager (status) or release it (release NAME)"


class BrakeError(Exception):
    """An unknown instance name (message for the operator)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="brake_command", metavar="status|release")
    sub.required = True
    status = sub.add_parser("status", help="brake state, reason and held actions of each instance")
    status.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    status.add_argument("--home", default=argparse.SUPPRESS, help=HOME_HELP)
    release = sub.add_parser(
        "release", help="release an instance's brake: held actions are re-checked next cycle"
    )
    release.add_argument("name", metavar="NAME", help="the Arr section name (or its slug)")
    release.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    release.add_argument("--home", default=argparse.SUPPRESS, help=HOME_HELP)


# -- reading ------------------------------------------------------------------------------


def managers(db: Database) -> list[dict[str, Any]]:
    """The instances rows of Arr managers (the search programs' rows have kind ``search``)."""
    return dbmod.rows(
        db,
        "SELECT name, kind, status, brake_engaged, brake_reason, brake_at, brake_released_at "
        "FROM instances WHERE kind != 'search' ORDER BY name",
    )


def resolve(db: Database, name: str) -> str:
    """The stored instance name for a section name (any case) or its slug."""
    known = [r["name"] for r in managers(db)]
    for candidate in known:
        if (
            candidate == name
            or candidate.lower() == name.lower()
            or slugify(candidate) == slugify(name)
        ):
            return candidate
    raise BrakeError(
        f"no Arr instance {name!r} in the database (known: {', '.join(known) or 'none'})"
    )


def held_actions(db: Database, instance: str) -> list[dict[str, Any]]:
    """Held actions of an instance with the torrent's name, oldest first."""
    return dbmod.rows(
        db,
        "SELECT a.id, a.hash, a.kind, a.created_at, a.updated_at, "
        "COALESCE(t.name, '') AS name FROM actions a "
        "LEFT JOIN torrents t ON t.instance = a.instance AND t.hash = a.hash "
        "WHERE a.instance = ? AND a.status = 'held' ORDER BY a.id",
        (instance,),
    )


def collect(db: Database) -> list[dict[str, Any]]:
    out = []
    for row in managers(db):
        held = held_actions(db, row["name"])
        out.append(
            {
                **row,
                "brake_engaged": bool(row["brake_engaged"]),
                "held": held,
                "held_torrents": len({a["hash"] for a in held}),
            }
        )
    return out


# -- output -------------------------------------------------------------------------------


def _when(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    stamp = dt.datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp} ({format_duration(max(0.0, now - float(ts)))} ago)"


def render_status(items: list[dict[str, Any]], now: float, show: int = 10) -> list[str]:
    if not items:
        return ["no Arr manager has reported yet"]
    lines = []
    for item in items:
        if item["brake_engaged"]:
            lines.append(f"{item['name']}: brake ENGAGED since {_when(item['brake_at'], now)}")
            lines.append(f"  why: {item['brake_reason'] or '-'}")
            lines.append(
                f"  held: {len(item['held'])} action(s) on {item['held_torrents']} torrent(s)"
            )
            for a in item["held"][:show]:
                lines.append(f"    {a['kind']:<10} {a['hash']}  {a['name']}")
            if len(item["held"]) > show:
                lines.append(f"    ... {len(item['held']) - show} more")
            lines.append(f"  release with: qbarr brake release {shlex.quote(item['name'])}")
        else:
            released = (
                f", last released {_when(item['brake_released_at'], now)}"
                if item["brake_released_at"]
                else ""
            )
            held = (
                f", {len(item['held'])} held action(s) waiting for the next cycle"
                if item["held"]
                else ""
            )
            lines.append(f"{item['name']}: brake off{released}{held}")
    return lines


def run_status(args: argparse.Namespace, db: Database) -> int:
    items = collect(db)
    if args.json:
        print(json.dumps({"instances": items}, indent=2, default=str))
    else:
        print("\n".join(render_status(items, time.time())))
    return 0


def run_release(args: argparse.Namespace, db: Database) -> int:
    name = resolve(db, args.name)
    result = release_brake(db, name)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    n = result["released_actions"]
    if result["was_engaged"] or n:
        print(
            f"{name}: brake released; {n} held action(s) go back to the manager, which carries out "
            f"those its rules still decide on its next cycle and skips the rest"
        )
    else:
        print(f"{name}: the brake was not engaged; nothing to release")
    return 0


def run(args: argparse.Namespace, home: Home) -> int:
    absent = store.missing(home)
    if absent is not None:
        print(
            f"qbarr brake: no database at {absent} (start the suite with `qbarr run`)",
            file=sys.stderr,
        )
        return EX_FAIL
    db = dbmod.connect(store.location(home))
    try:
        if args.brake_command == "release":
            return run_release(args, db)
        return run_status(args, db)
    except BrakeError as exc:
        print(f"qbarr brake: {exc}", file=sys.stderr)
        return EX_FAIL
    finally:
        db.close()
