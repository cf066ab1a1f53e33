"""`qbarr db check` / `qbarr db recover` / `qbarr db copy --to LOCATION`: the database itself.

Both act on the database ``[Settings] Database`` names. ``check`` runs the checks ``qbarr
run`` runs (readable, ``PRAGMA quick_check``, schema not newer than this qbarr) and says what
it found; on PostgreSQL: the server answers, every qbarr table reads, the schema is not newer
(:func:`qbarr.pgstore.check`). ``recover`` copies what can still be read from a damaged
SQLite file into a new one and keeps the damaged file beside it, renamed
(:mod:`qbarr.dbrecover`); it refuses while the suite runs, and refuses PostgreSQL (the
server's own tools restore it). ``copy`` moves every row into an
empty database elsewhere, SQLite to PostgreSQL or back (:mod:`qbarr.dbcopy`); it refuses
while any program of this data dir runs, or any lease in the database is live.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
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
    where = _location(home)
    if where is None:
        return EX_CONFIG
    if store.is_postgresql(where):
        return _check_postgresql(str(where))
    path = Path(where)
    if not path.exists():
        print(f"qbarr db: no database at {path} (`qbarr run` creates it)")
        return EX_FAIL
    try:
        dbmod.check_file(path)
    except dbmod.DatabaseUnusable as exc:
        print(f"qbarr db: {exc}", file=sys.stderr)
        return EX_CONFIG
    print(f"{path}: ok (quick_check passed, schema version current or older)")
    return 0


def _location(home: Home) -> store.Location | None:
    """[Settings] Database (None: not a usable value, said on stderr)."""
    try:
        return store.location(home)
    except store.BadLocation as exc:
        print(f"qbarr db: {exc}", file=sys.stderr)
        return None


def _check_postgresql(url: str) -> int:
    from qbarr import pgstore

    shown = store.describe(url)
    try:
        db = pgstore.connect(url)
    except ConnectionError as exc:
        print(f"qbarr db: {shown}: cannot connect ({exc})", file=sys.stderr)
        return EX_FAIL
    try:
        problems = pgstore.check(db)
    except dbmod.unavailable_errors() as exc:  # the server went away meanwhile
        print(f"qbarr db: {shown}: {pgstore.masked(str(exc), url)}", file=sys.stderr)
        return EX_FAIL
    finally:
        db.close()
    if problems:
        print(f"qbarr db: {shown}: {'; '.join(problems)}", file=sys.stderr)
        return EX_CONFIG
    print(f"{shown}: ok (every qbarr table readable, schema version current or older)")
    return 0


def recover(home: Home, force: bool) -> int:
    where = _location(home)
    if where is None:
        return EX_CONFIG
    if store.is_postgresql(where):
        print(
            f"qbarr db recover: {store.describe(where)} is a PostgreSQL database: recover "
            "copies what can be read from a damaged SQLite file; a PostgreSQL server keeps its "
            "own files sound, restore a backup with its own tools (pg_dump / pg_restore, or "
            "point-in-time recovery). `qbarr db check` says whether qbarr can use it",
            file=sys.stderr,
        )
        return EX_FAIL
    path = Path(where)
    if not path.exists():
        print(f"qbarr db: no database at {path}: nothing to recover", file=sys.stderr)
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
        if dbrecover.is_healthy(path) and not force:
            print(f"{path} passes the check: nothing to recover (--force to copy anyway)")
            return 0
        outcome = dbrecover.recover(path)
    except dbmod.SchemaTooNew as exc:
        print(f"qbarr db: {exc}", file=sys.stderr)
        return EX_CONFIG
    finally:
        lock.release()
    for line in outcome.lines():
        print(line)
    print(f"kept the damaged file as {outcome.kept}")
    print(f"{path} is a new file that passes the check; start with `qbarr run`")
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
