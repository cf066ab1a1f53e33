"""The shared SQLite database: connections, the write transaction, migrations.

Every program opens its own connection (never across a fork) with WAL, a 30 s busy
timeout, ``synchronous=NORMAL``, foreign keys on and a small page cache (``CACHE_KIB``).
The connection runs in autocommit
mode (``isolation_level=None``) so that *we* open every write transaction, always with
``BEGIN IMMEDIATE``: a deferred BEGIN that later writes fails at once with "database is
locked" when another process committed in between (measured: 70 % failures with 8
writers), so writers use :func:`write_txn`. Reads are fully fetched (``list(...)``) because a
half-read cursor pins the WAL.

:class:`Database` is the access layer: a connection that answers ``execute`` (a cursor) and
``query`` (rows as dicts). qbarr writes its SQL by hand and used nothing else of
sqlite-utils, whose import (click, pluggy, dateutil, tabulate) cost every program ~9 MB
(PSS) and 50 ms at start for that.

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
from typing import Any

from qbarr.schema import MIGRATIONS

BUSY_TIMEOUT_S = 30.0
# SQLite's page cache per connection (default 2 MiB). The file sits in the kernel's page cache
# anyway, so a bigger private copy only adds to every process's memory (measured: 2 managers
# with 2,000 torrents, -3 MB PSS at 256 KiB, no slower cycle).
CACHE_KIB = 256


class Database:
    """One SQLite connection in autocommit mode (we open every write transaction ourselves)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Any = ()) -> Iterator[dict[str, Any]]:
        """Rows as dicts (column name -> value); use :func:`rows` to fetch them all."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def close(self) -> None:
        self.conn.close()


def connect(path: str | Path) -> Database:
    """Open the database with the pragmas every qbarr connection uses."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    return Database(conn)


@contextlib.contextmanager
def write_txn(db: Database, retries: int = 3) -> Iterator[Database]:
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


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database) -> int:
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


def open_migrated(path: str | Path) -> Database:
    """Connect and make sure the schema is current (cheap when it already is)."""
    db = connect(path)
    if schema_version(db) < len(MIGRATIONS):
        migrate(db)
    return db


def rows(db: Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    """Run a read query and fetch every row as a dict (never a half-read cursor)."""
    return list(db.query(sql, params))
