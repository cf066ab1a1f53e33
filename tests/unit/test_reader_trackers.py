"""Tracker look-ups: within the budget, changes and torrents without a working tracker first,
published with the torrent's fields (qbarr.reader.trackers, qbarr.reader.poller); the
simulator's scripted tracker lists."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qbarr.qbittorrent import QbtClient
from qbarr.reader import Follower, PlanSettings
from qbarr.reader.poller import TRACKERS_KEY, Reader
from qbarr.reader.trackers import DEAD_RECHECK, TrackerPlan
from qbarr.sim.qbittorrent import SimConfig, api_mode, control, serve_in_thread
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

CLIENT = "qBittorrent"
UNREG = [
    {"url": "https://t1.example/announce", "status": 4, "msg": "Unregistered torrent"},
    {"url": "https://t2.example/announce", "status": 4, "msg": "torrent not found"},
]


def torrents(n: int, state: str = "stalledUP", tracker: str = "https://t/a") -> dict:
    return {f"{i:040x}": {"state": state, "tracker": tracker} for i in range(n)}


def test_the_budget_holds_at_2000_torrents() -> None:
    plan = TrackerPlan(per_minute=60)
    watched = torrents(2000)
    calls = 0
    for second in range(600):  # ten minutes, one tick a second
        picked = plan.pick(watched, 1000.0 + second)
        calls += len(picked)
        for h in picked:
            plan.done(h, watched[h], 1000.0 + second)
    assert 590 <= calls <= 601  # 60 a minute (plus the first token), never more


def test_changes_and_dead_torrents_come_first() -> None:
    plan = TrackerPlan(per_minute=60)
    watched = torrents(100)
    for h in watched:
        plan.done(h, watched[h], 0.0)
    dead, moved = "f" * 40, f"{5:040x}"
    watched[dead] = {"state": "stalledDL", "tracker": ""}  # new, no working tracker
    watched[moved] = {"state": "pausedUP", "tracker": "https://t/a"}  # its state changed
    plan.tokens, plan.refilled_at = 2.0, 10.0
    assert plan.pick(watched, 10.0) == [dead, moved]
    for h in (dead, moved):
        plan.done(h, watched[h], 10.0)
    plan.tokens = 60.0
    assert plan.pick(watched, 11.0) == []  # nothing changed, nobody due for the sample
    assert plan.pick(watched, 10.0 + DEAD_RECHECK)[:1] == [dead]  # the dead one again


def test_no_budget_no_look_up() -> None:
    assert TrackerPlan(per_minute=0).pick(torrents(5), 0.0) == []


def test_the_reader_publishes_tracker_messages_within_budget(tmp_path: Path) -> None:
    sim = serve_in_thread(SimConfig(api=api_mode("5.2"), username="u", password="p", refresh_ms=0))
    db = open_db(tmp_path / "qbarr.db")
    qbt = QbtClient(sim.url, "u", "p")
    try:
        with sim.store.lock:
            [bad] = control.upsert(
                sim.store, [{"state": "stalledDL", "category": "radarr", "tracker_list": UNREG}]
            )
            control.upsert(sim.store, [{"state": "stalledUP", "category": "radarr"}] * 200)
            others = control.upsert(sim.store, [{"state": "stalledUP", "category": "other"}] * 50)
        now = [time.time()]
        settings = PlanSettings(
            loop=2.0,
            categories=frozenset({"radarr"}),
            instances=frozenset({"A"}),
            tracker_checks=60,
        )
        reader = Reader(db, qbt, CLIENT, settings, "arr-a", 1, clock=lambda: now[0])
        for _ in range(120):  # two minutes of ticks
            reader.tick()
            now[0] += 1.0
        with sim.store.lock:
            asked = [r for r in sim.store.cost.requests if r["path"] == "torrents/trackers"]
        follower = Follower(db, CLIENT)
        follower.read({"radarr"})
        published = follower.snapshot.torrents[bad.lower()]
        looked = set(reader.tracker_plan.looked)
    finally:
        qbt.close()
        sim.stop()
        db.close()
    info = published[TRACKERS_KEY]
    assert [(r["status"], r["msg"]) for r in info["rows"]] == [
        (4, "Unregistered torrent"),
        (4, "torrent not found"),
    ]
    assert published["tracker"] == ""  # qBittorrent's own field: no working tracker
    assert len(asked) <= 121  # 60 a minute at most
    assert len(asked) == len(looked) > 100  # each once: no torrent changed
    assert not looked & {h.lower() for h in others}  # only the watched categories


def test_a_failing_tracker_look_up_never_costs_the_tick_its_publication(tmp_path: Path) -> None:
    sim = serve_in_thread(SimConfig(username="u", password="p", refresh_ms=0))
    db = open_db(tmp_path / "qbarr.db")
    qbt = QbtClient(sim.url, "u", "p")
    try:
        with sim.store.lock:
            [h] = control.upsert(sim.store, [{"state": "stalledUP", "category": "radarr"}])
        settings = PlanSettings(
            loop=2.0,
            categories=frozenset({"radarr"}),
            instances=frozenset({"A"}),
            tracker_checks=60,
        )
        reader = Reader(db, qbt, CLIENT, settings, "arr-a", 1)
        sim.faults.update({"error_rate": 1.0, "error_status": 500, "path": "torrents/trackers"})
        reader.tick()  # raised QbtError before: the whole tick failed, nothing published
        follower = Follower(db, CLIENT)
        follower.read({"radarr"})
        assert h.lower() in follower.snapshot.torrents
        assert TRACKERS_KEY not in follower.snapshot.torrents[h.lower()]
    finally:
        qbt.close()
        sim.stop()
        db.close()
