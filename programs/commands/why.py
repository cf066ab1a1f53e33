"""`qbarr why HASH`: a torrent's decision history from the journal, as a timeline.

Every decision a manager recorded for the torrent (rule, reason, the inputs it looked at),
each with the actions it planned and what became of them (done / failed / held / skipped,
result, attempts), then the searches sent for it (the ``searches`` table). ``HASH`` may be
the full info-hash or a unique prefix of at least 6 characters (any case). ``HASH`` may
also be an item key of the search program (``movie:12``, ``series:7``, ``episode:40``,
``album:3``, ``artist:2``): its searches and its temporary quality profiles (rule
``temp-profile``: the switch, the switch-back and why). ``--json`` prints the same data for
scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import Any

from qbarr import db as dbmod
from qbarr import history, store
from qbarr.config import slugify
from qbarr.db import Database
from qbarr.journal import DRY_PREFIX
from qbarr.paths import Home
from qbarr.search.status import format_history
from qbarr.units import format_duration, format_size

from .common import EX_FAIL

NAME = "why"
HELP = "show why qbarr did what it did to a torrent: every decision, its inputs and actions"
MIN_PREFIX = 6
ITEM_KEY = history.ITEM_KEY

# Inputs shown first, in this order; the others follow sorted by name.
INPUT_ORDER = (
    "state",
    "category",
    "progress",
    "amount_left",
    "eta",
    "availability",
    "ratio",
    "seeding_time",
    "age",
    "stalled_for",
    "slow_strikes",
    "tracker",
    "obligation",
    "content_shared",
    "arr",
)
DURATION_INPUTS = frozenset({"eta", "seeding_time", "age", "stalled_for", "seeding_time_limit"})
SIZE_INPUTS = frozenset({"amount_left", "needs", "budget", "free_space"})


class WhyError(Exception):
    """The hash is unknown, ambiguous or malformed (message for the operator)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "hash",
        metavar="HASH",
        help="the torrent's info-hash (or a unique prefix, 6+ characters), "
        "or an item key such as movie:12 or series:7",
    )
    parser.add_argument(
        "--instance", metavar="NAME", help="only this Arr instance (section name or slug)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")


# -- reading ------------------------------------------------------------------------------


def resolve_hash(db: Database, text: str) -> str:
    """The full lower-case hash for a hash or a unique prefix (raises WhyError)."""
    needle = text.strip().lower()
    if ITEM_KEY.match(needle):
        return needle
    if len(needle) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in needle):
        raise WhyError(
            f"{text!r} is not an info-hash (40 hex digits, or a prefix of at least {MIN_PREFIX})"
        )
    if len(needle) == 40:
        return needle
    found = dbmod.rows(
        db,
        "SELECT hash FROM torrents WHERE hash LIKE ? UNION SELECT hash FROM decisions "
        "WHERE hash LIKE ? UNION SELECT hash FROM searches WHERE hash LIKE ? LIMIT 11",
        (needle + "%",) * 3,
    )
    hashes = sorted({r["hash"] for r in found})
    if not hashes:
        raise WhyError(f"no torrent in the journal starts with {needle}")
    if len(hashes) > 1:
        raise WhyError(
            f"{needle} is ambiguous: "
            + ", ".join(hashes[:10])
            + (" ..." if len(hashes) > 10 else "")
        )
    return hashes[0]


def resolve_instance(db: Database, name: str | None) -> str | None:
    """The instance name as stored (accepts the section name in any case, or its slug)."""
    if name is None:
        return None
    known = {r["name"] for r in dbmod.rows(db, "SELECT name FROM instances")}
    known |= {r["instance"] for r in dbmod.rows(db, "SELECT DISTINCT instance FROM torrents")}
    for candidate in sorted(known):
        if (
            candidate == name
            or candidate.lower() == name.lower()
            or slugify(candidate) == slugify(name)
        ):
            return candidate
    raise WhyError(
        f"no instance {name!r} in the database (known: {', '.join(sorted(known)) or 'none'})"
    )


def collect(db: Database, torrent_hash: str, instance: str | None = None) -> dict[str, Any]:
    """Everything `why` shows (the same reader as the web UI's torrent page)."""
    return history.read(db, torrent_hash, instance)


# -- formatting ---------------------------------------------------------------------------


def when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S")


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if key in DURATION_INPUTS:
            return "unknown" if key == "eta" and value >= 8640000 else format_duration(float(value))
        if key in SIZE_INPUTS:
            return format_size(float(value))
        if key == "progress":
            return f"{float(value) * 100:.1f}%"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{k} {_value(k, v)}" for k, v in value.items() if v is not None) + "}"
        )
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def format_inputs(inputs: Mapping[str, Any]) -> str:
    """``state stalledDL, progress 20.0%, ...``: the inputs a decision looked at, for people."""
    shown = {k: v for k, v in inputs.items() if v is not None}
    keys = [k for k in INPUT_ORDER if k in shown] + sorted(k for k in shown if k not in INPUT_ORDER)
    parts = []
    for key in keys:
        value = shown[key]
        if key == "arr" and isinstance(value, Mapping):
            ids = ",".join(str(i) for i in value.get("queue_ids") or [])
            parts.append(
                f"arr queue {ids or '-'} ({value.get('tracked_state') or '?'}/"
                f"{value.get('tracked_status') or '?'})"
            )
        else:
            parts.append(f"{key} {_value(key, value)}")
    return ", ".join(parts)


def format_action(a: Mapping[str, Any]) -> str:
    """One action line: kind, status, attempts, when, result (and the brake's part in it)."""
    bits = [f"{a['kind']:<12} {a['status']:<8}", when(a.get("updated_at"))]
    if str(a["key"]).startswith(DRY_PREFIX):
        bits.insert(1, "(dry run)")
    if a.get("attempts", 0) > 1:
        bits.append(f"after {a['attempts']} attempts")
    if a.get("released_at"):
        bits.append(f"released from the brake {when(a['released_at'])}")
    detail = _params(a)
    if detail:
        bits.append(detail)
    if a.get("result"):
        bits.append(f"-> {a['result']}")
    return "  ".join(bits)


def _params(a: Mapping[str, Any]) -> str:
    p = a.get("params") or {}
    if a["kind"] == "import":
        return f"path {p.get('path')} (importMode {p.get('import_mode', 'Auto')})"
    if a["kind"] == "delete":
        return "with its files" if p.get("delete_files") else "files kept"
    if a["kind"] == "search":
        media = ", ".join(f"{k} {v}" for m in p.get("media", []) for k, v in m.items())
        return f"for {media}" if media else ""
    if a["kind"] == "file_prio":
        return (
            f"files {','.join(str(i) for i in p.get('file_ids', []))} "
            f"-> priority {p.get('priority', 0)}"
        )
    if a["kind"] == "set_category":
        return f"category {p.get('category')!r}"
    if a["kind"] == "set_profile":
        return (
            f"quality profile {p.get('expect')} -> {p.get('profile_id')} ({p.get('profile_name')})"
        )
    return ""


def _current(t: Mapping[str, Any]) -> list[str]:
    where = (
        f"gone from qBittorrent since {when(t['gone_at'])}"
        if t.get("gone_at")
        else f"in qBittorrent: {t.get('state') or '?'}, "
        f"{float(t.get('progress') or 0) * 100:.1f}%, "
        f"ratio {float(t.get('ratio') or 0):.2f}, category {t.get('category') or '-'}"
    )
    lines = [
        f"[{t['instance']}] {t.get('name') or '(no name)'}",
        f"  now: {where}",
        f"  last decision: {t.get('last_rule') or '-'}: {t.get('last_reason') or '-'} "
        f"({when(t.get('last_decided_at'))})",
        f"  first seen {when(t.get('first_seen'))}"
        + (f", stalled since {when(t['stalled_since'])}" if t.get("stalled_since") else "")
        + (f", import sent {when(t['import_sent_at'])}" if t.get("import_sent_at") else "")
        + (f", failed {when(t['failed_at'])}" if t.get("failed_at") else "")
        + (", paused by qbarr" if t.get("paused_by_qbarr") else ""),
    ]
    return lines


def render_text(data: Mapping[str, Any]) -> list[str]:
    """The timeline for people (what `qbarr why` prints without --json)."""
    what = "item" if ITEM_KEY.match(str(data["hash"])) else "torrent"
    lines = [f"{what} {data['hash']}"]
    for t in data["torrents"]:
        lines += _current(t)
    if data["decisions"]:
        lines.append("decisions (oldest first):")
    for d in data["decisions"]:
        flag = "  [dry run]" if d.get("dry_run") else ""
        code = d.get("code")
        rule = f"{d['rule']} ({code})" if code else d["rule"]
        lines.append(f"{when(d['at'])}  [{d['instance']}] {rule}{flag}: {d['reason']}")
        lines.append(f"    inputs: {format_inputs(d.get('inputs') or {})}")
        for i, a in enumerate(d.get("actions") or [], 1):
            lines.append(f"    {i}. {format_action(a)}")
    if data["searches"]:
        lines.append("searches for it:")
        lines += ["  " + line for line in format_history(data["searches"])]
    return lines


def run(args: argparse.Namespace, home: Home) -> int:
    absent = store.missing(home)
    if absent is not None:
        print(
            f"qbarr why: no database at {absent} (start the suite with `qbarr run`)",
            file=sys.stderr,
        )
        return EX_FAIL
    db = dbmod.connect(store.location(home))
    try:
        torrent_hash = resolve_hash(db, args.hash)
        instance = resolve_instance(db, args.instance)
        data = collect(db, torrent_hash, instance)
    except WhyError as exc:
        print(f"qbarr why: {exc}", file=sys.stderr)
        return EX_FAIL
    finally:
        db.close()
    if history.is_empty(data):
        where = f" for instance {instance}" if instance else ""
        print(
            f"qbarr why: nothing recorded about {torrent_hash}{where} "
            "(qbarr never saw it in an Arr "
            f"category, or the journal was pruned)",
            file=sys.stderr,
        )
        return EX_FAIL
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print("\n".join(render_text(data)))
    return 0
