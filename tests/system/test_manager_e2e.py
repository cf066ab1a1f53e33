"""The Arr manager end to end: real supervisord, real qbarr-arr, qBittorrent and Radarr simulators.

Each scenario drives the qBittorrent simulator through its /sim control API and checks what the
manager did where it matters: the commands and blocklist of the Radarr simulator, the torrents
left in qBittorrent, the journal, the heartbeat, and the operator's CLI (`why`, `status`, `brake`).
Waits go through wait_for; "within 2 cycles" is counted with the heartbeat's cycle counter.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from configobj import ConfigObj

from tests.system.conftest import Suite, short_home, start_suite
from tests.system.manager_helpers import (
    Inst,
    actions,
    blocklist_by_hash,
    commands,
    cycles,
    decisions,
    manager_config,
    scans_by_hash,
    spec,
    start_manager_suite,
    torrent_fields,
    wait_cycles,
    world,
)

pytestmark = pytest.mark.system

FAST = {"LoopInterval": "1s", "QueueRefresh": "1s"}
GIB = 2**30


def H(tag: str, n: int) -> str:
    """A readable 40-hex hash: tag (hex letters) + number."""
    return (tag + f"{n:04d}").ljust(40, "0")


# -- one suite, three instances: import + stalled, seeding by ratio (remove), by time (pause) --


@pytest.fixture(scope="module")
def main(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Suite, object, dict]]:
    workdir = tmp_path_factory.mktemp("manager-e2e")
    with world(workdir, ["radarr", "ratio", "seedtime"]) as (qbt, arrs):
        instances = [
            Inst(
                "Radarr-Main",
                "radarr",
                arrs["radarr"].url,
                torrent={"IgnoreYoungerThan": "0", "StalledDelay": "3s"},
            ),
            Inst(
                "Radarr-Ratio",
                "ratio",
                arrs["ratio"].url,
                seeding={"MaxUploadRatio": "1", "RemoveMode": "ratio", "Action": "remove"},
            ),
            Inst(
                "Radarr-Time",
                "seedtime",
                arrs["seedtime"].url,
                seeding={"MaxSeedingTime": "1h", "RemoveMode": "time", "Action": "pause"},
            ),
        ]
        home = short_home()
        home.root.mkdir(parents=True, exist_ok=True)
        home.config.write_text(manager_config(qbt.url, instances, FAST))
        suite = start_suite(home=home, arrs=[i.spec for i in instances])
        try:
            yield suite, qbt, arrs
        finally:
            suite.stop_quietly()
            shutil.rmtree(home.root, ignore_errors=True)


def test_a_completed_torrent_gets_its_scan_command_once_within_two_cycles(main) -> None:
    suite, qbt, arrs = main
    arr, h = arrs["radarr"], H("c0", 1)
    qbt.control(
        "POST", "/sim/torrents", [spec(h, "radarr", "downloading", progress=0.5, dl_speed=1024)]
    )
    arr.control("POST", "/sim/poll")
    suite.wait_for(
        lambda: [d for d in decisions(suite, "Radarr-Main", h) if d["rule"] == "ok"],
        "the download seen",
    )
    before = cycles(suite, "Radarr-Main")
    qbt.control("POST", f"/sim/torrents/{h}", {"state": "stalledUP"})

    def planned_at_cycle() -> int | None:
        found = suite.query(
            "SELECT (SELECT cycles FROM instances WHERE name = 'Radarr-Main') AS cycles, "
            "(SELECT COUNT(*) FROM actions WHERE key = ?) AS n",
            (f"import:{h}",),
        )[0]
        return found["cycles"] if found["n"] else None

    seen = suite.wait_for(planned_at_cycle, "the import planned", timeout=30, poll=0.02)
    assert seen - before <= 2, (
        f"import planned in cycle {seen + 1}, completion seen after cycle {before}"
    )
    suite.wait_for(
        lambda: scans_by_hash(arr)[h] >= 1, "the DownloadedMoviesScan in the Radarr simulator"
    )
    wait_cycles(suite, "Radarr-Main", 4)
    scans = [
        c
        for c in commands(arr, "DownloadedMoviesScan")
        if c["body"]["downloadClientId"].lower() == h
    ]
    assert len(scans) == 1, scans
    assert scans[0]["body"]["path"] == torrent_fields(qbt, h)["content_path"]
    assert scans[0]["body"]["importMode"] == "Auto"
    download = next(d for d in arr.control("GET", "/sim/downloads") if d["hash"] == h)
    suite.wait_for(
        lambda: next(d for d in arr.control("GET", "/sim/downloads") if d["hash"] == h)["imported"],
        "the simulator imported it",
    )
    assert download["source"] == "adopted"
    done = actions(suite, "Radarr-Main", "hash = ?", (h,))
    assert [(a["kind"], a["status"]) for a in done] == [("import", "done")]
    assert torrent_fields(qbt, h) is not None, "an imported torrent keeps seeding"


def test_a_stalled_torrent_is_failed_after_stalled_delay_and_the_arr_grabs_a_replacement(
    main,
) -> None:
    suite, qbt, arrs = main
    arr, h = arrs["radarr"], H("5a", 1)
    qbt.control("POST", "/sim/torrents", [spec(h, "radarr", "stalledDL", progress=0.2)])
    arr.control("POST", "/sim/poll")
    media = suite.wait_for(
        lambda: next(
            (d["media_ids"] for d in arr.control("GET", "/sim/downloads") if d["hash"] == h), None
        ),
        "the Radarr simulator adopting it",
    )
    suite.wait_for(
        lambda: torrent_fields(qbt, h) is None, "the stalled torrent deleted", timeout=60
    )
    assert blocklist_by_hash(arr)[h] == 1
    history = decisions(suite, "Radarr-Main", h)
    codes = [(d["rule"], d["code"]) for d in history]
    assert codes == [("stalled", "grace"), ("stalled", "fail")]
    assert json.loads(history[-1]["inputs"])["stalled_for"] >= 3
    searches = suite.wait_for(
        lambda: [
            c
            for c in commands(arr, "MoviesSearch")
            if c["body"]["movieIds"] == media and c["status"] == "completed"
        ],
        "the search again",
    )
    assert len(searches) == 1
    grabbed = searches[0]["grabs"]
    assert grabbed, "the Radarr simulator grabbed a replacement"
    seen = suite.wait_for(
        lambda: suite.query("SELECT category FROM torrents WHERE hash = ?", (grabbed[0],)),
        "the manager seeing the replacement in qBittorrent",
    )
    assert (
        seen[0]["category"] == "radarr"
    )  # (a magnet nobody serves: it will stall and be failed in turn)
    added = [d for d in arr.control("GET", "/sim/downloads") if d["hash"] == grabbed[0]]
    assert added and added[0]["source"] != "adopted" and added[0]["media_ids"] == media
    steps = actions(suite, "Radarr-Main", "hash = ?", (h,))
    assert [(a["kind"], a["status"]) for a in steps] == [
        ("blocklist", "done"),
        ("delete", "done"),
        ("search", "done"),
    ]
    assert json.loads(steps[1]["params"]) == {"delete_files": True}
    why = suite.qbarr("why", h)
    assert why.returncode == 0, why.stderr
    assert "stalled (grace)" in why.stdout and "stalled (fail)" in why.stdout
    assert "blocklist    done" in why.stdout and "delete       done" in why.stdout
    assert (
        "searches for it:" in why.stdout and "searched (stalled) with MoviesSearch#" in why.stdout
    )


def test_seeding_limits_remove_by_ratio_and_pause_by_time(main) -> None:
    suite, qbt, arrs = main
    hi, lo = H("a1", 1), H("a1", 2)
    old, new = H("b1", 1), H("b1", 2)
    qbt.control(
        "POST",
        "/sim/torrents",
        [
            spec(hi, "ratio", "stalledUP", ratio=2.0),
            spec(lo, "ratio", "stalledUP", ratio=0.5),
            spec(old, "seedtime", "stalledUP", seeding_time=7200),
            spec(new, "seedtime", "stalledUP", seeding_time=600),
        ],
    )
    arrs["ratio"].control("POST", "/sim/poll")
    arrs["seedtime"].control("POST", "/sim/poll")
    suite.wait_for(lambda: torrent_fields(qbt, hi) is None, "ratio 2 >= MaxUploadRatio 1: removed")
    suite.wait_for(
        lambda: (torrent_fields(qbt, old) or {}).get("state") == "pausedUP",
        "seeding time 2h: paused",
    )
    wait_cycles(suite, "Radarr-Ratio", 3)
    wait_cycles(suite, "Radarr-Time", 3)
    # every one was imported first (seeding never removes what the Arr has not imported), once
    for arr, hashes in ((arrs["ratio"], (hi, lo)), (arrs["seedtime"], (old, new))):
        scans = scans_by_hash(arr)
        assert all(scans[h] == 1 for h in hashes), scans
    assert torrent_fields(qbt, lo)["state"] == "stalledUP"
    assert torrent_fields(qbt, new)["state"] == "stalledUP"
    assert torrent_fields(qbt, old)["state"] == "pausedUP"
    rules = {
        r["hash"]: (r["last_rule"], r["last_reason"])
        for r in suite.query(
            "SELECT hash, last_rule, last_reason FROM torrents "
            "WHERE instance IN ('Radarr-Ratio', 'Radarr-Time')"
        )
    }
    assert rules[lo][0] == "ok" and "ratio 0.50/1" in rules[lo][1]
    assert rules[new][0] == "ok" and "seeding" in rules[new][1]
    assert rules[old][0] == "seeding-done"
    removed = actions(suite, "Radarr-Ratio", "hash = ?", (hi,))
    assert [(a["kind"], a["status"]) for a in removed] == [("import", "done"), ("delete", "done")]
    assert json.loads(removed[1]["params"]) == {"delete_files": True}
    paused = actions(suite, "Radarr-Time", "hash = ?", (old,))
    assert [(a["kind"], a["key"], a["status"]) for a in paused] == [
        ("import", f"import:{old}", "done"),
        ("pause", f"seed-pause:{old}", "done"),
    ]
    assert not actions(suite, "Radarr-Ratio", "hash = ? AND kind != 'import'", (lo,))
    assert not actions(suite, "Radarr-Time", "hash = ? AND kind != 'import'", (new,))
    assert blocklist_by_hash(arrs["ratio"])[hi] == 0, "seeding-done never blocklists"


# -- free space: its own suite (FreeSpace is a [Settings] key) ---------------------------------


def test_free_space_pauses_what_does_not_fit_and_resumes_only_what_qbarr_paused(
    suite_factory, tmp_path: Path
) -> None:
    first, second, users = H("f1", 1), H("f1", 2), H("f1", 3)
    with world(tmp_path, ["radarr"]) as (qbt, arrs):
        qbt.control("POST", "/sim/server", {"free_space_on_disk": 100 * GIB})
        slow = {"size": 8 * GIB, "progress": 0.5, "dl_speed": 1024}
        qbt.control(
            "POST",
            "/sim/torrents",
            [
                spec(first, "radarr", "downloading", added_ago=3000, **slow),
                spec(second, "radarr", "downloading", added_ago=2000, **slow),
                spec(users, "radarr", "pausedDL", added_ago=1000, **slow),
            ],
        )
        arrs["radarr"].control("POST", "/sim/poll")
        inst = Inst("Radarr-Main", "radarr", arrs["radarr"].url)
        suite = start_manager_suite(suite_factory, qbt.url, [inst], {**FAST, "FreeSpace": "10G"})
        suite.wait_for(
            lambda: len(suite.query("SELECT hash FROM torrents WHERE last_rule = 'ok'")) == 3,
            "all three judged ok with 100 GiB free",
        )
        # 16 GiB free - FreeSpace 10 GiB = 6 GiB: the oldest (needs 4 GiB) fits, the next one
        # does not
        qbt.control("POST", "/sim/server", {"free_space_on_disk": 16 * GIB})
        suite.wait_for(
            lambda: torrent_fields(qbt, second)["state"] == "pausedDL", "the second download paused"
        )
        wait_cycles(suite, "Radarr-Main", 3)
        assert torrent_fields(qbt, first)["state"] == "downloading"
        assert torrent_fields(qbt, second)["state"] == "pausedDL"
        qbt.control("POST", "/sim/server", {"free_space_on_disk": 100 * GIB})
        suite.wait_for(
            lambda: torrent_fields(qbt, second)["state"] == "downloading",
            "the second download resumed",
        )
        wait_cycles(suite, "Radarr-Main", 3)
        assert torrent_fields(qbt, users)["state"] == "pausedDL", (
            "a download the user paused stays paused"
        )
        assert [(a["kind"], a["status"]) for a in actions(suite, "Radarr-Main", "1")] == [
            ("pause", "done"),
            ("resume", "done"),
        ]
        assert {a["hash"] for a in actions(suite, "Radarr-Main", "1")} == {second}
        rules = [(d["rule"], d["code"]) for d in decisions(suite, "Radarr-Main", second)]
        assert ("free-space", "pause") in rules and ("free-space", "resume") in rules
        assert all(d["rule"] != "free-space" for d in decisions(suite, "Radarr-Main", users))


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_journals_every_decision_and_changes_nothing(suite_factory, tmp_path: Path) -> None:
    done, stalled = H("d1", 1), H("d1", 2)
    with world(tmp_path, ["radarr"]) as (qbt, arrs):
        arr = arrs["radarr"]
        qbt.control(
            "POST",
            "/sim/torrents",
            [
                spec(done, "radarr", "stalledUP"),
                spec(stalled, "radarr", "stalledDL", progress=0.1, inactive_for=600),
            ],
        )
        arr.control("POST", "/sim/poll")
        inst = Inst(
            "Radarr-Main",
            "radarr",
            arr.url,
            torrent={"IgnoreYoungerThan": "0", "StalledDelay": "3s"},
        )
        suite = start_manager_suite(suite_factory, qbt.url, [inst], {**FAST, "DryRun": "true"})
        suite.wait_for(
            lambda: len(actions(suite, "Radarr-Main", "status = 'skipped'")) >= 4,
            "the dry-run import and fail actions journaled",
        )
        wait_cycles(suite, "Radarr-Main", 4)
        assert arr.control("GET", "/sim/commands")["total"] == 0
        assert arr.control("GET", "/sim/blocklist") == []
        assert torrent_fields(qbt, done)["state"] == "stalledUP"
        assert torrent_fields(qbt, stalled)["state"] == "stalledDL"
        journal = actions(suite, "Radarr-Main", "1")
        assert {(a["kind"], a["key"], a["status"], a["result"]) for a in journal} == {
            ("import", f"dry:import:{done}", "skipped", "dry run: nothing changed"),
            ("blocklist", f"dry:blocklist:{stalled}", "skipped", "dry run: nothing changed"),
            ("delete", f"dry:delete:{stalled}", "skipped", "dry run: nothing changed"),
            ("search", f"dry:search:{stalled}", "skipped", "dry run: nothing changed"),
        }
        rows = suite.query(
            "SELECT rule, dry_run FROM decisions WHERE hash IN (?, ?)", (done, stalled)
        )
        assert {("import", 1), ("stalled", 1)} <= {(r["rule"], r["dry_run"]) for r in rows}
        assert all(r["dry_run"] == 1 for r in rows)
        assert suite.query("SELECT COUNT(*) AS n FROM searches")[0]["n"] == 0
        why = suite.qbarr("why", stalled)
        assert (
            why.returncode == 0
            and "[dry run]" in why.stdout
            and "skipped   (dry run)" in why.stdout
        )


# -- the brake ---------------------------------------------------------------------------------


def test_the_brake_holds_five_removals_until_released(suite_factory, tmp_path: Path) -> None:
    stalled = [H("b2", n) for n in range(5)]
    with world(tmp_path, ["radarr"], arr_options={"radarr": {"grab_probability": 0.0}}) as (
        qbt,
        arrs,
    ):
        arr = arrs["radarr"]
        qbt.control(
            "POST",
            "/sim/torrents",
            [spec(h, "radarr", "stalledDL", progress=0.1, inactive_for=600) for h in stalled],
        )
        arr.control("POST", "/sim/poll")
        inst = Inst(
            "Radarr-Main",
            "radarr",
            arr.url,
            torrent={"IgnoreYoungerThan": "0", "StalledDelay": "3s"},
        )
        suite = start_manager_suite(
            suite_factory, qbt.url, [inst], {**FAST, "BrakeMaxRemovals": "2"}
        )
        suite.wait_for(
            lambda: (suite.heartbeat("Radarr-Main") or {}).get("status") == "brake",
            "the heartbeat reporting the brake",
        )
        wait_cycles(suite, "Radarr-Main", 3)
        assert all(torrent_fields(qbt, h) is not None for h in stalled), "nothing removed"
        assert arr.control("GET", "/sim/blocklist") == []
        beat = suite.heartbeat("Radarr-Main")
        assert beat["brake_engaged"] == 1 and "BrakeMaxRemovals 2" in beat["brake_reason"]
        assert json.loads(beat["stats"])["brake"] is True
        held = actions(suite, "Radarr-Main", "status = 'held'")
        assert {(a["kind"], a["hash"]) for a in held} == {
            (k, h) for h in stalled for k in ("blocklist", "delete")
        }
        status = suite.qbarr("status")
        assert "brake ENGAGED" in status.stdout and "status brake" in status.stdout
        brake = suite.qbarr("brake", "status")
        assert (
            "Radarr-Main: brake ENGAGED" in brake.stdout
            and "held: 10 action(s) on 5 torrent(s)" in brake.stdout
        )

        released = suite.qbarr("brake", "release", "Radarr-Main")
        assert released.returncode == 0 and "brake released; 10 held action(s)" in released.stdout
        suite.wait_for(
            lambda: all(torrent_fields(qbt, h) is None for h in stalled), "all five failed"
        )
        suite.wait_for(
            lambda: (suite.heartbeat("Radarr-Main") or {}).get("status") == "ok", "status ok again"
        )
        assert blocklist_by_hash(arr) == {h: 1 for h in stalled}
        finished = actions(suite, "Radarr-Main", "1")
        assert {a["status"] for a in finished} == {"done"}
        assert all(a["released_at"] is not None for a in finished)
        assert (
            len(commands(arr, "MoviesSearch"))
            == len([a for a in finished if a["kind"] == "search"])
            == 5
        )
        assert "Radarr-Main: brake off, last released" in suite.qbarr("brake", "status").stdout


# -- the same suite on PostgreSQL --------------------------------------------------------------


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_on_postgresql_a_completed_torrent_is_imported_once_and_why_status_and_the_web_ui_show_it(
    engine, suite_factory, tmp_path: Path
) -> None:
    """The representative end-to-end run on PostgreSQL (the other scenarios run on SQLite;
    their SQL runs on both engines in the unit tests): the whole suite under supervisord
    with [Settings] Database naming the test's database, one completed download imported
    exactly once, and the operator's views (`qbarr why`, `qbarr status`, the web UI's API)
    read it from there."""
    h = H("e0", 1)
    with world(tmp_path, ["radarr"]) as (qbt, arrs):
        arr = arrs["radarr"]
        qbt.control("POST", "/sim/torrents", [spec(h, "radarr", "stalledUP")])
        arr.control("POST", "/sim/poll")
        inst = Inst("Radarr-Main", "radarr", arr.url, torrent={"IgnoreYoungerThan": "0"})
        suite = start_manager_suite(
            suite_factory, qbt.url, [inst], {**FAST, "Database": engine.url}
        )
        assert not suite.home.database.exists()  # nothing went to a SQLite file
        suite.wait_for(lambda: scans_by_hash(arr)[h] >= 1, "the import in the Radarr simulator")
        wait_cycles(suite, "Radarr-Main", 4)
        assert scans_by_hash(arr)[h] == 1
        done = actions(suite, "Radarr-Main", "hash = ?", (h,))
        assert [(a["kind"], a["status"]) for a in done] == [("import", "done")]
        why = suite.qbarr("why", h)
        assert why.returncode == 0 and "import" in why.stdout and "done" in why.stdout, why
        status = suite.qbarr("status")
        assert status.returncode == 0 and "Radarr-Main" in status.stdout, status
        cfg = ConfigObj(str(suite.home.config))
        url = f"http://127.0.0.1:{cfg['WebUI']['Port']}/api/torrents/{h}"
        auth = {"Authorization": f"Bearer {cfg['WebUI']['Token']}"}
        timeline = suite.wait_for(
            lambda: _ok_json(httpx.get(url, headers=auth, timeout=10)), "the web UI's timeline"
        )
        texts = [e["text"] for e in timeline["events"]]
        assert [t for t in texts if t.startswith("import: done")], texts


def _ok_json(response: httpx.Response) -> dict | None:
    return response.json() if response.status_code == 200 else None
