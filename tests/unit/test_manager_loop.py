"""The orchestration in-process: TorrentLoop.cycle and ArrManager.step against the simulators.

Both simulators answer real HTTP on 127.0.0.1 from threads of this process (see
tests/support/inproc.py); the manager's clock is injected, so "after StalledDelay" takes
no time. The tests look at what the manager did where it shows (the Arr's commands and
blocklist, qBittorrent's torrents, the journal, the heartbeat), not at the loop's internals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.inproc import FakeClock, World, qbt_sim, radarr_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with radarr_world(tmp_path, live=False) as w:
        yield w


def test_a_completed_torrent_is_imported_once(world: World) -> None:
    h = world.torrent(state="stalledUP")
    world.adopt()
    loop = world.loop()
    for _ in range(4):
        loop.cycle()
        world.clock.advance(2)
    scans = world.bodies("DownloadedMoviesScan")
    assert [s["downloadClientId"].lower() for s in scans] == [h]
    assert scans[0]["importMode"] == "Auto" and world.name_of(h) in scans[0]["path"]
    assert h in world.qbt_hashes(), "an imported torrent keeps seeding"


def test_a_stalled_download_is_failed_after_stalled_delay(world: World) -> None:
    h = world.torrent(state="stalledDL", progress=0.2)
    world.adopt()
    movie = world.media_of(h)
    loop = world.loop()  # StalledDelay: the default, 15 min
    loop.cycle()
    world.clock.advance(14 * 60)
    loop.cycle()
    assert h in world.qbt_hashes() and world.blocklisted() == []
    assert world.bodies("MoviesSearch") == []
    world.clock.advance(2 * 60)
    loop.cycle()
    assert h not in world.qbt_hashes()
    assert world.blocklisted() == [h]
    assert world.bodies("MoviesSearch") == [{"movieIds": movie}]
    assert world.decisions(h) == [("stalled", "grace"), ("stalled", "fail")]


def test_a_reload_decides_every_torrent_again(world: World) -> None:
    """A seeding torrent decided "ok" is not re-decided for a while, unless settings change."""
    h = world.torrent(state="stalledUP", ratio=2.0)
    manager = world.manager()
    manager.step()
    manager.step()
    assert [rule for rule, _ in world.decisions(h)] == ["ok"] and h in world.qbt_hashes()
    world.write_config(seeding={"MaxUploadRatio": "1", "RemoveMode": "ratio"})
    manager.reload()
    manager.step()
    assert world.decisions(h)[-1] == ("seeding-done", "remove")
    assert h not in world.qbt_hashes()


def test_a_bad_config_keeps_the_previous_one(world: World) -> None:
    manager = world.manager(settings={"LoopInterval": "3s"})
    manager.step()
    world.home.config.write_text(
        world.home.config.read_text().replace("LoopInterval = 3s", "LoopInterval = soon")
    )
    manager.reload()
    manager.step()
    beat = world.heartbeat()
    assert beat["status"] == "ok" and manager.interval() == 3.0
    assert "LoopInterval" in beat["last_error"]
    assert "still running with the previous config" in beat["last_error"]
    h = world.torrent(state="stalledUP")
    world.adopt()
    manager.step()
    assert [s["downloadClientId"].lower() for s in world.bodies("DownloadedMoviesScan")] == [h]


def test_a_connect_failure_is_reported_and_retried_after_the_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """qBittorrent down: the heartbeat says so at once; the next try comes at the first tick
    after the backoff, not before, and the log says when that is."""
    port = free_port()
    with radarr_world(tmp_path, live=False) as world:
        world.config_qbt_url = f"http://127.0.0.1:{port}"  # nothing listens there yet
        manager = world.manager(settings={"LoopInterval": "2s"})
        clock = FakeClock()
        manager.backoff.clock = clock.monotonic
        with caplog.at_level(logging.WARNING, logger="qbarr-arr"):
            manager.step()
        beat = world.heartbeat()
        assert beat["status"] == "error" and not beat["qbt_ok"]
        assert beat["last_error"].startswith("qBittorrent:")
        assert beat["stats"]["retry_in"] == 2.0
        assert "(retry in 2.0s)" in caplog.text, caplog.text
        qbt = qbt_sim(port)
        try:
            manager.step()  # qBittorrent answers now, but the backoff has not run out
            assert world.heartbeat()["status"] == "error"
            clock.advance(2.0)
            with caplog.at_level(logging.INFO, logger="qbarr-arr"):
                manager.step()
            beat = world.heartbeat()
            assert (beat["status"], beat["qbt_ok"], beat["arr_ok"]) == ("ok", 1, 1)
            assert beat["stats"]["qbittorrent"] == "v4.5.2 (WebAPI 2.8.19)", beat["stats"]
        finally:
            qbt.stop()
