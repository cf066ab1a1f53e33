"""Tracker health end to end: the suite under supervisord against the qBittorrent simulator,
whose tracker lists the test scripts.

- A torrent whose trackers all answer "unregistered" is tagged at once and failed after
  UnregisteredGrace; `qbarr why` shows the trackers' messages.
- A torrent whose trackers all fail for another reason is only tagged, and untagged when a
  tracker works again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system.manager_helpers import (
    Inst,
    spec,
    start_manager_suite,
    torrent_fields,
    world,
)

pytestmark = pytest.mark.system

UNREG = [
    {"url": "https://a.example/announce", "status": 4, "msg": "Unregistered torrent"},
    {"url": "https://b.example/announce", "status": 4, "msg": "Torrent not found"},
]
DOWN = [{"url": "https://c.example/announce", "status": 4, "msg": "timed out"}]


def tags(qbt, h: str) -> set[str]:
    fields = torrent_fields(qbt, h) or {}
    return {t.strip() for t in str(fields.get("tags") or "").split(",") if t.strip()}


def test_unregistered_is_tagged_then_failed_tracker_errors_tagged(
    suite_factory, tmp_path: Path
) -> None:
    unreg, down = f"{0xAA:040x}", f"{0xBB:040x}"
    with world(tmp_path, ["radarr"], arr_options={"radarr": {"grab_probability": 0.0}}) as (
        qbt,
        arrs,
    ):
        qbt.control(
            "POST",
            "/sim/torrents",
            [
                spec(unreg, "radarr", "stalledUP", progress=1.0, tracker_list=UNREG),
                spec(down, "radarr", "stalledUP", progress=1.0, tracker_list=DOWN),
            ],
        )
        inst = Inst(
            "Radarr-One",
            "radarr",
            arrs["radarr"].url,
            torrent={"IgnoreYoungerThan": "0", "UnregisteredGrace": "6s"},
        )
        suite = start_manager_suite(suite_factory, qbt.url, [inst], {"LoopInterval": "0.5s"})
        suite.wait_for(lambda: "qbarr-unregistered" in tags(qbt, unreg), "the unregistered tag")
        suite.wait_for(lambda: "qbarr-tracker-error" in tags(qbt, down), "the tracker-error tag")
        suite.wait_for(lambda: torrent_fields(qbt, unreg) is None, "the unregistered one failed")
        decisions = suite.query(
            "SELECT rule, reason, code FROM decisions WHERE hash = ? ORDER BY id",
            (unreg,),
        )
        why = suite.qbarr("why", unreg).stdout
        # a tracker of the other one works again: the tag comes off
        qbt.control(
            "POST",
            f"/sim/torrents/{down}",
            {"tracker_list": [{**DOWN[0], "status": 2, "msg": ""}]},
        )
        suite.wait_for(lambda: "qbarr-tracker-error" not in tags(qbt, down), "the tag removed")
        assert torrent_fields(qbt, down) is not None  # only tagged, never failed
    assert [(d["rule"], d["code"]) for d in decisions] == [
        ("unregistered", "grace"),
        ("unregistered", "fail"),
    ]
    assert "every tracker says 'Unregistered torrent'" in decisions[-1]["reason"]
    assert "Unregistered torrent" in why and "Torrent not found" in why
