"""Exactly once when answers are lost, nothing abandoned, slow is not hung: the real suite.

A real supervisord runs ``qbarr-arr`` (and the watchdog) against a qBittorrent simulator
with 60 downloads and a Radarr simulator whose answers get lost, in three phases while the
downloads complete or stall:

1. every POST is carried out but answered after the client's timeout (``latency_after``
   1.5 s against ``Timeout = 1s``): imports and searches are queued, the manager hears
   nothing back;
2. half of all calls are carried out and answered 503 anyway (``apply_then_fail``):
   blocklists, imports, searches, and the reads the look-ups need;
3. the Arr is down (503 for everything) for a few seconds.

Afterwards every completed torrent got exactly one scan command, every stalled one exactly
one blocklist and was deleted, no movie got two searches, nothing is left failed for good
or unfinished, and the manager reported ``arr-down`` (not qBittorrent) during the outage,
kept its one qBittorrent login, and was never restarted.

The second test gives the watchdog a manager and a search program waiting 14 s on every
read of an Arr that answers slowly (HeartbeatTimeout 10 s): they report what they wait on
and neither is taken for hung.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.system.conftest import Suite
from tests.system.manager_helpers import (
    Inst,
    blocklist_by_hash,
    commands,
    scans_by_hash,
    sim_hashes,
    spec,
    start_manager_suite,
    wait_cycles,
    world,
)

pytestmark = pytest.mark.system

INSTANCE = "Radarr-Lost"
PROGRAM = "arr:arr-radarr-lost"
MIB = 2**20


def downloads(rnd: random.Random) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """50 downloads that complete within ~25 s and 10 that stall; (specs, complete, stall)."""
    specs, complete, stall = [], [], []
    for i in range(60):
        h = f"{rnd.getrandbits(160):040x}"
        size = rnd.randint(64, 256) * MIB
        if i < 50:
            left = size * 0.6
            s = spec(h, "radarr", "downloading", size=size, progress=0.4,
                     dl_speed=int(left / rnd.uniform(2, 25)))  # fmt: skip
            complete.append(h)
        else:
            s = spec(h, "radarr", "downloading", size=size, progress=0.3, dl_speed=64 * 1024,
                     stall_after=rnd.uniform(4, 20))  # fmt: skip
            stall.append(h)
        s["name"] = f"Lost.{i:02d}.2020.1080p"
        specs.append(s)
    return specs, complete, stall


def unfinished(suite: Suite) -> list[dict[str, Any]]:
    return suite.query(
        "SELECT kind, status, result FROM actions WHERE instance = ? "
        "AND status NOT IN ('done', 'skipped')",
        (INSTANCE,),
    )


def test_lost_answers_and_an_outage_every_action_once_nothing_abandoned(
    suite_factory: Any, tmp_path: Path
) -> None:
    specs, complete, stall = downloads(random.Random(20240917))
    with world(
        tmp_path, ["radarr"], arr_options={"radarr": {"grab_probability": 0.0, "library": 600}}
    ) as (qbt, arrs):
        arr = arrs["radarr"]
        qbt.control("POST", "/sim/torrents", specs)
        arr.control("POST", "/sim/poll")
        arr.control("POST", "/sim/faults", json={"latency_after": 1.5, "method": "POST"})
        inst = Inst(
            INSTANCE,
            "radarr",
            arr.url,
            timeout="1s",
            torrent={"IgnoreYoungerThan": "0", "StalledDelay": "3s"},
        )
        suite = start_manager_suite(
            suite_factory,
            qbt.url,
            [inst],
            {"LoopInterval": "0.5s", "QueueRefresh": "1s", "BrakeMaxRemovals": "0"},
        )
        pid = suite.pid(PROGRAM)

        # 1. answers after the timeout, effects applied
        suite.wait_for(lambda: len(scans_by_hash(arr)) >= 10, "10 scans through slow answers")
        # 2. half of all calls carried out, then answered 503
        arr.control("POST", "/sim/faults", json={"latency_after": 0, "method": "",
                                                  "apply_then_fail": 0.5})  # fmt: skip
        suite.wait_for(
            lambda: len(scans_by_hash(arr)) >= 25 and len(blocklist_by_hash(arr)) >= 3,
            "25 scans and 3 blocklists through 5xx answers",
            timeout=120,
        )
        # 3. down for a few seconds
        arr.control("DELETE", "/sim/faults")
        arr.control("POST", "/sim/faults", json={"outage": 6})
        down = suite.wait_for(
            lambda: (lambda b: b if b and b["status"] == "arr-down" else None)(
                suite.heartbeat(INSTANCE)
            ),
            "the manager reporting the Arr down",
        )
        suite.wait_for(lambda: arr.control("GET", "/sim/faults")["outage"] == 0, "outage over")

        def settled() -> bool:
            return (
                not unfinished(suite)
                and all(scans_by_hash(arr)[h] == 1 for h in complete)
                and not sim_hashes(qbt) & set(stall)
            )

        suite.wait_for(settled, "every torrent at the end of its life", timeout=180, poll=0.5)
        wait_cycles(suite, INSTANCE, 4)
        scans, blocked = scans_by_hash(arr), blocklist_by_hash(arr)
        searches = commands(arr, "MoviesSearch")
        journal = suite.query("SELECT * FROM actions WHERE instance = ?", (INSTANCE,))
        beat = suite.heartbeat(INSTANCE)
        crashes = suite.crashes(PROGRAM)
        final_pid = suite.pid(PROGRAM)
        log = suite.log(PROGRAM)
        suite.stop()

    assert "Traceback" not in log, log[-3000:]
    # the outage was the Arr's alone
    assert (down["qbt_ok"], down["arr_ok"]) == (1, 0)
    assert "503" in json.loads(down["stats"])["targets"]["arr"]["error"]
    # answers were lost, and the look-ups found what had been carried out
    looked_up = [
        a for a in journal if re.match(r"already (sent|taken|blocklisted)", a["result"] or "")
    ]
    assert looked_up, Counter(a["result"][:40] for a in journal)
    assert re.search(r"(import|search|blocklist) of 1 torrent\(s\): unknown", log)
    # exactly once, nothing abandoned
    assert {h: n for h, n in scans.items() if n != 1} == {}
    assert set(scans) == set(complete)
    assert {h: blocked[h] for h in stall} == {h: 1 for h in stall} and set(blocked) == set(stall)
    searched = Counter(m for c in searches for m in c["body"].get("movieIds", []))
    assert searched and max(searched.values()) == 1, searched
    assert {a["status"] for a in journal} <= {"done", "skipped"}
    assert not [a for a in journal if a["status"] == "failed"]
    # one manager process all along, one login to qBittorrent
    assert crashes == [] and final_pid == pid
    assert json.loads(beat["stats"])["api"]["qbittorrent"]["logins"] == 1


def test_a_slow_arr_is_not_a_hang_for_the_watchdog(suite_factory: Any, tmp_path: Path) -> None:
    with world(tmp_path, ["radarr"], arr_options={"radarr": {"library": 50}}) as (qbt, arrs):
        arr = arrs["radarr"]
        qbt.control("POST", "/sim/torrents", [spec("d" * 40, "radarr", "stalledUP")])
        arr.control("POST", "/sim/poll")
        inst = Inst(
            INSTANCE,
            "radarr",
            arr.url,
            timeout="20s",
            search={"Enabled": "true", "SearchDelay": "0"},
        )
        suite = start_manager_suite(
            suite_factory, qbt.url, [inst], {"QueueRefresh": "1s", "HeartbeatTimeout": "10s"}
        )
        search = "search:search-radarr-lost"
        suite.wait_running([PROGRAM, search])
        pids = {p: suite.pid(p) for p in (PROGRAM, search)}
        wait_cycles(suite, INSTANCE, 2)
        arr.control("POST", "/sim/faults", json={"latency": 14, "method": "GET"})

        def waiting() -> str | None:
            out = suite.qbarr("status").stdout
            return out if out.count("waiting on Radarr: ") >= 2 else None

        status = suite.wait_for(waiting, "both programs saying they wait on Radarr", timeout=60)
        wait_cycles(suite, INSTANCE, 2, timeout=120)  # > 2 x 14 s of waiting
        arr.control("DELETE", "/sim/faults")
        hung = suite.crashes(PROGRAM, "hung") + suite.crashes(search, "hung")
        now_pids = {p: suite.pid(p) for p in (PROGRAM, search)}
        suite.stop()
    manager_line, search_line = (line for line in status.splitlines() if "waiting on" in line)
    assert re.search(r"waiting on Radarr: \d+ s \(GET (queue|system/status)\)", manager_line)
    assert re.search(r"waiting on Radarr: \d+ s \(GET [a-z/]+\)", search_line), status
    assert hung == [] and now_pids == pids
