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
``PRAGMA user_version``. A file written by a newer qbarr (a higher version than this one
knows) is refused, never downgraded (:class:`SchemaTooNew`).

A full disk makes writes fail with :func:`is_storage_error` errors; :func:`write_txn` rolls
back whatever it began, and the programs wait until space returns
(:func:`qbarr.runtime.run_loop`).

``qbarr run`` checks the file before anything starts (:func:`check_file`): not a database,
unreadable, damaged (``PRAGMA quick_check``) or too new means a clear one-line refusal,
exit 78, and the file left as it is (``qbarr db recover``, :mod:`qbarr.dbrecover`, saves
what can be read). It also switches an older file to incremental vacuum once
(:func:`ensure_incremental_vacuum`), so that the space pruned rows leave
(:mod:`qbarr.retention`) can be given back to the filesystem a little at a time.
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
QUICK_CHECK_LINES = 3
SQLITE_IOERR = 10
SQLITE_FULL = 13
AUTO_VACUUM_INCREMENTAL = 2
SQLITE_CORRUPT = 11


class DatabaseUnusable(Exception):
    """qbarr.db cannot be used as it is; the message says why and what to do (one line)."""


class SchemaTooNew(DatabaseUnusable):
    """qbarr.db was written by a newer qbarr (a schema version this one does not know)."""


# SQLite's page cache per connection (default 2 MiB). The file sits in the kernel's page cache
# anyway, so a bigger private copy only adds to every process's memory (measured: 2 managers
# with 2,000 torrents, -3 MB PSS at 256 KiB, no slower cycle).
CACHE_KIB = 256


class Database:
    """One SQLite connection in autocommit mode (we open every write transaction ourselves)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def executemany(self, sql: str, params: Any) -> None:
        self.conn.executemany(sql, params)

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
    """Open the database with the pragmas every qbarr connection uses. A PostgreSQL URL
    (:mod:`qbarr.store`) opens a :class:`qbarr.pgstore.PgDatabase` instead."""
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        from qbarr import pgstore

        return pgstore.connect(path)  # type: ignore[return-value]
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    # A new file only (it must come before WAL writes the first page; setting it on an
    # existing file is a write, which fails on a full disk); older files are switched once
    # by ensure_incremental_vacuum().
    if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
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
    happen inside the block. A PostgreSQL connection (:mod:`qbarr.pgstore`) takes its own
    path: one advisory lock where SQLite takes its write lock.
    """
    if getattr(db, "dialect", None) == "postgresql":
        from qbarr import pgstore

        with pgstore.write_txn(db) as pg:  # type: ignore[arg-type]
            yield pg  # type: ignore[misc]
        return
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
    try:
        db.conn.commit()
    except BaseException:
        # A COMMIT that fails (a full disk) may leave the transaction open: end it, so that
        # the connection can begin the next one once the cause is gone.
        if db.conn.in_transaction:
            db.conn.rollback()
        raise


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """The exception types that may mean "the database cannot be written now" (for
    ``except``; :func:`is_storage_error` then tells): SQLite's, and psycopg's once loaded."""
    import sys

    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (sqlite3.OperationalError,)
    return (sqlite3.OperationalError, psycopg.OperationalError)


def is_server_error(exc: BaseException) -> bool:
    """True when a PostgreSQL server cannot be reached (down, restarting, network): a state to
    wait in, like a full disk; the connection reconnects at its next use (qbarr.pgstore)."""
    import sys

    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


def is_storage_error(exc: BaseException) -> bool:
    """True for SQLite's "database or disk is full" and "disk I/O error" (a full disk shows
    as either), and for a PostgreSQL server out of reach: a state to wait in until it passes,
    not a bug."""
    if is_server_error(exc):
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (SQLITE_FULL, SQLITE_IOERR)
    text = str(exc)
    return "disk is full" in text or "disk I/O error" in text


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, target: int | None = None) -> int:
    """Apply every migration newer than ``PRAGMA user_version`` (up to ``target``, default
    all); returns the new version."""
    target = len(MIGRATIONS) if target is None else target
    with write_txn(db):
        current = schema_version(db)
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number <= current or number > target:
                continue
            for statement in migration:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    return schema_version(db)


def open_migrated(path: str | Path) -> Database:
    """Connect and make sure the schema is current (cheap when it already is).

    Raises:
        SchemaTooNew: the file comes from a newer qbarr (it is left untouched).
    """
    db = connect(path)
    if db.dialect == "postgresql":
        from qbarr import pgstore

        pgstore.migrate(db)  # type: ignore[arg-type]
        return db
    try:
        refuse_newer(path, schema_version(db))
    except SchemaTooNew:
        db.close()
        raise
    if schema_version(db) < len(MIGRATIONS):
        migrate(db)
    return db


def refuse_newer(path: str | Path, version: int) -> None:
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"{path} has schema version {version}, but this qbarr knows versions up to "
            f"{len(MIGRATIONS)}: it was written by a newer qbarr. Install that version again "
            "(or restore a backup of the file); qbarr never downgrades a database"
        )


def check_file(path: str | Path) -> None:
    """Refuse a file that qbarr cannot use: unreadable, not SQLite, damaged, or too new.

    A missing file is fine (it gets created). The check opens the file without changing it.

    Raises:
        DatabaseUnusable: one line that names the file, the problem and what to do.
    """
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        return  # the server checks its own files
    path = Path(path)
    if not path.exists():
        return
    recover = "`qbarr db recover` copies what can still be read into a new file"
    version = 0
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            problems = [" ".join(str(r[0]).split()) for r in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_CORRUPT:
            problems = [str(exc)]
        else:
            raise DatabaseUnusable(
                f"{path} is not a readable SQLite database ({exc}); nothing was started and "
                f"the file was left as it is: {recover} (the old one is kept), or move the "
                "file away to start with an empty database"
            ) from None
    if problems != ["ok"]:
        shown = "; ".join(p.strip("* ") for p in problems[:QUICK_CHECK_LINES])
        more = f" (and {len(problems) - QUICK_CHECK_LINES} more)" if len(problems) > 3 else ""
        raise DatabaseUnusable(
            f"{path} is damaged (PRAGMA quick_check: {shown}{more}); nothing was started and "
            f"the file was left as it is: {recover} (the damaged one is kept), or restore a "
            "backup"
        )
    refuse_newer(path, version)


def ensure_incremental_vacuum(path: str | Path) -> bool:
    """Switch an older file to ``auto_vacuum = INCREMENTAL`` (a one-time VACUUM); True when
    it did. Needs about the file's size in free space; run it while nothing else has the
    database open (``qbarr run`` does, before it starts supervisord)."""
    db = connect(path)
    try:
        mode = int(db.execute("PRAGMA auto_vacuum").fetchone()[0])
        if mode == AUTO_VACUUM_INCREMENTAL:
            return False
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")  # rewrites the file in the new mode
        return True
    finally:
        db.close()


def rows(db: Database, sql: str, params: tuple | dict = ()) -> list[dict]:
    """Run a read query and fetch every row as a dict (never a half-read cursor)."""
    return list(db.query(sql, params))
