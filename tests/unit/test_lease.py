"""qbarr.lease: one owner per instance, on a real SQLite file, with clocks the test moves.

Two :class:`Lease` objects with different hosts/pids stand for two copies of one program on two
machines sharing the database. Every test runs on both engines.
"""

from __future__ import annotations

import os

import pytest

from qbarr import db as dbmod
from qbarr.lease import Lease, LeaseLost, Ownership, namespace_id, poll_interval

TIMEOUT = 20.0


class Clocks:
    """One wall clock and one monotonic clock, moved together by the test."""

    def __init__(self) -> None:
        self.wall = 1_700_000_000.0
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def db(engine_db: dbmod.Database) -> dbmod.Database:
    """Every test runs on SQLite and on PostgreSQL (tests/conftest.py: engine_db)."""
    return engine_db


def lease(clocks: Clocks, host: str, pid: int, namespace: str | None = None) -> Lease:
    """A copy on ``host`` (its own pid namespace unless told: pids mean nothing across)."""
    return Lease(
        "arr-radarr-main",
        TIMEOUT,
        host=host,
        pid=pid,
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
        namespace=namespace or f"ns-{host}",
    )


def test_one_holder_the_other_learns_who_and_since_when(db: dbmod.Database) -> None:
    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    assert a.try_acquire(db) is None and a.valid()
    clocks.advance(3)
    holder = b.try_acquire(db)
    assert holder is not None and not b.valid()
    assert (holder.host, holder.pid, holder.since) == ("host-a", 101, clocks.wall - 3)
    text = holder.describe(clocks.wall)
    assert "host host-a" in text and "pid 101" in text and "3s ago" in text, text


def test_a_live_holder_keeps_it_for_ever(db: dbmod.Database) -> None:
    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    a.try_acquire(db)
    for _ in range(40):  # 10 timeouts long, renewing every quarter
        clocks.advance(TIMEOUT / 4)
        assert a.renew(db)
        assert b.try_acquire(db) is not None
        assert a.valid()


def test_a_dead_holder_is_replaced_within_the_timeout_and_is_fenced(db: dbmod.Database) -> None:
    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    a.try_acquire(db)
    # a stops renewing (dead, or cut off): it stops trusting its lease *before* b may take it
    clocks.advance(a.trust)
    assert not a.valid()
    assert b.try_acquire(db) is not None, "taken while the holder may still act"
    clocks.advance(TIMEOUT - a.trust + 0.001)
    assert b.try_acquire(db) is None and b.valid()
    # the old holder comes back: its renewal fails, its fence refuses to send
    assert not a.renew(db)
    with pytest.raises(LeaseLost), dbmod.write_txn(db):
        a.check(db)
    with dbmod.write_txn(db):
        b.check(db)  # the new holder passes
    fence = dbmod.rows(db, "SELECT fence, host FROM leases")
    assert fence == [{"fence": 2, "host": "host-b"}]


def test_the_fence_refuses_once_the_row_names_another_holder(db: dbmod.Database) -> None:
    clocks = Clocks()
    a = lease(clocks, "host-a", 101)
    a.try_acquire(db)
    with dbmod.write_txn(db):  # an operator (or a bug) hands the row to somebody else
        db.execute("UPDATE leases SET holder = 'host-c:9:x', host = 'host-c'")
    assert a.valid()  # locally still trusted ...
    with pytest.raises(LeaseLost), dbmod.write_txn(db):
        a.check(db)  # ... but the database says no
    assert not a.valid()


def test_release_lets_the_waiting_copy_take_over_at_once(db: dbmod.Database) -> None:
    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    a.try_acquire(db)
    assert b.try_acquire(db) is not None
    a.release(db)
    assert not a.valid()
    assert b.try_acquire(db) is None


def test_ownership_logs_the_holder_once_and_reports_a_takeover(
    db: dbmod.Database, caplog: pytest.LogCaptureFixture
) -> None:
    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    a.try_acquire(db)
    waiting = Ownership(b, db, lambda: db)
    caplog.set_level("INFO", "qbarr.lease")
    assert not waiting.ensure() and not waiting.ensure()
    held = [r.getMessage() for r in caplog.records if "waiting for its lease" in r.getMessage()]
    assert len(held) == 1 and "host host-a, pid 101" in held[0], held
    clocks.advance(TIMEOUT + 1)
    try:
        assert waiting.ensure() and waiting.taken and waiting.holding
        assert waiting.ensure() and not waiting.taken
    finally:
        waiting.release()
    assert dbmod.rows(db, "SELECT * FROM leases") == []


def test_a_copy_that_keeps_waiting_says_so_again_at_a_bounded_interval(
    db: dbmod.Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Once per holder, then again every REMIND_EVERY while the same holder lives (a log
    read hours later still says why this copy does nothing), never on every poll."""
    from qbarr.lease import REMIND_EVERY

    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    a.try_acquire(db)
    waiting = Ownership(b, db, lambda: db)
    caplog.set_level("INFO", "qbarr.lease")

    def told() -> int:
        return sum("waiting for its lease" in r.getMessage() for r in caplog.records)

    steps = 0
    while clocks.mono < 1000.0 + 2.5 * REMIND_EVERY and steps < 10_000:  # bounded
        a.try_acquire(db)  # the holder renews: alive all along
        assert not waiting.ensure()
        clocks.advance(TIMEOUT / 4)
        steps += 1
    assert told() == 3, [r.getMessage() for r in caplog.records]  # at 0, 1x and 2x the interval


def test_a_dead_holder_in_our_pid_namespace_is_replaced_at_once(db: dbmod.Database) -> None:
    """One machine: supervisord restarts a crashed manager, which must not wait the timeout."""
    import subprocess
    import sys

    clocks = Clocks()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # a pid that no longer runs
    here = namespace_id()
    dead = lease(clocks, "vm", gone.pid, namespace=here)
    dead.try_acquire(db)
    # another namespace (another host or container) cannot tell: it waits for the expiry
    assert lease(clocks, "other", 303).try_acquire(db) is not None
    # a live holder next door keeps it
    live = lease(clocks, "vm", os.getpid(), namespace=here)
    assert live.try_acquire(db) is None  # the dead one's pid is gone: taken at once
    assert lease(clocks, "vm", gone.pid, namespace=here).try_acquire(db) is not None


def test_a_waiting_copy_polls_often_enough_to_take_over_in_time() -> None:
    assert poll_interval(30.0, 2.0) == 1.0
    assert poll_interval(3.0, 2.0) == pytest.approx(0.3)
    assert poll_interval(30.0, 0.5) == 0.5


def test_the_journal_marks_nothing_sending_once_the_lease_is_gone(db: dbmod.Database) -> None:
    """The fence sits in the transaction that marks an action ``sending`` (before any send)."""
    from qbarr.journal import Journal

    clocks = Clocks()
    a, b = lease(clocks, "host-a", 101), lease(clocks, "host-b", 202)
    a.try_acquire(db)
    with dbmod.write_txn(db):
        db.execute(
            "INSERT INTO actions (instance, hash, kind, key, created_at, updated_at) "
            "VALUES ('Radarr-Main', 'h1', 'import', 'import:h1', 1, 1)"
        )
    (action_id,) = [r["id"] for r in dbmod.rows(db, "SELECT id FROM actions")]
    journal = Journal(db, "Radarr-Main")
    journal.fence = a.check
    clocks.advance(TIMEOUT + 1)  # a was cut off; b took over
    assert b.try_acquire(db) is None
    with pytest.raises(LeaseLost):
        journal.mark_many([action_id], "sending")
    assert dbmod.rows(db, "SELECT status FROM actions") == [{"status": "planned"}]
    journal.fence = b.check
    journal.mark_many([action_id], "sending")
    assert dbmod.rows(db, "SELECT status FROM actions") == [{"status": "sending"}]
