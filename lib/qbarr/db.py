"""The shared SQLite database: connections, the write transaction, migrations.

Every program opens its own connection (never across a fork) with WAL, a 30 s busy
timeout, ``synchronous=NORMAL`` and foreign keys on. The connection runs in autocommit
mode (``isolation_level=None``) so that *we* open every write transaction, always with
``BEGIN IMMEDIATE``: a deferred BEGIN that later writes fails at once with "database is
locked" when another process committed in between (measured: 70 % failures with 8
writers). sqlite-utils is the access layer; its ``atomic()`` opens deferred transactions,
so writers use :func:`write_txn` instead. Reads are fully fetched (``list(...)``) because a
half-read cursor pins the WAL.

Schema changes are numbered migrations in :mod:`qbarr.schema`, tracked in
``PRAGMA user_version``.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from qbarr.schema import MIGRATIONS

BUSY_TIMEOUT_S = 30.0


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database with the pragmas every qbarr connection uses."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn, execute_plugins=False)


@contextlib.contextmanager
def write_txn(db: sqlite_utils.Database, retries: int = 3) -> Iterator[sqlite_utils.Database]:
    """One short write transaction opened with ``BEGIN IMMEDIATE``.

    The BEGIN itself is retried a few times with jitter if even the 30 s busy timeout
    expires (a rare pathological storm); the body is never re-run. No network call may
    happen inside the block.
    """
    for attempt in range(retries):
        try:
            db.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == retries - 1:
                raise
            time.sleep(random.uniform(0.05, 0.5))
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.commit()


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every migration newer than ``PRAGMA user_version``; returns the new version."""
    with write_txn(db):
        current = schema_version(db)
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            for statement in migration:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    return schema_version(db)


def open_migrated(path: str | Path) -> sqlite_utils.Database:
    """Connect and make sure the schema is current (cheap when it already is)."""
    db = connect(path)
    if schema_version(db) < len(MIGRATIONS):
        migrate(db)
    return db


def rows(db: sqlite_utils.Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    """Run a read query and fetch every row as a dict (never a half-read cursor)."""
    return list(db.query(sql, params))
