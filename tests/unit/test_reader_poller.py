"""The reader against the qBittorrent simulator (in this process), tick by tick on a fake clock.

What it proves: before 4.6 an idle library costs one request per tick that serializes nothing,
the unfinished torrents are read at the warm pace and everything only now and then; a download
that was seen moving is published at the very next tick when it completes (the back-off never
delays it); one that completes straight from stalled waits for the warm tier, which is the
documented bound; from 4.6 one sync/maindata per tick costs what changed; a new reader (a
takeover) republishes only what changed; a failing qBittorrent is recorded in the feed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.qbittorrent import QbtClient
from qbarr.reader.feed import Follower, feed_state
from qbarr.reader.plan import PlanSettings
from qbarr.reader.poller import Reader
from qbarr.sim.qbittorrent import SimConfig, api_mode, control, serve_in_thread
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

CLIENT = "qBittorrent"
SETTINGS = PlanSettings(
    loop=2.0,
    idle=15.0,
    categories=frozenset({"radarr"}),
    instances=frozenset({"Radarr-A"}),
    young=180.0,
    tracker_checks=0,  # the polling strategy alone (tracker look-ups: test_reader_trackers.py)
)
SEEDS, STALLED, PAUSED = 70, 20, 10


class World:
    def __init__(self, api: str, tmp: Path) -> None:
        self.sim = serve_in_thread(
            SimConfig(api=api_mode(api), username="u", password="p", refresh_ms=0)
        )
        self.db = open_db(tmp / "qbarr.db")
        self.now = [time.time()]  # the simulator dates its torrents with the real clock
        self.clients: list[QbtClient] = []
        specs = [spec("stalledUP") for _ in range(SEEDS)]
        specs += [spec("stalledDL", progress=0.5) for _ in range(STALLED)]
        specs += [spec("pausedDL", progress=0.5) for _ in range(PAUSED)]
        self.upsert(specs)

    def reader(self) -> Reader:
        qbt = QbtClient(self.sim.url, "u", "p")
        self.clients.append(qbt)
        return Reader(self.db, qbt, CLIENT, SETTINGS, "arr-radarr-a", 1, clock=lambda: self.now[0])

    def upsert(self, specs: list[dict]) -> list[str]:
        with self.sim.store.lock:
            return control.upsert(self.sim.store, specs)

    @property
    def serialized(self) -> int:
        with self.sim.store.lock:
            return self.sim.store.cost.serialized

    def requests(self) -> list[str]:
        with self.sim.store.lock:
            return [r["path"] for r in self.sim.store.cost.requests]

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.sim.stop()
        self.db.close()


def spec(state: str, **kw: object) -> dict:
    return {"state": state, "category": "radarr", "added_ago": 86400, "size": 10**9, **kw}


@pytest.fixture
def v45(tmp_path: Path) -> Iterator[World]:
    world = World("4", tmp_path)
    yield world
    world.close()


@pytest.fixture
def v46(tmp_path: Path) -> Iterator[World]:
    world = World("4.6", tmp_path)
    yield world
    world.close()


def published_state(world: World, h: str) -> str | None:
    follower = Follower(world.db, CLIENT)
    follower.read({"radarr"})
    t = follower.snapshot.torrents.get(h)
    return None if t is None else str(t["state"])


def test_before_4_6_an_idle_library_costs_one_request_per_tick_that_serializes_nothing(v45) -> None:
    reader = v45.reader()
    assert reader.tick() == 1.0
    total = SEEDS + STALLED + PAUSED
    assert v45.serialized == total, "the first tick is a full refresh"
    assert feed_state(v45.db, CLIENT).pace.startswith("idle")
    before = len(v45.requests())
    for _ in range(14):
        v45.now[0] += 1
        reader.tick()
    assert v45.serialized == total, "idle hot ticks serialize nothing"
    assert v45.requests()[before:] == ["torrents/info"] * 14
    v45.now[0] += 1  # IdlePollInterval (15 s) after the full refresh: the warm tier
    reader.tick()
    assert v45.serialized == total + STALLED + PAUSED
    assert feed_state(v45.db, CLIENT).polls == 16


def test_a_download_seen_moving_is_published_at_the_next_tick_when_it_completes(v45) -> None:
    [h] = v45.upsert([spec("downloading", progress=0.5, dl_speed=1000)])
    reader = v45.reader()
    reader.tick()
    assert published_state(v45, h) == "downloading"
    assert feed_state(v45.db, CLIENT).pace.startswith("fast")
    v45.now[0] += 1
    reader.tick()
    v45.upsert([{"hash": h, "state": "stalledUP"}])  # complete, nobody to seed to: not active
    v45.now[0] += 1
    reader.tick()
    assert published_state(v45, h) == "stalledUP", "one tick, whatever the pace"


def test_a_download_that_completes_straight_from_stalled_waits_for_the_warm_tier(v45) -> None:
    [h] = v45.upsert([spec("stalledDL", progress=0.5)])
    reader = v45.reader()
    reader.tick()
    v45.upsert([{"hash": h, "state": "stalledUP"}])
    for _ in range(14):
        v45.now[0] += 1
        reader.tick()
        assert published_state(v45, h) == "stalledDL"
    v45.now[0] += 1
    reader.tick()
    assert published_state(v45, h) == "stalledUP", "within IdlePollInterval: the documented bound"


def test_torrents_acted_on_are_looked_up_at_every_tick(v45) -> None:
    seed = next(iter(v45.sim.store.torrents))
    reader = v45.reader()
    reader.tick()
    with dbmod.write_txn(v45.db):
        v45.db.execute(
            "INSERT INTO actions (instance, hash, kind, key, status, created_at, updated_at) "
            "VALUES ('Radarr-A', ?, 'remove', ?, 'done', ?, ?)",
            (seed, f"remove:{seed}", v45.now[0], v45.now[0]),
        )
    with v45.sim.store.lock:
        v45.sim.store.remove(seed)
    v45.now[0] += 1
    reader.tick()
    assert published_state(v45, seed) is None
    assert feed_state(v45.db, CLIENT).pace == "fast: actions in progress"


def test_from_4_6_one_sync_per_tick_costs_what_changed(v46) -> None:
    reader = v46.reader()
    reader.tick()
    total = SEEDS + STALLED + PAUSED
    assert v46.serialized == total
    for _ in range(20):
        v46.now[0] += 1
        reader.tick()
    assert v46.serialized == total
    hashes = list(v46.sim.store.torrents)[:3]
    v46.upsert([{"hash": h, "state": "pausedUP"} for h in hashes])
    v46.now[0] += 1
    reader.tick()
    assert v46.serialized == total + 3
    assert {published_state(v46, h) for h in hashes} == {"pausedUP"}
    assert set(v46.requests()) == {
        "auth/login",
        "app/version",
        "app/webapiVersion",
        "sync/maindata",
    }


@pytest.mark.parametrize("api", ["4", "4.6"])
def test_a_new_reader_republishes_only_what_changed(tmp_path: Path, api: str) -> None:
    world = World(api, tmp_path)
    try:
        world.reader().tick()
        seq = feed_state(world.db, CLIENT).seq
        h = next(iter(world.sim.store.torrents))
        world.upsert([{"hash": h, "state": "pausedUP"}])
        world.now[0] += 1
        world.reader().tick()  # another process took over: a fresh session, a full look
        assert feed_state(world.db, CLIENT).seq == seq + 1
        changed = dbmod.rows(world.db, "SELECT hash FROM qbt_torrents WHERE seq = ?", (seq + 1,))
        assert [r["hash"] for r in changed] == [h]
    finally:
        world.close()


def test_a_failing_qbittorrent_is_recorded_in_the_feed(v45) -> None:
    reader = v45.reader()
    reader.tick()
    v45.sim.faults.update({"error_rate": 1.0})
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop, 5.0))
    thread.start()
    try:
        from tests.support.waiting import wait_for

        wait_for(lambda: feed_state(v45.db, CLIENT).error, timeout=30, what="the error recorded")
    finally:
        stop.set()
        thread.join(30)
    feed = feed_state(v45.db, CLIENT)
    assert "qBittorrent" in feed.error and "503" in feed.error
    assert "p" not in feed.error.split(":")[-1].split()  # no password in it
