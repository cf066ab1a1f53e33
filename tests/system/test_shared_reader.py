"""One reader per qBittorrent, end to end: real supervisord, real managers, the simulators.

- Two managers of one qBittorrent cost one poller: every listing request qBittorrent gets
  comes from one session (the reader's), while both managers decide on what it publishes.
- SIGKILL of the reader's process while torrents complete loses and repeats nothing: the
  other manager takes the reader over and every completed torrent is imported exactly once.
- The idle back-off never delays a download's decision beyond the documented bound
  (IdlePollInterval + LoopInterval, counted in reader ticks): a torrent that completes while
  the library is only seeding is imported, whether it was stalled or downloading.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from qbarr.reader.plan import HOT_PER_LOOP
from tests.system.conftest import Suite
from tests.system.manager_helpers import (
    Inst,
    actions,
    cycles,
    scans_by_hash,
    spec,
    start_manager_suite,
    wait_cycles,
    world,
)

pytestmark = pytest.mark.system

LISTINGS = ("sync/maindata", "torrents/info")
MIB = 2**20


def feed(suite: Suite) -> dict:
    found = suite.query("SELECT * FROM qbt_feed WHERE client = 'qBittorrent'")
    return found[0] if found else {}


def test_two_managers_of_one_qbittorrent_cost_one_pollers_requests(suite_factory, tmp_path) -> None:
    with world(tmp_path, ["radarr", "movies"]) as (qbt, arrs):
        qbt.control(
            "POST",
            "/sim/torrents",
            [
                spec(f"{i:040x}", cat, "stalledUP")
                for i, cat in enumerate(["radarr", "movies"] * 20)
            ],
        )
        instances = [
            Inst("Radarr-One", "radarr", arrs["radarr"].url),
            Inst("Radarr-Two", "movies", arrs["movies"].url),
        ]
        suite = start_manager_suite(suite_factory, qbt.url, instances)
        for inst in instances:
            suite.wait_for(
                lambda name=inst.name: (suite.heartbeat(name) or {}).get("torrents") == 20,
                f"{inst.name} deciding on its 20 torrents",
            )
        since = time.time()
        for inst in instances:
            wait_cycles(suite, inst.name, 10)
        log = qbt.control("GET", f"/sim/requests?since={since}")["requests"]
        beats = {i.name: suite.heartbeat(i.name) for i in instances}
    ours = [r for r in log if r["agent"].startswith("qbarr")]  # not the Arr simulators' polls
    listings = [r for r in ours if r["path"] in LISTINGS]
    pollers = {(r["session"], r["agent"]) for r in listings}
    assert len(pollers) == 1, f"listing requests from {pollers}"
    [(_, agent)] = pollers
    assert agent.startswith("qbarr-reader/arr-radarr-")
    assert {b["status"] for b in beats.values()} == {"ok"}
    # the managers' own sessions asked for nothing but what they act on (here: nothing)
    others = {r["path"] for r in ours if r["session"] not in {s for s, _ in pollers}}
    assert not others & set(LISTINGS), others


def test_sigkill_of_the_reader_loses_and_repeats_no_import(suite_factory, tmp_path: Path) -> None:
    cats = ["radarr", "movies"]
    with world(tmp_path, cats, arr_options={c: {"grab_probability": 0.0} for c in cats}) as (
        qbt,
        arrs,
    ):
        downloads = {c: [f"{k + 10:x}{i:039x}" for i in range(24)] for k, c in enumerate(cats)}
        specs = []
        for c, hashes in downloads.items():
            for i, h in enumerate(hashes):
                size = 256 * MIB
                specs.append(
                    spec(h, c, "downloading", size=size, progress=0.5, dl_speed=size // (4 + i))
                )
        qbt.control("POST", "/sim/torrents", specs)
        for arr in arrs.values():
            arr.control("POST", "/sim/poll")
        instances = [
            Inst("Radarr-One", "radarr", arrs["radarr"].url, torrent={"IgnoreYoungerThan": "0"}),
            Inst("Radarr-Two", "movies", arrs["movies"].url, torrent={"IgnoreYoungerThan": "0"}),
        ]
        suite = start_manager_suite(suite_factory, qbt.url, instances, {"QueueRefresh": "1s"})
        killed = []
        for _ in range(3):  # while the downloads complete (4 to 28 s from now)
            current = suite.wait_for(lambda: feed(suite).get("reader_pid"), "a reader")
            killed.append(int(current))
            os.kill(int(current), signal.SIGKILL)
            suite.wait_for(
                lambda pid=current: (
                    feed(suite).get("reader_pid") not in (None, pid)
                    and feed(suite)["polled_at"] > time.time() - 5
                ),
                "another process reading",
                timeout=60,
            )
        every = {h for hashes in downloads.values() for h in hashes}

        def all_imported() -> bool:
            scans = scans_by_hash(arrs["radarr"]) + scans_by_hash(arrs["movies"])
            return every <= set(scans)

        suite.wait_for(all_imported, "every download imported", timeout=120, poll=0.5)
        for inst in instances:
            wait_cycles(suite, inst.name, 4)
        scans = {c: scans_by_hash(arrs[c]) for c in cats}
        journal = {i.name: actions(suite, i.name, "kind = 'import'") for i in instances}
    assert len(set(killed)) == 3, killed
    for c, hashes in downloads.items():
        assert {h: scans[c][h] for h in hashes} == {h: 1 for h in hashes}, c
        assert set(scans[c]) == set(hashes), "no scan for another instance's torrent"
    for name, rows in journal.items():
        keys = [r["key"] for r in rows]
        assert len(keys) == len(set(keys)) and {r["status"] for r in rows} == {"done"}, name


def test_a_torrent_completing_while_only_seeding_is_imported_within_the_bound(
    suite_factory, tmp_path: Path
) -> None:
    idle, loop = 4.0, 0.5
    ticks_per_s = HOT_PER_LOOP / loop
    bound = (idle + loop) * ticks_per_s + 2  # in reader ticks (+2: where in a tick it lands)
    stalled, fresh = "5" * 40, "f" * 40
    with world(tmp_path, ["radarr"], qbt_args=("--counter-interval", "0")) as (qbt, arrs):
        seeds = [spec(f"{i:040x}", "other", "stalledUP") for i in range(1, 30)]  # not managed
        stalled_dl = spec(stalled, "radarr", "stalledDL", progress=0.3)
        qbt.control("POST", "/sim/torrents", [*seeds, stalled_dl])
        arrs["radarr"].control("POST", "/sim/poll")
        inst = Inst("Radarr-Idle", "radarr", arrs["radarr"].url, torrent={"IgnoreYoungerThan": "0"})
        settings = {"LoopInterval": f"{loop}s", "IdlePollInterval": f"{idle}s"}
        suite = start_manager_suite(suite_factory, qbt.url, [inst], settings)

        def idle() -> bool:
            return (feed(suite).get("pace") or "").startswith("idle")

        results = {}
        for h, how in ((stalled, "stalled -> complete"), (fresh, "new, downloading -> complete")):
            suite.wait_for(idle, "the reader at its idle pace", timeout=60, poll=0.1)
            start = feed(suite)["polls"]
            if h == stalled:
                qbt.control("POST", f"/sim/torrents/{h}", {"state": "stalledUP"})
            else:
                new = spec(h, "radarr", "downloading", progress=0.9, dl_speed=MIB)
                qbt.control("POST", "/sim/torrents", [new])
                arrs["radarr"].control("POST", "/sim/poll")
                suite.wait_for(
                    lambda: suite.query("SELECT 1 FROM qbt_torrents WHERE hash = ?", (fresh,)),
                    "the new download seen",
                    poll=0.05,
                )
                start = feed(suite)["polls"]
                qbt.control("POST", f"/sim/torrents/{h}", {"state": "stalledUP"})
            planned = suite.wait_for(
                lambda h=h: suite.query(
                    "SELECT (SELECT polls FROM qbt_feed) AS polls FROM actions WHERE key = ?",
                    (f"import:{h}",),
                ),
                f"the import of the {how} torrent",
                timeout=60,
                poll=0.02,
            )
            results[how] = planned[0]["polls"] - start
        scans = scans_by_hash(arrs["radarr"])
        assert cycles(suite, inst.name) > 0
    assert all(n <= bound for n in results.values()), (results, bound)
    assert scans[stalled] == 1 and scans[fresh] == 1
