"""Several qBittorrents: one reader per client, keyed by its section name, each with its own
lock file and feed; a 5.x simulator next to a 4.5 one (the 4.5 one is read by state lists,
the 5.x one by sync/maindata with rid)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr import config as configmod
from qbarr.reader import FeedSource, feed_state
from qbarr.sim.qbittorrent import SimConfig, api_mode, control, serve_in_thread
from tests.support.engines import connect_db, location, open_db
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, configmod.Config, dict]]:
    old = serve_in_thread(SimConfig(api=api_mode("4"), username="u", password="p", refresh_ms=0))
    new = serve_in_thread(SimConfig(api=api_mode("5.1"), username="v", password="q", refresh_ms=0))
    try:
        # the same category in both: each manager must see only its own client's torrents
        for sim, state in ((old, "stalledUP"), (new, "stoppedUP")):
            with sim.store.lock:
                control.upsert(sim.store, [{"state": state, "category": "radarr"}])
        (tmp_path / "config.ini").write_text(
            f"[Settings]\nLoopInterval = 0.5s\n[qBittorrent]\nURL = {old.url}\nUsername = u\n"
            f"Password = p\nTimeout = 2s\n[qBittorrent-new]\nURL = {new.url}\nUsername = v\n"
            "Password = q\nTimeout = 2s\n"
            "[Radarr-A]\nURL = http://127.0.0.1:1\nAPIKey = k1234567\nCategory = radarr\n"
            "[Radarr-B]\nURL = http://127.0.0.1:1\nAPIKey = k1234567\nCategory = radarr\n"
            "Client = new\n"
        )
        open_db(tmp_path / "qbarr.db").close()
        yield tmp_path, configmod.load(tmp_path / "config.ini"), {"old": old, "new": new}
    finally:
        old.stop()
        new.stop()


def paths(sim) -> set[str]:
    return {r["path"] for r in sim.store.cost.requests}


def source(home: Path, cfg: configmod.Config, name: str) -> FeedSource:
    inst = cfg.instance(name)
    db = connect_db(home / "qbarr.db")
    return FeedSource(
        db, location(home / "qbarr.db"), home / "run", cfg, inst.program, client=inst.client
    )


def test_each_client_has_its_own_reader_and_feed(world) -> None:
    home, cfg, sims = world
    a, b = source(home, cfg, "Radarr-A"), source(home, cfg, "Radarr-B")
    try:
        # two qBittorrents: both managers are readers, one each
        assert a.ensure_reader() and b.ensure_reader()
        snap_a, snap_b = a.snapshot({"radarr"}), b.snapshot({"radarr"})
        assert [t["state"] for t in snap_a.torrents.values()] == ["stalledUP"]
        assert [t["state"] for t in snap_b.torrents.values()] == ["stoppedUP"]
        assert (home / "run" / "qbt-qbittorrent.lock").read_text().split()[1] == "arr-radarr-a"
        assert (home / "run" / "qbt-qbittorrent-new.lock").read_text().split()[1] == (
            "arr-radarr-b"
        )
        old_feed = feed_state(a.db, "qBittorrent")
        new_feed = feed_state(a.db, "qBittorrent-new")
        assert old_feed.version.startswith("v4.") and new_feed.version.startswith("v5.")
        # each reader polls only its own qBittorrent, in the way its version allows
        wait_for(lambda: "torrents/info" in paths(sims["old"]), timeout=20, what="4.5 state lists")
        assert "sync/maindata" in paths(sims["new"])
        assert "torrents/info" not in paths(sims["new"])
        # a new torrent in one client reaches only that client's manager
        with sims["new"].store.lock:
            control.upsert(sims["new"].store, [{"state": "downloading", "category": "radarr"}])
        wait_for(lambda: len(b.snapshot({"radarr"}).torrents) == 2, timeout=20, what="B sees it")
        assert len(a.snapshot({"radarr"}).torrents) == 1
    finally:
        a.close()
        b.close()


def test_plan_settings_count_only_the_clients_own_instances(world) -> None:
    _, cfg, _ = world
    from qbarr.reader import PlanSettings

    assert PlanSettings.from_config(cfg, "qBittorrent").instances == frozenset({"Radarr-A"})
    assert PlanSettings.from_config(cfg, "qBittorrent-new").instances == frozenset({"Radarr-B"})
