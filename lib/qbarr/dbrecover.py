"""``qbarr db recover``: copy what can still be read from a damaged qbarr.db into a new file.

SQLite's own ``.recover`` lives in the sqlite3 command-line shell only, so this does it
with Python's sqlite3, in two attempts:

1. ``VACUUM INTO`` a new file: when it works (the damage is in free pages or an index),
   it is a complete copy.
2. Otherwise table by table, row by row in rowid order, in batches. A batch that cannot be
   read marks a damaged range: the copy probes further and further ahead (1, 2, 4 ... rowids)
   until a read succeeds, narrows the gap down, and goes on after it. Only the rows of
   unreadable pages are lost. The new file gets a fresh schema (the damaged file's version,
   made by the same migrations), so indexes are rebuilt from the rows.

The exactly-once keys matter most (``actions``: an import that was sent must never be sent
again), so an action whose decision row was lost keeps its row with ``decision_id`` NULL.
AUTOINCREMENT counters are carried over so that ids are never reused.

Then the damaged file (and its ``-wal``/``-shm``) is renamed ``qbarr.db.damaged-<time>``,
never deleted, and the new file takes the name ``qbarr.db``. Nothing else may have the
database open: the caller holds the data dir lock (``run/supervisord.lock``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from qbarr import db as dbmod
from qbarr.schema import MIGRATIONS

BATCH = 500
SIDE_FILES = ("-wal", "-shm")
MAX_ROWID = 2**62


@dataclass
class Outcome:
    """What a recovery did."""

    method: str  # "vacuum into" or "row by row"
    copied: dict[str, int] = field(default_factory=dict)
    damaged_ranges: dict[str, int] = field(default_factory=dict)
    unreadable_tables: list[str] = field(default_factory=list)
    kept: Path | None = None
    version: int = 0

    @property
    def total(self) -> int:
        return sum(self.copied.values())

    def lines(self) -> list[str]:
        counts = ", ".join(f"{t} {n}" for t, n in sorted(self.copied.items()))
        out = [f"copied {self.total} rows ({self.method}): {counts or 'none'}"]
        for table, ranges in sorted(self.damaged_ranges.items()):
            out.append(f"{table}: {ranges} unreadable range(s) skipped; their rows are lost")
        if self.unreadable_tables:
            out.append(f"nothing readable in: {', '.join(sorted(self.unreadable_tables))}")
        return out


def is_healthy(path: Path) -> bool:
    try:
        dbmod.check_file(path)
    except dbmod.SchemaTooNew:
        return True  # readable; not ours to repair
    except dbmod.DatabaseUnusable:
        return False
    return True


def recover(path: Path, now: float | None = None) -> Outcome:
    """Recover ``path`` into a new file at the same place; returns what was done.

    Raises:
        dbmod.SchemaTooNew: the damaged file says it comes from a newer qbarr.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    fresh = path.with_name(f"{path.name}.recovering")
    _remove(fresh)
    outcome = _vacuum_into(path, fresh) or _row_by_row(path, fresh)
    _match_owner(path, fresh)
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in SIDE_FILES:  # the WAL belongs to the damaged file: it moves with it
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{kept}{suffix}"))
    os.replace(path, kept)
    os.replace(fresh, path)
    outcome.kept = kept
    return outcome


def _remove(path: Path) -> None:
    for name in (str(path), *(f"{path}{s}" for s in SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _source(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=dbmod.BUSY_TIMEOUT_S)
    conn.execute("PRAGMA query_only = ON")  # never write into the damaged file
    return conn


def _source_version(src: sqlite3.Connection) -> int:
    try:
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError:
        return len(MIGRATIONS)
    dbmod.refuse_newer("the damaged database", version)
    return version or len(MIGRATIONS)


def _vacuum_into(path: Path, fresh: Path) -> Outcome | None:
    try:
        src = _source(path)
        try:
            version = _source_version(src)
            src.execute("VACUUM INTO ?", (str(fresh),))
        finally:
            src.close()
    except sqlite3.DatabaseError:
        _remove(fresh)
        return None
    if not is_healthy(fresh):
        _remove(fresh)
        return None
    out = Outcome("vacuum into", version=version)
    import sqlite_utils  # the operator's command only: the programs never load it

    with contextlib.closing(sqlite3.connect(str(fresh))) as conn:
        tables = sqlite_utils.Database(conn).tables
        out.copied = {t.name: t.count for t in tables if not t.name.startswith("sqlite_")}
    return out


def _tables(conn: sqlite3.Connection) -> list[str]:
    """The file's own tables (sqlite-utils' introspection: qbarr's operator commands use it;
    the long-running programs do not import it, see qbarr.db)."""
    import sqlite_utils

    names = sqlite_utils.Database(conn).table_names()
    return sorted(n for n in names if not n.startswith("sqlite_"))


def _row_by_row(path: Path, fresh: Path) -> Outcome:
    src = _source(path)
    dest = dbmod.connect(fresh)
    try:
        version = _source_version(src)
        dbmod.migrate(dest, target=version)
        dest.execute("PRAGMA foreign_keys = OFF")  # a lost decision must not lose its actions
        out = Outcome("row by row", version=version)
        for table in _tables(dest.conn):
            _copy_table(src, dest.conn, table, out)
        _fix_references(dest.conn)
        _carry_sequences(src, dest.conn)
        dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        src.close()
        dest.close()
    return out


def _copy_table(
    src: sqlite3.Connection, dest: sqlite3.Connection, table: str, out: Outcome
) -> None:
    import sqlite_utils

    columns = list(sqlite_utils.Database(dest)[table].columns_dict)
    try:
        have = set(sqlite_utils.Database(src)[table].columns_dict)
    except sqlite3.DatabaseError:
        have = set()
    columns = [c for c in columns if c in have]
    if not columns:
        out.unreadable_tables.append(table)
        return
    names = ", ".join(f'"{c}"' for c in columns)
    select = f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?'
    insert = (
        f'INSERT OR IGNORE INTO "{table}" (rowid, {names}) '
        f"VALUES ({', '.join('?' * (len(columns) + 1))})"
    )
    after, copied, ranges = -(2**63), 0, 0
    while True:
        try:
            batch = src.execute(select, (after, BATCH)).fetchall()
        except sqlite3.DatabaseError:
            ranges += 1
            nxt = _next_readable(src, select, after)
            if nxt is None:
                break
            after = nxt - 1  # > the old value: the loop always moves on
            continue
        if not batch:
            break
        dest.execute("BEGIN IMMEDIATE")
        dest.executemany(insert, batch)
        dest.execute("COMMIT")
        copied += len(batch)
        after = batch[-1][0]
    out.copied[table] = copied
    if ranges:
        out.damaged_ranges[table] = ranges
    if not copied and ranges:
        out.unreadable_tables.append(table)


def _readable_from(src: sqlite3.Connection, select: str, start: int) -> int | None:
    """The first rowid >= start if a whole batch from there reads (every column: a damaged
    record only shows when its payload is read), else None."""
    try:
        batch = src.execute(select, (start - 1, BATCH)).fetchall()
    except sqlite3.DatabaseError:
        return None
    return int(batch[0][0]) if batch else MAX_ROWID


def _next_readable(src: sqlite3.Connection, select: str, after: int) -> int | None:
    """Skip the unreadable range after rowid ``after``: the smallest rowid from which a batch
    reads again, or None when nothing after it is readable."""
    base = max(after, 0)
    step, bad = 1, base
    good: int | None = None
    while base + step < MAX_ROWID:
        if _readable_from(src, select, base + step) is not None:
            good = base + step
            break
        bad = base + step
        step *= 2
    if good is None:
        return None
    while good - bad > 1:  # narrow the gap: lose as few rows as possible
        mid = (good + bad) // 2
        if _readable_from(src, select, mid) is not None:
            good = mid
        else:
            bad = mid
    first = _readable_from(src, select, good)
    return None if first is None or first == MAX_ROWID else first


def _fix_references(dest: sqlite3.Connection) -> None:
    dest.execute("BEGIN IMMEDIATE")
    dest.execute(
        "UPDATE actions SET decision_id = NULL WHERE decision_id IS NOT NULL "
        "AND decision_id NOT IN (SELECT id FROM decisions)"
    )
    dest.execute("COMMIT")


def _carry_sequences(src: sqlite3.Connection, dest: sqlite3.Connection) -> None:
    """Keep AUTOINCREMENT counters at least where they were: ids are never reused."""
    try:
        seqs = src.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.DatabaseError:
        return
    dest.execute("BEGIN IMMEDIATE")
    for name, seq in seqs:
        dest.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name))
        dest.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
            (name, seq, name),
        )
    dest.execute("COMMIT")


def _match_owner(old: Path, new: Path) -> None:
    try:
        st = old.stat()
        os.chmod(new, st.st_mode & 0o777)
        if os.geteuid() == 0:
            os.chown(new, st.st_uid, st.st_gid)
    except OSError:
        pass
