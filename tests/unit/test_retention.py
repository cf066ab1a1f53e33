"""Retention: what is pruned and what must stay (the exactly-once keys), in small batches,
and the space given back (incremental vacuum)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr import retention

DAY = 86400.0
NOW = 1_700_000_000.0
KEEP = 90 * DAY


def ago(days: float) -> float:
    return NOW - days * DAY


@pytest.fixture
def db(engine, tmp_path: Path):
    """Every test that takes it runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    database = engine.open(tmp_path / "qbarr.db")
    try:
        yield database
    finally:
        database.close()


def torrent(db, hash_: str, gone_days: float | None) -> None:
    gone = None if gone_days is None else ago(gone_days)
    db.execute(
        "INSERT INTO torrents (instance, hash, first_seen, gone_at) VALUES ('R', ?, ?, ?)",
        (hash_, ago(400), gone),
    )


def decision(db, hash_: str, days: float, rule: str = "ok") -> int:
    cur = db.execute(
        "INSERT INTO decisions (instance, hash, rule, reason, at) VALUES ('R', ?, ?, 'r', ?)",
        (hash_, rule, ago(days)),
    )
    return int(cur.lastrowid)


def action(db, hash_: str, days: float, status: str = "done", attempts: int = 1) -> int:
    did = decision(db, hash_, days, "import")
    key = f"import:{hash_}:{status}:{attempts}"
    cur = db.execute(
        "INSERT INTO actions (decision_id, instance, hash, kind, key, status, attempts, "
        "created_at, updated_at) VALUES (?, 'R', ?, 'import', ?, ?, ?, ?, ?)",
        (did, hash_, key, status, attempts, ago(days), ago(days)),
    )
    return int(cur.lastrowid)


def ids(db, sql: str) -> set:
    return {r[0] for r in db.execute(sql).fetchall()}


def test_prune_keeps_exactly_once_keys_while_the_torrent_exists(db) -> None:
    with dbmod.write_txn(db):
        torrent(db, "live", None)
        live_action = action(db, "live", 200)  # imported 200 days ago, still seeding
        old_ok = {decision(db, "live", 200) for _ in range(10)}
        torrent(db, "gone-long", 100)
        action(db, "gone-long", 150)
        torrent(db, "gone-recent", 10)
        recent_action = action(db, "gone-recent", 100)
        torrent(db, "gone-unfinished", 100)
        held = action(db, "gone-unfinished", 100, status="held")
        retrying = action(db, "gone-unfinished", 100, status="failed", attempts=2)
        given_up = action(db, "gone-unfinished", 100, status="failed", attempts=5)
        torrent(db, "gone-empty", 100)
        for days in (400, 100, 1):
            db.execute(
                "INSERT INTO crashes (program, event, at) VALUES ('arr-r', 'exited', ?)",
                (ago(days),),
            )
        db.execute(
            "INSERT INTO requests (instance, hash, kind, created_at, done_at) "
            "VALUES ('R', 'live', 'protect', ?, ?), ('R', 'live', 'protect', ?, NULL)",
            (ago(200), ago(200), ago(200)),
        )
    pruned = retention.prune(db, NOW, KEEP)
    assert pruned.done
    assert ids(db, "SELECT id FROM actions") == {live_action, recent_action, held, retrying}
    assert given_up not in ids(db, "SELECT id FROM actions")
    assert ids(db, "SELECT hash FROM torrents") == {"live", "gone-recent", "gone-unfinished"}
    kept_decisions = ids(db, "SELECT decision_id FROM actions")
    assert ids(db, "SELECT id FROM decisions") == kept_decisions  # old_ok and gone-long's went
    assert not old_ok & ids(db, "SELECT id FROM decisions")
    assert len(ids(db, "SELECT id FROM crashes")) == 1
    assert db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1  # the pending one
    if db.dialect == "sqlite":  # PostgreSQL checks the foreign keys on every statement
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # the key is still there: planning the same import again is a no-op
    cur = db.execute(
        "INSERT OR IGNORE INTO actions (instance, hash, kind, key, created_at, updated_at) "
        "VALUES ('R', 'live', 'import', 'import:live:done:1', ?, ?)",
        (NOW, NOW),
    )
    assert cur.rowcount == 0


def test_prune_works_in_batches_and_stops_at_its_budget(db) -> None:
    with dbmod.write_txn(db):
        for i in range(1200):
            decision(db, f"h{i}", 200)
    first = retention.prune_batch(db, NOW, KEEP, batch=500)
    assert first["decisions"] == 500
    ticks = iter(range(100))
    partial = retention.prune(db, NOW, KEEP, budget=0.5, batch=500, clock=lambda: next(ticks))
    assert not partial.done and partial.deleted["decisions"] == 500  # one round, then out
    rest = retention.prune(db, NOW, KEEP, batch=500)
    assert rest.done and rest.deleted["decisions"] == 200
    assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


# SQLite only: the file's free pages (PostgreSQL's autovacuum gives space back itself)
def test_freed_pages_go_back_to_the_filesystem(tmp_path: Path) -> None:
    path = tmp_path / "qbarr.db"
    db = dbmod.open_migrated(path)
    try:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # new files: incremental
        with dbmod.write_txn(db):
            for i in range(3000):
                db.execute(
                    "INSERT INTO decisions (instance, hash, rule, reason, at) "
                    "VALUES ('R', ?, 'ok', ?, ?)",
                    (f"h{i}", "x" * 500, ago(200)),
                )
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        assert retention.prune(db, NOW, KEEP).done
        assert retention.free_pages(db) > retention.SLACK_PAGES
        freed = 0
        for _ in range(100):  # bounded: each step gives back at most VACUUM_PAGES
            step = retention.give_back(db)
            if not step:
                break
            freed += step
        assert freed > 0
        assert retention.free_pages(db) <= retention.SLACK_PAGES
        assert db.execute("PRAGMA page_count").fetchone()[0] < pages - freed // 2
    finally:
        db.close()


# SQLite only: a file's auto_vacuum mode
def test_qbarr_run_switches_an_older_file_to_incremental_vacuum_once(tmp_path: Path) -> None:
    path = tmp_path / "qbarr.db"
    with sqlite3.connect(path) as conn:  # a file made before qbarr set auto_vacuum
        conn.execute("CREATE TABLE early (x)")
        conn.execute("DROP TABLE early")
    db = dbmod.open_migrated(path)
    with dbmod.write_txn(db):
        decision(db, "kept", 1)
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    db.close()
    assert dbmod.ensure_incremental_vacuum(path) is True
    assert dbmod.ensure_incremental_vacuum(path) is False
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert conn.execute("SELECT hash FROM decisions").fetchall() == [("kept",)]


def test_the_housekeeper_works_while_there_is_a_backlog_then_waits_an_hour(db) -> None:
    with dbmod.write_txn(db):
        for i in range(700):
            decision(db, f"h{i}", 200)
    now = [NOW]
    keeper = retention.Housekeeper(keep=KEEP, budget=0.0, clock=lambda: now[0])
    pruned, _ = keeper.step(db)
    assert pruned.deleted["decisions"] == 500 and not pruned.done
    pruned, _ = keeper.step(db)  # the backlog goes on at the next tick
    assert pruned.done and pruned.deleted["decisions"] == 200
    for _ in range(100):  # then pages go back, a step per tick, until nothing is left
        if keeper.step(db) is None:
            break
    assert keeper.step(db) is None  # caught up: nothing until the next hour
    now[0] += retention.PRUNE_EVERY
    assert keeper.step(db) is not None


# -- where no watchdog runs (qbarr run-program): the managers prune, one at a time -----------


def test_without_a_watchdog_one_manager_prunes_and_another_takes_over_when_it_is_gone(
    db,
) -> None:
    from qbarr.housekeeping import SharedHousekeeper
    from qbarr.lease import Lease

    now = [NOW]

    def housekeeper(pid: int) -> SharedHousekeeper:
        lease = Lease(  # managers on two hosts (on one, a dead holder's pid is seen gone)
            "retention",
            2 * retention.PRUNE_EVERY,
            pid=pid,
            clock=lambda: now[0],
            namespace=f"h{pid}",
        )
        return SharedHousekeeper(KEEP, clock=lambda: now[0], lease=lease)

    a, b = housekeeper(101), housekeeper(202)
    with dbmod.write_txn(db):
        decision(db, "old-1", 200)
    assert a.step(db) is not None  # a holds the lease and prunes
    assert ids(db, "SELECT hash FROM decisions") == set()
    with dbmod.write_txn(db):
        decision(db, "old-2", 200)
    assert b.step(db) is None  # a holds it: b leaves the pruning to a
    assert ids(db, "SELECT hash FROM decisions") == {"old-2"}
    now[0] += retention.PRUNE_EVERY + 1  # both due again; a is gone (never came back)
    assert b.step(db) is None  # a's lease lasts two intervals
    now[0] += retention.PRUNE_EVERY + 1
    assert b.step(db) is not None  # expired: b prunes now
    assert ids(db, "SELECT hash FROM decisions") == set()


@pytest.mark.parametrize("run_program", [True, False])
def test_a_manager_under_run_program_prunes_old_rows_between_cycles(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_program: bool
) -> None:
    """Under supervisord the watchdog prunes; under run-program (no watchdog) the manager."""
    from qbarr import lifeline
    from tests.support.inproc import radarr_world

    monkeypatch.delenv("SUPERVISOR_ENABLED", raising=False)
    if run_program:
        monkeypatch.setenv(lifeline.WAIT_ENV, "1")
    else:
        monkeypatch.delenv(lifeline.WAIT_ENV, raising=False)
    with radarr_world(tmp_path, live=False) as world:
        m = world.manager()
        db = world.db()
        with dbmod.write_txn(db):
            db.execute(
                "INSERT INTO decisions (instance, hash, rule, reason, at) "
                "VALUES ('Radarr-Test', 'ancient', 'ok', 'x', ?)",
                (time.time() - 400 * DAY,),
            )
        m.step()
        left = ids(db, "SELECT hash FROM decisions WHERE hash = 'ancient'")
        assert left == (set() if run_program else {"ancient"})
