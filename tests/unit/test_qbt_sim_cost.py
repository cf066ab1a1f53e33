"""The simulator charges what qBittorrent would serialize (qbarr.sim.qbittorrent.cost): before
4.6 every sync/maindata serializes every torrent, from 4.6 only what changed; torrents/info
serializes what matches its filters. Benchmarks and tests count on these numbers."""

from __future__ import annotations

import time

from qbarr.qbittorrent import QbtClient
from qbarr.sim.qbittorrent import SimConfig, actions, api_mode, control, serve_in_thread, sync
from qbarr.sim.qbittorrent.cost import burn
from qbarr.sim.qbittorrent.store import Store


def store_with(api: str, n: int = 300) -> Store:
    store = Store(SimConfig(api=api_mode(api), refresh_ms=0))
    store.clock.set_scale(0)
    specs = [{"state": "stalledUP", "category": "radarr"} for _ in range(n - 10)]
    specs += [{"state": "downloading", "category": "sonarr", "dl_speed": 1} for _ in range(10)]
    control.upsert(store, specs)
    return store


def test_before_4_6_an_idle_sync_serializes_every_torrent() -> None:
    store = store_with("4")
    session = store.new_session()
    full = sync.maindata(store, session, 0)
    assert store.cost.serialized == 300
    assert sync.maindata(store, session, full["rid"]) == {"rid": 2}
    assert store.cost.serialized == 600, "an answer of {'rid': N} still costs every torrent"


def test_from_4_6_a_sync_serializes_only_what_changed() -> None:
    store = store_with("4.6")
    session = store.new_session()
    full = sync.maindata(store, session, 0)
    assert store.cost.serialized == 300
    sync.maindata(store, session, full["rid"])
    assert store.cost.serialized == 300
    actions.pause(store, list(store.torrents.values())[:3])
    sync.maindata(store, session, 2)
    assert store.cost.serialized == 303
    assert store.cost.by_path == {"sync/maindata": 303}


def test_torrents_info_serializes_what_matches_before_paging() -> None:
    store = store_with("4")
    from qbarr.sim.qbittorrent import views

    assert len(views.torrents_info(store, {"category": "sonarr", "limit": "2"})) == 2
    assert store.cost.serialized == 10
    views.torrents_info(store, {"filter": "downloading"})
    assert store.cost.by_path["torrents/info"] == 20
    views.torrents_info(store, {"hashes": "|".join(list(store.torrents)[:4])})
    assert store.cost.by_path["torrents/info"] == 24


def test_the_cpu_charge_is_thread_cpu_time() -> None:
    before = time.thread_time()
    burn(0.02)
    assert time.thread_time() - before >= 0.02


def test_requests_are_logged_by_session_and_agent() -> None:
    sim = serve_in_thread(SimConfig(username="u", password="p", refresh_ms=0))
    try:
        with QbtClient(sim.url, "u", "p", user_agent="qbarr-test/one") as one:
            one.sync()
        with QbtClient(sim.url, "u", "p", user_agent="qbarr-test/two") as two:
            two.torrents_info(category="x")
        with sim.store.lock:
            log = [(r["path"], r["agent"], r["session"]) for r in sim.store.cost.requests]
    finally:
        sim.stop()
    assert [entry for entry in log if entry[0] == "auth/login" and entry[2] == "-"]
    assert ("sync/maindata", "qbarr-test/one", "s1") in log
    assert ("torrents/info", "qbarr-test/two", "s2") in log
    assert all("sid" not in str(entry).lower() for entry in log)
