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
from tests.support.inproc import World, qbt_sim, radarr_world
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


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
    h = world.torrent(state="uploading")  # active: the reader's hot tier sees it at its next tick
    world.adopt()

    def imported() -> list[str]:  # the reader publishes the new torrent at its next tick
        manager.step()
        return [s["downloadClientId"].lower() for s in world.bodies("DownloadedMoviesScan")]

    assert wait_for(imported, timeout=30, what="the import") == [h]


def test_qbittorrent_down_is_reported_and_the_work_resumes_when_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """qBittorrent down at start: the first step says so, with what the reader got (the
    reader, a thread of this manager, retries on its own backoff); once qBittorrent answers
    the manager is ok again and shows its version."""
    port = free_port()
    with radarr_world(tmp_path, live=False) as world:
        world.config_qbt_url = f"http://127.0.0.1:{port}"  # nothing listens there yet
        manager = world.manager(settings={"LoopInterval": "2s"})
        with caplog.at_level(logging.WARNING, logger="qbarr-arr"):
            manager.step()
        beat = world.heartbeat()
        assert beat["status"] == "error" and not beat["qbt_ok"]
        assert beat["last_error"].startswith("qBittorrent:")
        assert "waiting for the reader" in beat["last_error"]
        assert "refused" in beat["last_error"].lower(), beat["last_error"]
        assert "waiting for the reader" in caplog.text, caplog.text
        qbt = qbt_sim(port)
        try:

            def ok() -> dict:
                manager.step()
                beat = world.heartbeat()
                return beat if beat["status"] == "ok" else {}

            beat = wait_for(ok, timeout=30, what="the manager ok again")
            assert (beat["qbt_ok"], beat["arr_ok"]) == (1, 1)
            assert beat["stats"]["qbittorrent"] == "v4.5.2 (WebAPI 2.8.19)", beat["stats"]
        finally:
            qbt.stop()
