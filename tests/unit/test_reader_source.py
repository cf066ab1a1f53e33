"""The manager's snapshot source (qbarr.reader.FeedSource): one reader per qBittorrent, elected
by a lock file; the others read its feed; a takeover when the reader's process goes; a stale
feed is a waiting state, never old facts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr import config as configmod
from qbarr import db as dbmod
from qbarr.reader import FeedSource, FeedStale, feed_state
from qbarr.sim.qbittorrent import SimConfig, control, serve_in_thread
from tests.support.engines import connect_db, location, open_db
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, configmod.Config]]:
    sim = serve_in_thread(SimConfig(username="u", password="p", refresh_ms=0))
    with sim.store.lock:
        control.upsert(
            sim.store, [{"state": "stalledUP", "category": c} for c in ("radarr", "sonarr")]
        )
    (tmp_path / "config.ini").write_text(
        f"[Settings]\nLoopInterval = 0.5s\n[qBittorrent]\nURL = {sim.url}\nUsername = u\n"
        "Password = p\nTimeout = 2s\n"
        "[Radarr-A]\nURL = http://127.0.0.1:1\nAPIKey = k1234567\nCategory = radarr\n"
        "[Sonarr-B]\nURL = http://127.0.0.1:1\nAPIKey = k1234567\nCategory = sonarr\n"
    )
    open_db(tmp_path / "qbarr.db").close()
    try:
        yield tmp_path, configmod.load(tmp_path / "config.ini")
    finally:
        sim.stop()


def source(home: Path, cfg: configmod.Config, program: str) -> FeedSource:
    db = connect_db(home / "qbarr.db")
    return FeedSource(db, location(home / "qbarr.db"), home / "run", cfg, program)


def test_one_reader_the_other_follows_and_takes_over(world) -> None:
    home, cfg = world
    a, b = source(home, cfg, "arr-radarr-a"), source(home, cfg, "arr-sonarr-b")
    try:
        assert a.ensure_reader() and a.is_reader
        assert not b.ensure_reader() and not b.is_reader
        snap = a.snapshot({"radarr"})  # waits for its own reader's first publication
        assert {t["category"] for t in snap.torrents.values()} == {"radarr", "sonarr"}
        snap_b = b.snapshot({"sonarr"})
        assert [t["state"] for t in snap_b.torrents.values() if t["category"] == "sonarr"] == [
            "stalledUP"
        ]
        assert feed_state(b.db, "qBittorrent").reader == "arr-radarr-a"
        assert (home / "run" / "qbt-qbittorrent.lock").read_text().split()[1] == "arr-radarr-a"
        a.close()  # its process ends: the kernel drops the lock
        assert b.ensure_reader() and b.is_reader
        wait_for(
            lambda: feed_state(b.db, "qBittorrent").reader == "arr-sonarr-b",
            timeout=20,
            what="the new reader publishing",
        )
    finally:
        a.close()
        b.close()


def test_a_stale_feed_is_a_waiting_state(world) -> None:
    home, cfg = world
    a = source(home, cfg, "arr-radarr-a")
    b = source(home, cfg, "arr-sonarr-b")
    try:
        a.snapshot({"radarr"})
        a.stop_event.set()  # the reader stops polling but its process keeps the lock
        a.thread.join(10)
        now = b.clock()
        b.clock = lambda: now + 60  # a minute later nothing new was published
        with pytest.raises(FeedStale, match="old, waiting for the reader"):
            b.snapshot({"sonarr"})
    finally:
        a.close()
        b.close()


def test_nothing_published_yet(world) -> None:
    home, cfg = world
    a = source(home, cfg, "arr-radarr-a")
    b = source(home, cfg, "arr-sonarr-b")
    a.lock_fd = None
    try:
        a._take_lock()  # holds the lock without a reader: b can only wait
        with pytest.raises(FeedStale, match="no snapshot"):
            b.snapshot({"sonarr"})
    finally:
        a.close()
        b.close()


def test_one_reader_across_hosts_elected_by_the_lease(world) -> None:
    """Two hosts (two run/ dirs: neither sees the other's lock file) share one database: one
    reader in all. The other host's manager follows the feed, and takes over the reading once
    the first one lets the qBittorrent's lease go."""
    home, cfg = world
    a = source(home, cfg, "arr-radarr-a")
    db_b = connect_db(home / "qbarr.db")
    b = FeedSource(db_b, location(home / "qbarr.db"), home / "run-host-b", cfg, "arr-sonarr-b")
    try:
        assert a.ensure_reader() and a.is_reader
        assert b.lock_fd is None
        assert not b.ensure_reader() and not b.is_reader
        assert b.lock_fd is not None  # it holds its own host's lock, not the lease
        lease = dbmod.rows(b.db, "SELECT name, pid FROM leases WHERE name = 'qbt-qbittorrent'")
        assert len(lease) == 1
        a.snapshot({"radarr"})  # waits for the reader's first publication
        snap_b = b.snapshot({"sonarr"})
        assert any(t["category"] == "sonarr" for t in snap_b.torrents.values())
        assert feed_state(b.db, "qBittorrent").reader == "arr-radarr-a"
        a.close()  # lets the lease go
        assert b.ensure_reader() and b.is_reader
        wait_for(
            lambda: feed_state(b.db, "qBittorrent").reader == "arr-sonarr-b",
            timeout=20,
            what="the other host's reader publishing",
        )
    finally:
        a.close()
        b.close()


def test_a_reader_that_lost_its_lease_publishes_nothing(world) -> None:
    home, cfg = world
    a = source(home, cfg, "arr-radarr-a")
    try:
        a.snapshot({"radarr"})
        with dbmod.write_txn(a.db):  # another host took the lease (e.g. ours expired)
            a.db.execute("UPDATE leases SET holder = 'elsewhere:1:x', host = 'elsewhere'")
        before = feed_state(a.db, "qBittorrent")  # from now on every publication is fenced
        a.thread.join(20)  # the reader's next publication hits the fence: it stops
        assert not a.is_reader
        assert not a.ensure_reader()  # and it does not start again while the other holds it
        assert feed_state(a.db, "qBittorrent").polls == before.polls
    finally:
        a.close()
