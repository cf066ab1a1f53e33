"""``qbarr db copy --to LOCATION``: every row of the database into another engine or file.

From the database the data dir uses now (``[Settings] Database``, :mod:`qbarr.store`) to an
empty one: SQLite to PostgreSQL, and back (``sqlite:////path/qbarr.db``). Everything is
copied: the journal, the memory, searches, crashes, heartbeats, the feeds, the leases. The
target is first migrated to this qbarr's schema; the source must be at it too (every program
migrates it at start). Tables are copied in the order the migrations create them (so a row
referenced by another is there first), in batches, ids included; PostgreSQL's identity
columns then continue after the highest id copied.

The copy refuses (:class:`CopyRefused`) while a program could still write the source: a
program of this data dir runs (its lock file is held, or supervisord runs), or any lease in
the source has not expired (a copy on another host). Point ``[Settings] Database`` at the
target afterwards; the source is left as it was.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qbarr import db as dbmod
from qbarr import store
from qbarr.schema import MIGRATIONS

BATCH = 500
_TABLE = re.compile(r"^\s*CREATE TABLE (\w+)", re.IGNORECASE)


class CopyRefused(Exception):
    """The copy cannot start (the message says why and what to do)."""


@dataclass
class CopyOutcome:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [f"  {table}: {n} row(s)" for table, n in self.counts.items()]


def tables() -> list[str]:
    """Every table of the schema, in the order the migrations create them."""
    found: list[str] = []
    for migration in MIGRATIONS:
        for statement in migration:
            m = _TABLE.match(statement)
            if m and m.group(1) not in found:
                found.append(m.group(1))
    return found


def _version(db: dbmod.Database) -> int:
    if db.dialect == "postgresql":
        from qbarr import pgstore

        return pgstore.schema_version(db)  # type: ignore[arg-type]
    return dbmod.schema_version(db)


def _columns(db: dbmod.Database, table: str) -> list[str]:
    cursor = db.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    return [getattr(d, "name", None) or d[0] for d in cursor.description or ()]


def live_leases(db: dbmod.Database, now: float) -> list[dict]:
    return dbmod.rows(
        db, "SELECT name, host, pid FROM leases WHERE expires_at >= ? ORDER BY name", (now,)
    )


def copy(
    source: store.Location,
    target: store.Location,
    clock: Callable[[], float] = time.time,
) -> CopyOutcome:
    """Copy every row from ``source`` into the empty ``target`` (see the module docstring)."""
    started = time.monotonic()
    src = dbmod.connect(source)
    try:
        if _version(src) != len(MIGRATIONS):
            raise CopyRefused(
                f"{store.describe(source)} has schema version {_version(src)}, this qbarr "
                f"{len(MIGRATIONS)}: start the suite once with this qbarr (it migrates), stop "
                "it, then copy"
            )
        held = live_leases(src, clock())
        if held:
            who = ", ".join(f"{r['name']} (host {r['host']}, pid {r['pid']})" for r in held)
            raise CopyRefused(f"programs still run on this database: {who}; stop them first")
        dst = dbmod.connect(target)
        try:
            if _version(dst) != 0:
                raise CopyRefused(
                    f"{store.describe(target)} already holds a qbarr database (schema version "
                    f"{_version(dst)}): copy into an empty one"
                )
            dst.close()
            dst = dbmod.open_migrated(target)
            outcome = CopyOutcome()
            with dbmod.write_txn(dst):
                for table in tables():
                    outcome.counts[table] = _copy_table(src, dst, table)
                if dst.dialect == "postgresql":
                    _continue_identities(dst)
            outcome.seconds = round(time.monotonic() - started, 2)
            return outcome
        finally:
            dst.close()
    finally:
        src.close()


def _copy_table(src: dbmod.Database, dst: dbmod.Database, table: str) -> int:
    columns = _columns(src, table)
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"
    copied = 0
    cursor = src.execute(f"SELECT {names} FROM {table}")
    while True:
        batch = cursor.fetchmany(BATCH)
        if not batch:
            return copied
        dst.executemany(insert, [tuple(row) for row in batch])
        copied += len(batch)


def _continue_identities(dst: dbmod.Database) -> None:
    """After explicit ids, PostgreSQL's identity columns must continue past the highest."""
    from qbarr.pgstore import IDENTITY_TABLES

    for table in sorted(IDENTITY_TABLES):
        dst.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )
