"""`qbarr db check` / `qbarr db recover` / `qbarr db copy --to LOCATION`: the database itself.

``check`` runs the checks ``qbarr run`` runs (readable, ``PRAGMA quick_check``, schema not
newer than this qbarr) and says what it found. ``recover`` copies what can still be read from
a damaged qbarr.db into a new one and keeps the damaged file beside it, renamed
(:mod:`qbarr.dbrecover`); it refuses while the suite runs. ``copy`` moves every row into an
empty database elsewhere, SQLite to PostgreSQL or back (:mod:`qbarr.dbcopy`); it refuses
while any program of this data dir runs, or any lease in the database is live.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from qbarr import db as dbmod
from qbarr import dbcopy, dbrecover, locks, store
from qbarr.config import EX_CONFIG
from qbarr.paths import Home

from .common import EX_FAIL

NAME = "db"
HELP = (
    "check qbarr.db, recover what can be read from a damaged one, or copy the database to "
    "PostgreSQL (or back)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("check", "recover", "copy"), help="what to do")
    parser.add_argument(
        "--to",
        metavar="LOCATION",
        help="copy: postgresql://user:password@host/db, or sqlite:////absolute/path.db",
    )
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


def copy(home: Home, to: str | None) -> int:
    if not to:
        print("qbarr db copy: --to LOCATION is required", file=sys.stderr)
        return 2
    try:
        source, target = store.location(home), store.parse(to, home)
    except store.BadLocation as exc:
        print(f"qbarr db copy: {exc}", file=sys.stderr)
        return EX_CONFIG
    if store.is_postgresql(target) and urlsplit(str(target)).password:
        print(
            "qbarr db copy: no password on the command line (other users see it in ps): give "
            "the URL without it and set PGPASSWORD, or use ~/.pgpass",
            file=sys.stderr,
        )
        return EX_CONFIG
    if str(source) == str(target):
        print("qbarr db copy: that is the database in use already", file=sys.stderr)
        return EX_FAIL
    try:
        lock = locks.FileLock.named(home, locks.RUN_LOCK).acquire()
    except locks.LockHeld as held:
        print(f"qbarr db copy: the suite runs (pid {held.pid}); stop it first", file=sys.stderr)
        return EX_FAIL
    try:
        running = locks.held_locks(home, exclude=(locks.RUN_LOCK, locks.APPLY_LOCK))
        if running:
            names = ", ".join(f"{n} (pid {pid})" for n, pid in running.items())
            print(f"qbarr db copy: programs still run: {names}; stop them first", file=sys.stderr)
            return EX_FAIL
        outcome = dbcopy.copy(source, target)
    except (dbcopy.CopyRefused, ConnectionError) as exc:
        print(f"qbarr db copy: {exc}", file=sys.stderr)
        return EX_FAIL
    finally:
        lock.release()
    print(f"copied {store.describe(source)} to {store.describe(target)} ({outcome.seconds} s):")
    for line in outcome.lines():
        print(line)
    print("now set [Settings] Database to the new location; the old one was left as it was")
    return 0


def run(args: argparse.Namespace, home: Home) -> int:
    if args.action == "check":
        return check(home)
    if args.action == "copy":
        return copy(home, args.to)
    return recover(home, args.force)
