"""The manager against remotes that come and go: each reported from its own calls, the Arr's
work waits while the rest goes on, qBittorrent's session is kept, unobserved time does not
count on the stall clock, a first start gives every stall its grace.

In-process qBittorrent and Radarr simulators on real HTTP, a real SQLite file; the test
steps the manager itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qbarr import config as configmod
from qbarr.arr import make_client
from qbarr.db import rows, write_txn
from qbarr.manager import TorrentLoop
from qbarr.qbittorrent import QbtClient, QbtError
from tests.support.engines import open_db
from tests.support.inproc import (
    KEY,
    QBT_PASSWORD,
    QBT_USER,
    World,
    radarr_world,
    spec,
)
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

C, S, S2 = "c1" * 20, "5a" * 20, "5b" * 20


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with radarr_world(tmp_path) as w:
        yield w


def beat(m: Any) -> dict[str, Any]:
    row = rows(m.db, "SELECT * FROM instances WHERE name = 'Radarr-Test'")[0]
    row["stats"] = json.loads(row["stats"] or "{}")
    return row


def code_of(db: Any, h: str) -> str | None:
    found = rows(db, "SELECT last_code FROM torrents WHERE hash = ?", (h,))
    return found[0]["last_code"] if found else None


def status_text(home: Any, capsys: pytest.CaptureFixture[str]) -> str:
    from qbarr_programs.cli import main

    assert main(["--home", str(home.root), "status"]) == 0
    return capsys.readouterr().out


def test_arr_down_means_waiting_and_qbittorrent_is_not_logged_in_again(
    tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.add(spec(C, "uploading"), spec(S, "stalledDL", progress=0.2))
    world.wait_queued(C)
    world.wait_queued(S)
    m = world.manager({"BrakeMaxRemovals": "0"}, torrent={"StalledDelay": "1s"})
    home = world.home
    world.arr.faults.update({"outage": 3600})
    try:
        m.step()
        row = beat(m)
        assert (row["status"], row["qbt_ok"], row["arr_ok"]) == ("arr-down", 1, 0)
        targets = row["stats"]["targets"]
        assert targets["qbittorrent"]["ok"] is True and targets["qbittorrent"]["error"] is None
        assert targets["arr"]["ok"] is False and "503" in targets["arr"]["error"]
        assert "503" in row["last_error"] and row["last_error_at"] == targets["arr"]["error_at"]

        def stalled_waits() -> bool:
            m.step()
            return code_of(m.db, S) == "wait-arr"

        wait_for(stalled_waits, timeout=30, what="the stalled torrent past StalledDelay")
        assert rows(m.db, "SELECT * FROM actions") == []  # no import, no blocklist, no delete
        text = status_text(home, capsys)
        assert "status arr-down" in text and "qBittorrent ok since " in text
        assert "Radarr down since " in text and "; last error " in text and "503" in text
        assert S in world.qbt.store.torrents and not world.commands("DownloadedMoviesScan")
        assert m.qbt is not None and m.qbt.stats["logins"] == 1

        world.arr.faults.clear()

        def all_done() -> bool:
            m.step()
            left = rows(m.db, "SELECT 1 FROM actions WHERE status != 'done'")
            return not left and S not in world.qbt.store.torrents and beat(m)["status"] == "ok"

        wait_for(all_done, timeout=30, what="the Arr's work once it answers")
        scans = [c.body["downloadClientId"].lower() for c in world.commands("DownloadedMoviesScan")]
        assert scans == [C]
        assert len(world.arr.sim.blocklist) == 1 and len(world.commands("MoviesSearch")) == 1
        assert m.qbt.stats["logins"] == 1  # the Arr's outage never touched qBittorrent's session
        assert beat(m)["arr_ok"] == 1
    finally:
        m.close()


def test_qbittorrent_down_is_reported_as_such_and_the_arr_as_it_last_answered(
    tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.add(spec(C, "uploading"))
    world.wait_queued(C)
    m = world.manager()
    home = world.home
    try:
        m.step()
        assert (beat(m)["status"], beat(m)["qbt_ok"], beat(m)["arr_ok"]) == ("ok", 1, 1)
        world.qbt.faults.update({"error_rate": 1.0, "error_status": 503})

        def down() -> bool:  # the reader's snapshot goes stale after Timeout + LoopInterval
            m.step()
            return beat(m)["status"] == "error"

        wait_for(down, timeout=30, what="qBittorrent reported down")
        row = beat(m)
        assert (row["status"], row["qbt_ok"], row["arr_ok"]) == ("error", 0, 1)
        targets = row["stats"]["targets"]
        assert targets["arr"]["ok"] is True and targets["arr"]["error"] is None
        assert targets["qbittorrent"]["ok"] is False and "503" in targets["qbittorrent"]["error"]
        assert row["last_error"].startswith("qBittorrent")
        text = status_text(home, capsys)
        assert "status error" in text and "Radarr ok since " in text
        assert "qBittorrent down since " in text
        world.qbt.faults.reset()

        def back() -> bool:
            m.step()
            return beat(m)["status"] == "ok"

        wait_for(back, timeout=20, what="qBittorrent back")
        assert beat(m)["qbt_ok"] == 1 and m.qbt is not None and m.qbt.stats["logins"] == 1
        since = beat(m)["stats"]["targets"]["qbittorrent"]
        assert since["ok"] is True and since["error"] and since["since"] >= since["error_at"]
    finally:
        m.close()


class Loop:
    """A TorrentLoop of the test instance on a clock the test moves."""

    def __init__(self, home: Any, world: World, start: float) -> None:
        self.t = start
        cfg = configmod.load(home.config)
        self.db = open_db(home.database)
        self.qbt = QbtClient(world.qbt_url, QBT_USER, QBT_PASSWORD, timeout=5)
        self.arr = make_client("radarr", world.arr_url, KEY, timeout=5)
        self.loop = TorrentLoop(
            cfg, cfg.instance("Radarr-Test"), self.db, self.qbt, self.arr, clock=lambda: self.t
        )

    def at(self, t: float) -> Any:
        self.t = t
        return self.loop.cycle()

    def stalled_for(self, h: str) -> float:
        return self.t - self.loop.memory[h].stalled_since

    def close(self) -> None:
        self.qbt.close()
        self.arr.close()


def test_time_qbittorrent_was_unreachable_or_qbarr_stopped_does_not_count(
    tmp_path: Path, world: World
) -> None:
    world.add(spec(S, "stalledDL", progress=0.2), spec(S2, "downloading", progress=0.3))
    world.wait_queued(S)
    world.wait_queued(S2)
    home = world.write_config(torrent={"StalledDelay": "60s"})
    t0 = time.time()
    first = Loop(home, world, t0)
    try:
        first.at(t0)
        first.at(t0 + 30)
        assert first.stalled_for(S) == 30 and code_of(first.db, S) == "grace"
        world.qbt.faults.update({"error_rate": 1.0, "error_status": 503})
        with pytest.raises(QbtError):
            first.at(t0 + 40)
        world.qbt.faults.reset()
        report = first.at(t0 + 640)  # qBittorrent was unreachable for ten minutes
        assert report.unobserved == 610
        assert first.stalled_for(S) == 30 and code_of(first.db, S) == "grace"
        world.control("POST", f"/sim/torrents/{S2}", {"state": "stalledDL"})
        first.at(t0 + 671)
        assert code_of(first.db, S) == "fail"  # 61 s of stall qbarr saw: past StalledDelay
        first.at(t0 + 701)
        assert first.stalled_for(S2) == 30 and code_of(first.db, S2) == "grace"
    finally:
        first.close()
    # the manager was stopped for an hour: a new process does not count that hour either
    second = Loop(home, world, t0 + 701 + 3600)
    try:
        second.at(t0 + 701 + 3600)
        assert second.stalled_for(S2) == 30
        second.at(t0 + 701 + 3631)
        assert code_of(second.db, S2) == "fail"
    finally:
        second.close()


def test_a_first_start_gives_every_stall_its_grace(tmp_path: Path, world: World) -> None:
    day = 86400
    hashes = [f"{n:02x}" * 20 for n in range(0x30, 0x44)]
    world.add(
        *(spec(h, "stalledDL", progress=0.1, added_ago=2 * day, inactive_for=day) for h in hashes)
    )
    for h in hashes:
        world.wait_queued(h)
    home = world.write_config(torrent={"StalledDelay": "15m"})
    loop = Loop(home, world, time.time())
    try:
        report = loop.at(loop.t)
        assert report.counts == {"stalled": len(hashes)}
        assert {code_of(loop.db, h) for h in hashes} == {"grace"}
        assert rows(loop.db, "SELECT * FROM actions") == []
    finally:
        loop.close()


def test_status_shows_what_is_waiting_and_why(
    tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.add(spec(C, "uploading"))
    world.wait_queued(C)
    m = world.manager()
    home = world.home
    world.arr.faults.update({"error_rate": 1.0, "method": "POST"})  # refused with a 503
    try:
        m.step()
        backlog = beat(m)["stats"]["backlog"]
        assert backlog["count"] == 1 and backlog["kinds"]["import"]["why"] == {"unknown": 1}
        assert "503" in backlog["last_error"]
        text = status_text(home, capsys)
        assert "not done yet: import 1 (oldest " in text
        assert "1 answer lost, looked up before a resend)" in text
        assert "last action error (" in text and "answered 503 to POST command" in text
        world.arr.faults.clear()
        # the retry comes after the journal's back-off (10 s): its last try is moved back
        with write_txn(m.db) as db:
            db.execute("UPDATE actions SET updated_at = updated_at - 60")

        def done() -> bool:
            m.step()
            return beat(m)["stats"]["backlog"]["count"] == 0

        wait_for(done, timeout=20, what="the import sent once the Arr accepts it")
        assert len(world.commands("DownloadedMoviesScan")) == 1  # looked up, not found, sent
        assert "not done yet" not in status_text(home, capsys)
    finally:
        m.close()
