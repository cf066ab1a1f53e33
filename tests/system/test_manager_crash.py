"""Crash safety: SIGKILL the manager at random points while 200 torrents live their lives.

A qBittorrent simulator holds 200 torrents of one Radarr instance (seeded RNG): complete seeds
(imported, some past the ratio limit and removed), downloads that complete later (imported),
downloads that stall (failed: blocklist, delete, search) or hit an I/O error (failed at once,
MaxRechecks 0), torrents with missing files (removed and searched, no blocklist), and downloads
the "user" moves to RecheckCategory or FailedCategory while everything runs. Meanwhile the
manager, run by a real supervisord, is SIGKILLed a bounded number of times (seeded): after a
random number of actions or cycles, while the journal shows actions being carried out, or while
it is still starting.
supervisord restarts it every time.

At the end (everything settled, suite stopped): every action in the journal is finished (done or
skipped) with a unique key; the Radarr simulator saw at most one DownloadedMoviesScan per
downloadClientId and exactly one per import done, at most one blocklist entry per torrent and
exactly one per blocklist done; no search was sent twice for one action; every torrent ended
where its life leads; and the database passes PRAGMA integrity_check.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest

from qbarr import db as dbmod
from tests.system.conftest import Suite
from tests.system.manager_helpers import (
    Inst,
    Killer,
    blocklist_by_hash,
    commands,
    count_actions,
    scans_by_hash,
    sim_hashes,
    spec,
    start_manager_suite,
    wait_cycles,
    world,
)

pytestmark = pytest.mark.system

SEED = int(
    os.environ.get("QBARR_CRASH_SEED", "20240611")
)  # another seed: other kill points, other torrents
KILLS = 10
PROGRAM = "arr:arr-radarr-crash"
INSTANCE = "Radarr-Crash"
MIB = 2**20


def lifecycle(rnd: random.Random) -> tuple[list[dict], dict[str, list[str]]]:
    """200 torrent specs and their hashes by fate."""
    fates = (
        ["seed"] * 50
        + ["complete"] * 60
        + ["stall"] * 40
        + ["error"] * 20
        + ["missing"] * 10
        + ["recheck"] * 10
        + ["manual-fail"] * 10
    )
    specs, by_fate = [], {}
    for i, fate in enumerate(fates):
        h = f"{rnd.getrandbits(160):040x}"
        by_fate.setdefault(fate, []).append(h)
        size = rnd.randint(64, 512) * MIB
        if fate == "seed":
            # stalledUP: no upload, so the ratio stays what it is (uploading seeds would cross
            # the limit)
            s = spec(h, "radarr", "stalledUP", size=size, ratio=round(rnd.uniform(0, 3), 2))
        elif fate == "complete":
            left = size * 0.6
            s = spec(
                h,
                "radarr",
                "downloading",
                size=size,
                progress=0.4,
                dl_speed=int(left / rnd.uniform(2, 30)),
            )
        elif fate in ("stall", "error"):
            s = spec(
                h,
                "radarr",
                "downloading",
                size=size,
                progress=0.3,
                dl_speed=64 * 1024,
                **{f"{fate}_after": rnd.uniform(2, 30)},
            )
        elif fate == "missing":
            s = spec(h, "radarr", "missingFiles", size=size)
        else:
            s = spec(h, "radarr", "downloading", size=size, progress=0.2, dl_speed=16 * 1024)
        s["name"] = f"Crash.{fate}.{i:03d}.2020.1080p"
        specs.append(s)
    return specs, by_fate


def unfinished(suite: Suite) -> int:
    return count_actions(suite, "instance = ? AND status NOT IN ('done', 'skipped')", (INSTANCE,))


def test_sigkill_at_random_points_every_action_exactly_once(suite_factory, tmp_path: Path) -> None:
    rnd = random.Random(SEED)
    specs, fate = lifecycle(rnd)
    with world(
        tmp_path, ["radarr"], arr_options={"radarr": {"grab_probability": 0.0, "library": 600}}
    ) as (qbt, arrs):
        arr = arrs["radarr"]
        qbt.control("POST", "/sim/torrents", specs)
        arr.control("POST", "/sim/poll")
        inst = Inst(
            INSTANCE,
            "radarr",
            arr.url,
            torrent={"IgnoreYoungerThan": "0", "StalledDelay": "3s", "MaxRechecks": "0"},
            seeding={"MaxUploadRatio": "1.5", "RemoveMode": "ratio", "Action": "remove"},
        )
        suite = start_manager_suite(
            suite_factory,
            qbt.url,
            [inst],
            {"LoopInterval": "0.5s", "QueueRefresh": "1s", "BrakeMaxRemovals": "0"},
        )
        arr.control(
            "POST", "/sim/faults", json={"latency": 0.03}
        )  # wider windows inside the executor
        killer = Killer(rnd, {PROGRAM: INSTANCE})
        for n in range(KILLS):
            killer.kill(suite, PROGRAM, rnd.choice(["random", "busy", "busy", "starting"]))
            if n == 2:  # the user moves torrents by hand while the manager is down
                for h in fate["recheck"]:
                    qbt.control("POST", f"/sim/torrents/{h}", {"category": "recheck"})
                for h in fate["manual-fail"]:
                    qbt.control("POST", f"/sim/torrents/{h}", {"category": "failed"})
        suite.wait_state(PROGRAM, "RUNNING", not_pid=killer.pids[-1], timeout=90)
        arr.control("DELETE", "/sim/faults")
        killed, hits = killer.pids, killer.hits
        assert len(killed) >= KILLS and len(set(killed)) == len(killed), killed

        gone_fates = fate["stall"] + fate["error"] + fate["missing"] + fate["manual-fail"]

        def settled() -> bool:
            left = sim_hashes(qbt)
            return (
                unfinished(suite) == 0
                and not (left & set(gone_fates))
                and all(scans_by_hash(arr)[h] == 1 for h in fate["complete"])
            )

        suite.wait_for(settled, "every torrent at the end of its life", timeout=120, poll=0.5)
        wait_cycles(suite, INSTANCE, 4)
        suite.wait_for(lambda: unfinished(suite) == 0, "nothing left to do", timeout=60)
        suite.stop()
        scans, blocked = scans_by_hash(arr), blocklist_by_hash(arr)
        searches = commands(arr, "MoviesSearch")
        left = sim_hashes(qbt)
        log = suite.log(PROGRAM)
    assert "Traceback" not in log, log[-3000:]

    db = dbmod.connect(suite.home.database)
    try:
        assert dbmod.rows(db, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
        journal = dbmod.rows(
            db, "SELECT * FROM actions WHERE instance = ? ORDER BY id", (INSTANCE,)
        )
        dupes = dbmod.rows(
            db, "SELECT key, COUNT(*) AS n FROM actions GROUP BY instance, key HAVING n > 1"
        )
        restarts = dbmod.rows(  # looked up after a kill and found: not sent again
            db,
            "SELECT COUNT(*) AS n FROM actions WHERE result LIKE 'already sent%' "
            "OR result LIKE 'already taken%' OR result LIKE 'already blocklisted%'",
        )
    finally:
        db.close()
    print(
        f"kills: {hits}; actions: {Counter((a['kind'], a['status']) for a in journal)}; "
        f"found already sent after a restart: {restarts[0]['n']}"
    )

    assert {a["status"] for a in journal} <= {"done", "skipped"}, Counter(
        a["status"] for a in journal
    )
    assert dupes == []
    imports = {a["hash"] for a in journal if a["kind"] == "import" and a["status"] == "done"}
    assert all(n == 1 for n in scans.values()), {h: n for h, n in scans.items() if n > 1}
    assert set(scans) == imports, "exactly one scan per import done, none without"
    scan_ids = [
        int(str(a["result"]).split(" id ")[1].split()[0])
        for a in journal
        if a["kind"] == "import" and str(a["result"]).startswith("command ")
    ]
    assert len(scan_ids) == len(set(scan_ids))
    assert all(n == 1 for n in blocked.values()), {h: n for h, n in blocked.items() if n > 1}
    blocklisted = {a["hash"] for a in journal if a["kind"] == "blocklist" and a["status"] == "done"}
    assert set(blocked) <= blocklisted
    assert len(blocklisted - set(blocked)) <= restarts[0]["n"] + len(fate["manual-fail"])
    # Each search action sent its command once: the command ids its results name are distinct and
    # the Arr has them; a search interrupted by a kill was looked up before being sent again
    # ("already sent"); the others were held back by the shared re-search cooldown (several
    # torrents of one movie), so the Arr saw no more commands than that.
    results = [str(a["result"]) for a in journal if a["kind"] == "search"]
    claimed = [int(r.split(" id ")[1].split()[0]) for r in results if r.startswith("command ")]
    assert len(claimed) == len(set(claimed)) and set(claimed) <= {c["id"] for c in searches}
    assert all(
        r.startswith(("command ", "already sent: ", "not searched: searched moments ago"))
        for r in results
    ), Counter(results)
    already = sum(r.startswith("already sent") for r in results)
    assert len(claimed) <= len(searches) <= len(claimed) + already

    # every torrent where its life leads
    assert set(fate["complete"]) <= imports
    assert {h for h in fate["seed"]} <= imports
    assert not left & set(gone_fates)
    assert all(blocked[h] == 1 for h in fate["stall"] + fate["error"]), (
        "stalled and errored: blocklisted once"
    )
    assert all(blocked[h] == 0 for h in fate["missing"]), "missing files: no blocklist"
    assert set(fate["recheck"]) <= left, "rechecked torrents stay"
    high_ratio = {s["hash"] for s in specs if s["hash"] in fate["seed"] and s["ratio"] >= 1.5}
    assert not left & high_ratio and set(fate["seed"]) - high_ratio <= left
    rechecks = {a["hash"] for a in journal if a["kind"] == "recheck" and a["status"] == "done"}
    assert rechecks == set(fate["recheck"])
