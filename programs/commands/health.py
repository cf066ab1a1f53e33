"""`qbarr health PROGRAM`: a liveness check an orchestrator can run (exit 0 = alive).

For a manager or a search program (``arr-<slug>``, ``search-<slug>``) it reads the program's
heartbeat row (:mod:`qbarr.heartbeat`): alive when the last beat is younger than ``[Settings]
HeartbeatTimeout`` and the row does not say ``stopped``. That is the rule the watchdog applies
under supervisord, so a probe with this command replaces the watchdog's hang check. The beat
means alive, not "the last cycle finished": a program waiting on a slow Arr still beats.

A copy that waits for another one's lease (the instance runs elsewhere) is alive as long as
the holder beats: the row is the instance's, whoever holds it.

For ``webui`` it asks the web UI's own ``/health`` on ``[WebUI] Host:Port``.

Exit codes: 0 alive, 1 not alive (one line says why), 78 config.ini unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from qbarr import db as dbmod
from qbarr import store
from qbarr.config import Config
from qbarr.paths import Home
from qbarr.units import format_duration

from .common import EX_CONFIG, EX_FAIL, load_or_report

NAME = "health"
HELP = "liveness check of one program (its heartbeat; /health for webui): exit 0 when alive"
PROG = "qbarr health"
HTTP_TIMEOUT = 4.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", help="arr-<slug>, search-<slug> or webui")


def heartbeat_verdict(row: dict | None, timeout: float, now: float) -> tuple[bool, str]:
    """(alive, why) from a program's instances row (None: no row yet)."""
    if row is None:
        return False, "no heartbeat yet (not started, or still starting)"
    age = max(0.0, now - float(row["heartbeat_at"] or 0))
    who = f"pid {row['pid']}, status {row['status']}"
    if row["status"] == "stopped":
        return False, f"stopped ({who})"
    if age > timeout:
        return False, (
            f"last heartbeat {format_duration(age)} ago, over HeartbeatTimeout "
            f"{format_duration(timeout)} ({who})"
        )
    return True, f"alive: last heartbeat {format_duration(age)} ago ({who})"


def check_program(cfg: Config, home: Home, program: str) -> tuple[bool, str]:
    where = store.location(home)
    if not store.is_postgresql(where) and not Path(where).exists():
        return False, f"no database yet ({where})"
    timeout = float(cfg.settings["HeartbeatTimeout"])
    try:
        db = dbmod.connect(where)
    except ConnectionError as exc:
        return False, str(exc)
    try:
        found = dbmod.rows(
            db,
            "SELECT pid, status, heartbeat_at FROM instances WHERE program = ? "
            "ORDER BY heartbeat_at DESC LIMIT 1",
            (program,),
        )
    finally:
        db.close()
    return heartbeat_verdict(found[0] if found else None, timeout, time.time())


def check_webui(cfg: Config) -> tuple[bool, str]:
    host, port = str(cfg.webui["Host"]), int(cfg.webui["Port"])
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: ask over loopback
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as answer:
            body = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"
    return True, f"{url}: {body.get('status', 'ok')}"


def run(args: argparse.Namespace, home: Home) -> int:
    cfg = load_or_report(home.config, PROG)
    if cfg is None:
        return EX_CONFIG
    if args.program == "webui":
        ok, why = check_webui(cfg)
    else:
        ok, why = check_program(cfg, home, args.program)
    print(f"{args.program}: {why}", file=sys.stdout if ok else sys.stderr, flush=True)
    return 0 if ok else EX_FAIL
