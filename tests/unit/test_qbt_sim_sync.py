"""The simulator's sync/maindata deltas, property-tested: whatever sequence of changes
(and lost answers), a client applying the deltas holds exactly the server's state.
Also: a delta names only what changed, even among 20,000 torrents."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbarr.qbittorrent import Snapshot
from qbarr.sim.qbittorrent import SimConfig, actions, control, sync
from qbarr.sim.qbittorrent.store import Store

STATES = [
    "downloading",
    "stalledDL",
    "stalledUP",
    "uploading",
    "pausedUP",
    "metaDL",
    "error",
    "missingFiles",
    "checkingDL",
    "queuedDL",
]
CATS = ["radarr", "sonarr", "lidarr"]
TAGS = ["a", "b", "c"]

op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(STATES), st.sampled_from(CATS + [""])),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("pause"), st.integers(0, 50)),
    st.tuples(st.just("resume"), st.integers(0, 50)),
    st.tuples(st.just("category"), st.integers(0, 50), st.sampled_from(CATS + [""])),
    st.tuples(st.just("new_category"), st.sampled_from(CATS)),
    st.tuples(st.just("drop_category"), st.sampled_from(CATS)),
    st.tuples(st.just("tag"), st.integers(0, 50), st.sampled_from(TAGS)),
    st.tuples(st.just("untag"), st.integers(0, 50), st.sampled_from(TAGS)),
    st.tuples(st.just("drop_tag"), st.sampled_from(TAGS)),
    st.tuples(st.just("time"), st.floats(0.5, 120)),
    st.tuples(st.just("lose_answer")),
    st.tuples(st.just("recheck"), st.integers(0, 50)),
)


def new_store() -> Store:
    store = Store(SimConfig(refresh_ms=0, counter_interval=30))
    store.clock.set_scale(0)  # time moves only when the test says so
    return store


def pick(store: Store, i: int) -> list:
    ts = list(store.torrents.values())
    return [ts[i % len(ts)]] if ts else []


def run(store: Store, step: tuple) -> None:
    kind = step[0]
    if kind == "add":
        control.upsert(
            store,
            [
                {
                    "state": step[1],
                    "category": step[2],
                    "size": 5_000_000,
                    "dl_speed": 100_000,
                    "tracker": "http://t.invalid/x",
                }
            ],
        )
    elif kind == "delete":
        actions.delete(store, pick(store, step[1]), False)
    elif kind == "pause":
        actions.pause(store, pick(store, step[1]))
    elif kind == "resume":
        actions.resume(store, pick(store, step[1]))
    elif kind == "category" and (not step[2] or step[2] in store.categories):
        actions.set_category(store, pick(store, step[1]), step[2])
    elif kind == "new_category" and step[1] not in store.categories:
        actions.create_category(store, step[1], "/x")
    elif kind == "drop_category":
        actions.remove_categories(store, [step[1]])
    elif kind == "tag":
        actions.add_tags(store, pick(store, step[1]), [step[2]])
    elif kind == "untag":
        actions.remove_tags(store, pick(store, step[1]), [step[2]])
    elif kind == "drop_tag":
        actions.delete_tags(store, [step[1]])
    elif kind == "time":
        store.clock.advance(step[1])
        store.tick(force=True)
    elif kind == "recheck":
        actions.recheck(store, pick(store, step[1]))


def server_view(store: Store) -> dict:
    return {
        "torrents": {h: {**t.out, "hash": h} for h, t in store.torrents.items()},
        "categories": store.categories,
        "tags": set(store.tags),
        "server_state": store.server_state,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40))
def test_deltas_rebuild_the_server_state(steps: list[tuple]) -> None:
    store = new_store()
    session = store.new_session()
    snap = Snapshot()
    for step in steps:
        if step[0] == "lose_answer":
            sync.maindata(store, session, snap.rid)  # computed, sent, never received
            continue
        run(store, step)
        answer = json.loads(json.dumps(sync.maindata(store, session, snap.rid)))
        snap.apply(answer)
        assert {
            "torrents": snap.torrents,
            "categories": snap.categories,
            "tags": snap.tags,
            "server_state": snap.server_state,
        } == server_view(store)
        assert snap.full_update == (answer["rid"] == 1)


def test_delta_is_only_what_changed_among_20000() -> None:
    store = new_store()
    control.upsert(store, [{"state": "stalledUP", "size": 10**9} for _ in range(20_000)])
    session = store.new_session()
    full = sync.maindata(store, session, 0)
    assert full["full_update"] and len(full["torrents"]) == 20_000
    assert sync.maindata(store, session, full["rid"]) == {"rid": 2}
    h = next(iter(store.torrents))
    actions.pause(store, [store.torrents[h]])
    delta = sync.maindata(store, session, 2)
    assert delta == {"rid": 3, "torrents": {h: {"state": "pausedUP"}}}
    actions.delete(store, [store.torrents[h]], False)
    delta = sync.maindata(store, session, 3)
    assert delta["torrents_removed"] == [h] and "torrents" not in delta
    # as on 4.5.2, a tracker whose torrent list changed is sent whole
    (hashes,) = delta["trackers"].values()
    assert len(hashes) == 19_999 and h not in hashes


def test_rids_cycle_and_unknown_rids_get_a_full_update() -> None:
    store = new_store()
    session = store.new_session()
    session.last_rid = 1_000_000
    assert sync.maindata(store, session, 0)["rid"] == 1
    session.last_rid = 1_000_000
    answer = sync.maindata(store, session, 12345)
    assert answer["rid"] == 1 and answer["full_update"]
    other = store.new_session()
    assert sync.maindata(store, other, answer["rid"])["full_update"]  # another session's rid


def test_idle_counters_move_only_at_announces() -> None:
    """Like libtorrent: an idle seed's seeding_time is refreshed when something touches it
    (a tracker announce here), not every cycle; a torrent without trackers stays put."""
    store = Store(SimConfig(refresh_ms=0, counter_interval=60))
    store.clock.set_scale(0)
    tracked, silent = control.upsert(
        store,
        [
            {"state": "stalledUP", "tracker": "http://t.invalid/a"},
            {"state": "stalledUP", "trackers": []},
        ],
    )
    for _ in range(3):
        store.clock.advance(100)
        store.tick(force=True)
    assert store.torrents[tracked].out["seeding_time"] >= 240
    assert store.torrents[silent].out["seeding_time"] == 0
    actions.pause(store, [store.torrents[silent]])  # touching it brings it up to date
    assert store.torrents[silent].out["seeding_time"] == 300
