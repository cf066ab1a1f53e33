"""Snapshot.apply: merging sync/maindata answers (pure, no I/O)."""

from __future__ import annotations

import pytest

from qbarr.qbittorrent import QbtProtocolError, Snapshot

A, B, C = "a" * 40, "b" * 40, "C" * 40


def full() -> dict:
    return {
        "rid": 1,
        "full_update": True,
        "torrents": {
            A: {"name": "A", "state": "stalledUP", "tags": ""},
            B: {"name": "B", "state": "downloading", "progress": 0.1},
        },
        "categories": {"radarr": {"name": "radarr", "savePath": "/m"}},
        "tags": ["x"],
        "server_state": {"free_space_on_disk": 10, "dl_info_speed": 5},
        "trackers": {"http://t/a": [A]},
    }


def test_full_update_replaces_everything() -> None:
    snap = Snapshot()
    snap.apply(full())
    assert snap.rid == 1 and snap.full_update
    assert snap.torrents[A] == {"name": "A", "state": "stalledUP", "tags": "", "hash": A}
    assert snap.changed == {A, B} and snap.removed == set()
    assert snap.tags == {"x"} and snap.categories["radarr"]["savePath"] == "/m"
    again = full()
    del again["torrents"][B]
    snap.apply(again)
    assert snap.removed == {B} and set(snap.torrents) == {A}


def test_partial_update_merges_fields_and_removals() -> None:
    snap = Snapshot()
    snap.apply(full())
    torrent_a = snap.torrents[A]
    snap.apply(
        {
            "rid": 2,
            "torrents": {B: {"progress": 0.5}, C: {"name": "C", "state": "metaDL"}},
            "torrents_removed": [A],
            "categories": {"tv": {"name": "tv", "savePath": ""}},
            "categories_removed": ["radarr"],
            "tags": ["y"],
            "tags_removed": ["x"],
            "server_state": {"dl_info_speed": 9},
            "trackers_removed": ["http://t/a"],
        }
    )
    assert not snap.full_update and snap.rid == 2
    assert snap.torrents[B] == {"name": "B", "state": "downloading", "progress": 0.5, "hash": B}
    assert snap.torrents[C.lower()]["hash"] == C.lower()  # keys are lower-cased
    assert snap.changed == {B, C.lower()} and snap.removed == {A}
    assert A not in snap.torrents and torrent_a["name"] == "A"
    assert set(snap.categories) == {"tv"} and snap.tags == {"y"}
    assert snap.server_state == {"free_space_on_disk": 10, "dl_info_speed": 9}
    assert snap.trackers == {}


def test_idle_answer_changes_nothing_but_rid() -> None:
    snap = Snapshot()
    snap.apply(full())
    before = {h: dict(t) for h, t in snap.torrents.items()}
    snap.apply({"rid": 3})
    assert snap.rid == 3 and snap.changed == set() and snap.removed == set()
    assert snap.torrents == before


def test_removal_of_a_torrent_changed_in_the_same_answer() -> None:
    snap = Snapshot()
    snap.apply(full())
    snap.apply({"rid": 2, "torrents": {A: {"state": "pausedUP"}}, "torrents_removed": [A]})
    assert snap.removed == {A} and snap.changed == set()


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"torrents": {}},
        {"rid": "2"},
        {"rid": True},
        {"rid": 2, "torrents": []},
        {"rid": 2, "torrents": {A: 5}},
        {"rid": 2, "tags": "x"},
        {"rid": 2, "server_state": []},
    ],
)
def test_malformed_answers_are_rejected_without_change(bad: object) -> None:
    snap = Snapshot()
    snap.apply(full())
    with pytest.raises(QbtProtocolError):
        snap.apply(bad)
    assert snap.rid == 1 and set(snap.torrents) == {A, B}


def test_reset_asks_for_a_full_update() -> None:
    snap = Snapshot()
    snap.apply(full())
    snap.reset()
    assert snap.rid == 0 and snap.torrents == {} and snap.tags == set()
