"""`qbarr db check` / `qbarr db recover`: the database file itself.

``check`` runs the checks ``qbarr run`` runs (readable, ``PRAGMA quick_check``, schema not
newer than this qbarr) and says what it found. ``recover`` copies what can still be read from
a damaged qbarr.db into a new one and keeps the damaged file beside it, renamed
(:mod:`qbarr.dbrecover`); it refuses while the suite runs.
"""

from __future__ import annotations

import argparse
import sys

from qbarr import db as dbmod
from qbarr import dbrecover, locks
from qbarr.config import EX_CONFIG
from qbarr.paths import Home

from .common import EX_FAIL

NAME = "db"
HELP = "check qbarr.db, or recover what can be read from a damaged one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("check", "recover"), help="what to do")
    parser.add_argument(
        "--force", action="store_true", help="recover even when the file passes the check"
    )


def check(home: Home) -> int:
    if not home.database.exists():
        print(f"qbarr db: no database at {home.database} (`qbarr run` creates it)")
        return EX_FAIL
    try:
        dbmod.check_file(home.database)
    except dbmod.DatabaseUnusable as exc:
        print(f"qbarr db: {exc}", file=sys.stderr)
        return EX_CONFIG
    print(f"{home.database}: ok (quick_check passed, schema version current or older)")
    return 0


def recover(home: Home, force: bool) -> int:
    if not home.database.exists():
        print(f"qbarr db: no database at {home.database}: nothing to recover", file=sys.stderr)
        return EX_FAIL
    try:
        lock = locks.FileLock.named(home, locks.RUN_LOCK).acquire()
    except locks.LockHeld as held:
        print(
            f"qbarr db: the suite runs for {home.root} (pid {held.pid}); stop it first",
            file=sys.stderr,
        )
        return EX_FAIL
    try:
        if dbrecover.is_healthy(home.database) and not force:
            print(f"{home.database} passes the check: nothing to recover (--force to copy anyway)")
            return 0
        outcome = dbrecover.recover(home.database)
    except dbmod.SchemaTooNew as exc:
        print(f"qbarr db: {exc}", file=sys.stderr)
        return EX_CONFIG
    finally:
        lock.release()
    for line in outcome.lines():
        print(line)
    print(f"kept the damaged file as {outcome.kept}")
    print(f"{home.database} is a new file that passes the check; start with `qbarr run`")
    return 0


def run(args: argparse.Namespace, home: Home) -> int:
    if args.action == "check":
        return check(home)
    return recover(home, args.force)
