"""Slow is not hung: the heartbeat means alive. A program waiting on a slow remote keeps its
heartbeat and says what it waits on; one stuck anywhere else, or in a call past its limit,
does not (the watchdog must still find it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qbarr import store
from qbarr.db import open_migrated, rows
from qbarr.heartbeat import Heartbeat, Pulse, waiting_text
from qbarr.peer import Peer
from tests.support.inproc import World, radarr_world, spec
from tests.support.waiting import wait_for


def row(db: Any, name: str) -> dict[str, Any]:
    found = rows(db, "SELECT * FROM instances WHERE name = ?", (name,))[0]
    found["stats"] = json.loads(found["stats"] or "{}")
    return found


@pytest.fixture
def db(engine, tmp_path: Path) -> Iterator[Any]:
    """Every test that takes it runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    database = engine.open(tmp_path / "qbarr.db")
    yield database
    database.close()


def test_the_pulse_beats_only_while_a_call_is_in_flight_within_its_limit(
    tmp_path: Path, db: Any, engine
) -> None:
    mono, wall = [100.0], [5000.0]
    hb = Heartbeat(db, "Radarr-A", "arr-radarr-a", pid=42, clock=lambda: wall[0])
    hb.started()
    hb.beat("ok", stats={"loop_interval": 2})
    peer = Peer("Radarr", limit=65.0, monotonic=lambda: mono[0])
    pulse = Pulse(engine.location(tmp_path / "qbarr.db"), "Radarr-A", pid=42, clock=lambda: wall[0],
                  monotonic=lambda: mono[0])  # fmt: skip
    pulse.watch([Peer("qBittorrent", 35.0), peer])
    assert pulse.beat_once() is None  # nothing in flight: the main thread's beat is all there is
    with peer.call("POST command"):
        mono[0] += 28
        wall[0] += 28
        assert pulse.beat_once() is not None
        r = row(db, "Radarr-A")
        assert r["heartbeat_at"] == 5028.0 and r["stats"]["loop_interval"] == 2
        assert (
            waiting_text(r["stats"], r["heartbeat_at"]) == "waiting on Radarr: 28 s (POST command)"
        )
        mono[0] += 40  # 68 s: past the call's limit, it is a hang now
        wall[0] += 40
        assert pulse.beat_once() is None and row(db, "Radarr-A")["heartbeat_at"] == 5028.0
    hb.beat("ok", stats={"loop_interval": 2})  # the step ended: the main thread's beat
    r = row(db, "Radarr-A")
    assert waiting_text(r["stats"], r["heartbeat_at"]) is None
    # only its own process's row: a new process under the same name is left alone
    Heartbeat(db, "Radarr-A", "arr-radarr-a", pid=43).started()
    with peer.call("GET queue"):
        pulse.beat_once()
    assert row(db, "Radarr-A")["pid"] == 43 and "waiting" not in row(db, "Radarr-A")["stats"]


@pytest.fixture
def world(engine, tmp_path: Path) -> Iterator[World]:
    with radarr_world(tmp_path) as w:
        yield w


def test_a_manager_waiting_on_a_slow_arr_keeps_its_heartbeat_and_says_so(
    tmp_path: Path, world: World
) -> None:
    h = "c1" * 20
    world.add(spec(h, "uploading"))
    world.wait_queued(h)
    m = world.manager({"HeartbeatTimeout": "10s"}, arr={"Timeout": "10s"})
    try:
        m.step()  # connected, queue read
        m.pulse.period = 0.1
        started = row(m.db, "Radarr-Test")["heartbeat_at"]
        world.arr.faults.update({"latency": 3.0, "path": "/queue"})
        m.loop.queue_at = 0.0  # the next step re-reads the queue: 3 s on a slow Arr
        step = threading.Thread(target=m.step)
        step.start()
        try:

            def waiting() -> str | None:
                r = row(m.db, "Radarr-Test")
                return waiting_text(r["stats"], r["heartbeat_at"])

            text = wait_for(waiting, timeout=10, what="the heartbeat while waiting on the Arr")
            assert text.startswith("waiting on Radarr: ") and text.endswith("(GET queue)")
            assert row(m.db, "Radarr-Test")["heartbeat_at"] > started
            assert row(m.db, "Radarr-Test")["cycles"] == 1  # alive, but no cycle finished
        finally:
            step.join(timeout=30)
        assert (
            row(m.db, "Radarr-Test")["status"] == "ok" and row(m.db, "Radarr-Test")["cycles"] == 2
        )
        assert "waiting" not in row(m.db, "Radarr-Test")["stats"]
    finally:
        m.close()


def test_the_search_program_waiting_on_a_slow_arr_keeps_its_heartbeat(
    tmp_path: Path, world: World
) -> None:
    from qbarr import config as configmod
    from qbarr.search.status import row_name
    from qbarr_programs.search import SearchProgram
    from tests.support.inproc import context

    home = world.write_config(
        {"HeartbeatTimeout": "10s"},
        arr={"Timeout": "10s"},
        search={"Enabled": "true", "SearchDelay": "0"},
    )
    cfg = configmod.load(home.config)
    db = open_migrated(store.location(home))
    program = SearchProgram(context(home), home, cfg, cfg.instance("Radarr-Test"), db)
    try:
        program.pulse.period = 0.1
        world.arr.faults.update({"latency": 3.0, "path": "/wanted/missing"})
        step = threading.Thread(target=program.step)
        step.start()
        try:

            def waiting() -> str | None:
                r = row(db, row_name("Radarr-Test"))
                return waiting_text(r["stats"], r["heartbeat_at"])

            text = wait_for(waiting, timeout=10, what="the search program's heartbeat")
            assert text.startswith("waiting on Radarr: ") and "wanted/missing" in text
        finally:
            step.join(timeout=30)
        assert row(db, row_name("Radarr-Test"))["status"] == "ok"
    finally:
        program.close()
        db.close()
