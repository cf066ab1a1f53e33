"""The feed in the database (qbarr.reader.feed): what the reader publishes is what a manager
reads, in one consistent view, with only its own categories in full."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.reader.feed import (
    UNREAD,
    Follower,
    Publication,
    dumps,
    feed_state,
    publish,
    published,
)

CLIENT = "qBittorrent"


@pytest.fixture
def db(engine, tmp_path: Path) -> dbmod.Database:
    """Every test that takes it runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    database = engine.open(tmp_path / "qbarr.db")
    yield database
    database.close()


def t(h: str, category: str = "radarr", **fields: object) -> dict:
    return {
        "hash": h,
        "category": category,
        "content_path": f"/d/{h}",
        "state": "stalledUP",
        **fields,
    }


def rows_of(*torrents: dict) -> dict[str, tuple[str, str, str]]:
    return {x["hash"]: (dumps(x), x["category"], x["content_path"]) for x in torrents}


def pub(db: dbmod.Database, *torrents: dict, gone: tuple[str, ...] = (), **kw: object) -> int:
    args = dict(
        now=100.0, next_poll_by=101.0, pace="idle", reader="arr-a", reader_pid=1, version="v"
    )
    args.update(kw)
    return publish(db, CLIENT, Publication(rows_of(*torrents), gone, {"free": 1}), **args)


def test_a_follower_reads_its_categories_in_full_and_the_rest_as_paths(db) -> None:
    pub(db, t("a1"), t("b1", "sonarr"), t("c1", "failed"))
    follower = Follower(db, CLIENT)
    feed = follower.read({"radarr", "failed"})
    snap = follower.snapshot
    assert feed is not None and feed.seq == 1 and feed.polls == 1
    assert snap.full_update and snap.changed == {"a1", "b1", "c1"}
    assert snap.torrents["a1"] == t("a1")
    assert snap.torrents["c1"]["state"] == "stalledUP"
    assert snap.torrents["b1"] == {"hash": "b1", "category": "sonarr", "content_path": "/d/b1"}
    assert snap.server_state == {"free": 1}


def test_deltas_changes_and_removals(db) -> None:
    pub(db, t("a1"), t("a2"), t("a3"))
    follower = Follower(db, CLIENT)
    follower.read({"radarr"})
    assert pub(db) == 1, "a poll that found nothing new does not bump seq"
    follower.read({"radarr"})
    assert follower.snapshot.changed == set() and not follower.snapshot.full_update
    pub(db, t("a2", state="uploading"), gone=("a3",))
    follower.read({"radarr"})
    snap = follower.snapshot
    assert snap.changed == {"a2"} and snap.removed == {"a3"} and not snap.full_update
    assert snap.torrents["a2"]["state"] == "uploading" and "a3" not in snap.torrents
    assert set(published(db, CLIENT)) == {"a1", "a2"}


def test_a_torrent_moving_to_another_category_becomes_a_path_only(db) -> None:
    pub(db, t("a1"))
    follower = Follower(db, CLIENT)
    follower.read({"radarr"})
    pub(db, t("a1", "sonarr"))
    follower.read({"radarr"})
    assert follower.snapshot.torrents["a1"] == {
        "hash": "a1",
        "category": "sonarr",
        "content_path": "/d/a1",
    }


def test_purged_tombstones_send_a_late_follower_back_to_a_full_read(db) -> None:
    pub(db, t("a1"), t("a2"))
    late = Follower(db, CLIENT)
    late.read({"radarr"})
    seq = pub(db, gone=("a2",))
    pub(db, t("a3"), full=True, purge_upto=seq)
    assert feed_state(db, CLIENT).floor == seq
    assert dbmod.rows(db, "SELECT COUNT(*) AS n FROM qbt_torrents WHERE data IS NULL")[0]["n"] == 0
    late.read({"radarr"})
    snap = late.snapshot
    assert snap.full_update and set(snap.torrents) == {"a1", "a3"} and snap.removed == {"a2"}


def test_new_categories_are_read_in_full(db) -> None:
    pub(db, t("a1"), t("b1", "sonarr"))
    follower = Follower(db, CLIENT)
    follower.read({"radarr"})
    follower.read({"radarr", "sonarr"})
    assert follower.snapshot.full_update
    assert follower.snapshot.torrents["b1"]["state"] == "stalledUP"


def test_feed_row_and_stats(db) -> None:
    pub(db, t("a1"), full=True, stats={"calls": 3})
    feed = feed_state(db, CLIENT)
    assert feed is not None
    assert (feed.reader, feed.pace, feed.full_at, feed.next_poll_by) == (
        "arr-a",
        "idle",
        100.0,
        101.0,
    )
    assert json.loads(feed.stats or "{}") == {"calls": 3}
    assert Follower(db, "another").read({"radarr"}) is None


def test_fields_qbarr_never_reads_are_not_published(db) -> None:
    """Speeds, counters and the magnet link stay out of the feed: the follower's snapshot
    holds the fields the rules read, and a change of speed alone is no change."""
    full = t(
        "a1",
        name="Big",
        progress=1.0,
        ratio=1.5,
        dlspeed=0,
        upspeed=512,
        num_seeds=3,
        magnet_uri="magnet:?xt=urn:btih:a1&dn=Big&tr=udp://tracker",
        time_active=60,
    )
    pub(db, full)
    follower = Follower(db, CLIENT)
    follower.read({"radarr"})
    got = follower.snapshot.torrents["a1"]
    assert got == {k: v for k, v in full.items() if k not in UNREAD}
    assert got["ratio"] == 1.5 and "magnet_uri" not in got and "upspeed" not in got
    assert dumps({**full, "upspeed": 9000, "num_seeds": 7}) == dumps(full)
    assert dumps({**full, "ratio": 1.6}) != dumps(full)


def test_no_part_of_qbarr_reads_a_field_left_unpublished() -> None:
    """A field in UNREAD that some module reads would be missing from every snapshot: take
    it out of UNREAD before reading it (the qBittorrent simulator, which serves them, and
    the feed itself excepted)."""
    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("lib/qbarr/**/*.py"), *root.glob("programs/**/*.py")]
    found = []
    for path in sources:
        rel = path.relative_to(root).as_posix()
        if rel.startswith("lib/qbarr/sim/") or rel == "lib/qbarr/reader/feed.py":
            continue
        names = set(re.findall(r"[\"']([a-z_0-9]+)[\"']", path.read_text(encoding="utf-8")))
        found += [f"{rel}: {name}" for name in sorted(names & UNREAD)]
    assert found == []
