"""`qbarr db copy --to`: SQLite -> PostgreSQL -> SQLite keeps every row; refusals."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr import dbcopy, locks, pgstore
from qbarr.paths import Home


def populate(db: dbmod.Database) -> None:
    """A few rows in tables of every kind: ids referenced by other rows, composite keys,
    JSON text, times with sub-seconds, NULLs."""
    with dbmod.write_txn(db):
        for i in range(1, 4):
            db.execute(
                "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, at) "
                "VALUES (?, ?, ?, 'stalled', 'no progress', ?, ?)",
                ("Radarr-Main", f"{i:040x}", f"Movie {i}", '{"ratio": 0.5}', 1764627000.25 + i),
            )
            db.execute(
                "INSERT INTO actions (decision_id, instance, hash, kind, key, params, status, "
                "created_at, updated_at) VALUES (?, 'Radarr-Main', ?, 'import', ?, '{}', 'done', "
                "1.5, 2.5)",
                (i, f"{i:040x}", f"import:{i:040x}"),
            )
        db.execute(
            "INSERT INTO instances (name, kind, program, pid, status, heartbeat_at) "
            "VALUES ('Radarr-Main', 'radarr', 'arr-radarr-main', 42, 'stopped', 1764627000.5)"
        )
        db.execute(
            "INSERT INTO qbt_torrents (client, hash, seq, category, data) "
            "VALUES ('qBittorrent', 'ab', 7, 'radarr', '{\"state\": \"stalledUP\"}')"
        )
        db.execute(
            "INSERT INTO leases (name, holder, host, pid, since, renewed_at, expires_at) "
            "VALUES ('arr-radarr-main', 'ns/42/x', 'vm', 42, 1.0, 2.0, 3.0)"  # long expired
        )


def everything(db: dbmod.Database) -> dict[str, list[dict]]:
    out = {}
    for table in dbcopy.tables():
        found = dbmod.rows(db, f"SELECT * FROM {table}")
        out[table] = sorted(found, key=lambda r: [str(v) for v in r.values()])
    return out


def qbarr(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qbarr_programs.cli", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sqlite_to_postgresql_and_back_keeps_every_row(tmp_path: Path, pg_cluster) -> None:
    home = Home(tmp_path / "home")
    home.ensure()
    home.config.write_text(
        "[qBittorrent]\nURL = http://127.0.0.1:9\n[WebUI]\nToken = t0123456789\n"
    )
    lite = dbmod.open_migrated(home.database)
    populate(lite)
    before = everything(lite)
    lite.close()
    url = pg_cluster.create_database("copy_to")
    done = qbarr(home, "db", "copy", "--to", url)
    assert done.returncode == 0, done.stderr
    assert "decisions: 3 row(s)" in done.stdout
    pg = pgstore.connect(url)
    try:
        assert everything(pg) == before
        with dbmod.write_txn(pg):  # new rows continue after the copied ids
            new = pg.execute(
                "INSERT INTO decisions (instance, hash, rule, reason, at) "
                "VALUES ('x', 'h', 'r', 'why', 1)"
            ).lastrowid
        assert new == 4
        with dbmod.write_txn(pg):
            pg.execute("DELETE FROM decisions WHERE id = 4")
    finally:
        pg.close()
    back = tmp_path / "back.db"
    dbcopy.copy(url, back)
    again = dbmod.connect(back)
    try:
        assert everything(again) == before
    finally:
        again.close()


def test_copy_refuses_while_anything_may_write(tmp_path: Path, pg_cluster) -> None:
    home = Home(tmp_path / "home")
    home.ensure()
    home.config.write_text(
        "[qBittorrent]\nURL = http://127.0.0.1:9\n[WebUI]\nToken = t0123456789\n"
    )
    lite = dbmod.open_migrated(home.database)
    populate(lite)
    url = pg_cluster.create_database("copy_refused")
    # a program of this data dir runs
    with locks.FileLock.named(home, "arr-radarr-main"):
        held = qbarr(home, "db", "copy", "--to", url)
    assert held.returncode == 1 and "arr-radarr-main" in held.stderr, held.stderr
    # a copy on another host holds a live lease
    with dbmod.write_txn(lite):
        lite.execute("UPDATE leases SET expires_at = ?, host = 'node-2'", (time.time() + 60,))
    with pytest.raises(dbcopy.CopyRefused, match="node-2"):
        dbcopy.copy(home.database, url)
    with dbmod.write_txn(lite):
        lite.execute("UPDATE leases SET expires_at = 1")
    lite.close()
    # no password on the command line
    secret = qbarr(
        home, "db", "copy", "--to", url.replace("postgresql:///", "postgresql://qbarr:pw-1@/")
    )
    assert secret.returncode == 78 and "PGPASSWORD" in secret.stderr
    assert "pw-1" not in secret.stderr
    # the target must be empty
    assert qbarr(home, "db", "copy", "--to", url).returncode == 0
    again = qbarr(home, "db", "copy", "--to", url)
    assert again.returncode == 1 and "already holds" in again.stderr, again.stderr
