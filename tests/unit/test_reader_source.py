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
from tests.support.waiting import wait_for


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
    dbmod.open_migrated(tmp_path / "qbarr.db").close()
    try:
        yield tmp_path, configmod.load(tmp_path / "config.ini")
    finally:
        sim.stop()


def source(home: Path, cfg: configmod.Config, program: str) -> FeedSource:
    db = dbmod.connect(home / "qbarr.db")
    return FeedSource(db, home / "qbarr.db", home / "run", cfg, program)


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
