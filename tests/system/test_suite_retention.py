"""Retention in the running suite: `qbarr run` switches an older qbarr.db to incremental
vacuum, and the watchdog prunes what is older than JournalRetention, keeping the
exactly-once keys of torrents still in qBittorrent."""

from __future__ import annotations

import sqlite3
import time

import pytest

from qbarr import db as dbmod
from qbarr.paths import Home
from tests.system.conftest import Suite, config_text, default_arrs, short_home

pytestmark = pytest.mark.system

DAY = 86400.0


def old_database(home: Home) -> None:
    """A qbarr.db made before auto_vacuum was set, with a year of history in it."""
    home.root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(home.database) as conn:
        conn.execute("CREATE TABLE early (x)")
        conn.execute("DROP TABLE early")
    db = dbmod.open_migrated(home.database)
    old = time.time() - 400 * DAY
    with dbmod.write_txn(db):
        db.execute(
            "INSERT INTO torrents (instance, hash, first_seen) VALUES ('Radarr-A', 'live', ?)",
            (old,),
        )
        cur = db.execute(
            "INSERT INTO decisions (instance, hash, rule, reason, at) "
            "VALUES ('Radarr-A', 'live', 'import', 'complete', ?)",
            (old,),
        )
        db.execute(
            "INSERT INTO actions (decision_id, instance, hash, kind, key, status, attempts, "
            "created_at, updated_at) VALUES (?, 'Radarr-A', 'live', 'import', 'import:live', "
            "'done', 1, ?, ?)",
            (cur.lastrowid, old, old),
        )
        for i in range(300):
            h = f"gone{i}"
            db.execute(
                "INSERT INTO torrents (instance, hash, first_seen, gone_at) "
                "VALUES ('Radarr-A', ?, ?, ?)",
                (h, old, old + DAY),
            )
            cur = db.execute(
                "INSERT INTO decisions (instance, hash, rule, reason, at) "
                "VALUES ('Radarr-A', ?, 'import', 'complete', ?)",
                (h, old),
            )
            db.execute(
                "INSERT INTO actions (decision_id, instance, hash, kind, key, status, attempts, "
                "created_at, updated_at) VALUES (?, 'Radarr-A', ?, 'import', ?, 'done', 1, ?, ?)",
                (cur.lastrowid, h, f"import:{h}", old, old),
            )
        for i in range(3000):
            db.execute(
                "INSERT INTO decisions (instance, hash, rule, reason, at) "
                "VALUES ('Radarr-A', 'live', 'ok', 'seeding', ?)",
                (old + i,),
            )
            if i % 20 == 0:
                db.execute(
                    "INSERT INTO crashes (program, event, at) VALUES ('arr-radarr-a', 'exited', ?)",
                    (old + i,),
                )
    db.close()


def count(home: Home, sql: str) -> int:
    with sqlite3.connect(home.database) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_the_watchdog_prunes_a_year_of_history_and_keeps_live_keys(suite_factory) -> None:
    home = short_home()
    old_database(home)
    home.config.write_text(config_text(default_arrs(1)))
    suite: Suite = suite_factory(home=home, arrs=1)
    assert count(home, "PRAGMA auto_vacuum") == 2  # qbarr run switched it
    cutoff = time.time() - 90 * DAY

    def pruned() -> bool:
        return (
            count(home, "SELECT COUNT(*) FROM torrents") == 1
            and count(home, f"SELECT COUNT(*) FROM decisions WHERE at < {cutoff}") == 1
            and count(home, f"SELECT COUNT(*) FROM crashes WHERE at < {cutoff}") == 0
        )

    suite.wait_for(pruned, "the watchdog pruning rows older than JournalRetention", timeout=90)
    assert count(home, "SELECT COUNT(*) FROM actions WHERE key = 'import:live'") == 1
    assert count(home, "SELECT COUNT(*) FROM actions WHERE key LIKE 'import:gone%'") == 0
    suite.wait_for(lambda: "pruned qbarr.db" in suite.log("watchdog"), "the summary line")
    line = next(x for x in suite.log("watchdog").splitlines() if "pruned qbarr.db" in x)
    assert "actions 300, crashes 150, decisions 3300" in line and "torrents 300" in line, line
