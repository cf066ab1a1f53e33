"""A manager reuses the decision of an unfinished torrent that does not move (stalled, paused,
queued) instead of deciding it again every cycle, but never past a moment its own clocks can
change it: the stall reaching StalledDelay still fails it on time; a change of its fields or of
the free space decides it again at once. Driven against the qBittorrent simulator (in this
process) on a fake clock, in dry run (nothing is carried out)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr import config as configmod
from qbarr import db as dbmod
from qbarr import manager as managermod
from qbarr.manager import REDECIDE_STILL_AFTER, TorrentLoop
from qbarr.qbittorrent import QbtClient
from qbarr.sim.qbittorrent import SimConfig, control, serve_in_thread
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

STALLED, PAUSED = "5" * 40, "9" * 40
DELAY = 40.0


class Arr:
    stats: dict = {}

    def system_status(self) -> dict:
        return {"version": "5.2.6"}

    def queue(self) -> list:
        return []


@pytest.fixture
def loop(tmp_path: Path, monkeypatch) -> Iterator[tuple[TorrentLoop, list[set[str]], object, list]]:
    sim = serve_in_thread(SimConfig(username="u", password="p", refresh_ms=0))
    with sim.store.lock:
        sim.store.clock.set_scale(0)
        control.upsert(
            sim.store,
            [
                {
                    "hash": STALLED,
                    "state": "stalledDL",
                    "category": "radarr",
                    "progress": 0.3,
                    "added_ago": 3600,
                    "inactive_for": 0,
                },
                {
                    "hash": PAUSED,
                    "state": "pausedDL",
                    "category": "radarr",
                    "progress": 0.3,
                    "added_ago": 3600,
                },
            ],
        )
    (tmp_path / "config.ini").write_text(
        f"[Settings]\nDryRun = true\n[qBittorrent]\nURL = {sim.url}\nUsername = u\nPassword = p\n"
        "[Radarr-A]\nURL = http://127.0.0.1:1\nAPIKey = k1234567\nCategory = radarr\n"
        f"    [[Torrent]]\n    IgnoreYoungerThan = 0\n    StalledDelay = {DELAY:g}s\n"
    )
    cfg = configmod.load(tmp_path / "config.ini")
    db = open_db(tmp_path / "qbarr.db")
    decided: list[set[str]] = []
    real = managermod.policy.decide

    def counting(torrents, *args, **kwargs):  # type: ignore[no-untyped-def]
        decided.append(set(torrents))
        return real(torrents, *args, **kwargs)

    monkeypatch.setattr(managermod.policy, "decide", counting)
    now = [time.time()]
    qbt = QbtClient(sim.url, "u", "p")
    try:
        yield (
            TorrentLoop(cfg, cfg.instances[0], db, qbt, Arr(), clock=lambda: now[0]),
            decided,
            sim,
            now,
        )
    finally:
        qbt.close()
        db.close()
        sim.stop()


def rule_of(loop: TorrentLoop, h: str) -> tuple[str, str]:
    d, _ = loop.decided.get(h, (None, 0))
    if d is None:
        found = dbmod.rows(
            loop.db, "SELECT last_rule, last_code FROM torrents WHERE hash = ?", (h,)
        )
        return found[0]["last_rule"], found[0]["last_code"]
    return d.rule, d.code


def test_still_torrents_are_reused_until_their_own_clock(loop) -> None:
    loop, decided, sim, now = loop
    loop.cycle()
    assert {STALLED, PAUSED} <= decided[-1]
    assert rule_of(loop, STALLED) == ("stalled", "grace")
    for _ in range(3):
        now[0] += 2
        loop.cycle()
        assert not decided[-1] & {STALLED, PAUSED}, "unchanged and not moving: reused"
    deadline = loop.memory[STALLED].stalled_since + DELAY
    last = now[0] - 6
    while now[0] < deadline:  # 2 s cycles up to the deadline: decided every 15 s at most
        now[0] = min(now[0] + 2, deadline)
        loop.cycle()
        if STALLED in decided[-1]:
            assert now[0] - last >= REDECIDE_STILL_AFTER or now[0] >= deadline
            last = now[0]
        assert now[0] - last <= REDECIDE_STILL_AFTER
    assert STALLED in decided[-1] and now[0] >= deadline
    now[0] += 0.01  # the rule fails a stall longer than StalledDelay: the very next cycle
    loop.cycle()
    assert STALLED in decided[-1]
    assert rule_of(loop, STALLED) == ("stalled", "fail"), "failed on time, not later"


def test_a_change_of_the_torrent_or_of_the_free_space_decides_again(loop) -> None:
    loop, decided, sim, now = loop
    loop.cycle()
    now[0] += 1
    loop.cycle()
    assert not decided[-1] & {STALLED, PAUSED}
    with sim.store.lock:
        control.upsert(sim.store, [{"hash": PAUSED, "tags": "x"}])
    now[0] += 1
    loop.cycle()
    assert PAUSED in decided[-1] and STALLED not in decided[-1]
    with sim.store.lock:
        control.server(sim.store, {"free_space_on_disk": 10**9})
    now[0] += 1
    loop.cycle()
    assert {STALLED, PAUSED} <= decided[-1], "the free space changed: every still torrent again"
