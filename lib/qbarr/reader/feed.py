"""The feed: one qBittorrent's torrents as its reader last saw them, in the shared database.

Tables (schema ``MIGRATION_SHARED_READER``): ``qbt_feed`` holds one row per qBittorrent (the
client name, ``qBittorrent`` for the ``[qBittorrent]`` section): the publication number
``seq``, when the reader last polled and promises to poll next, its pace, its last error,
the server state; ``qbt_torrents`` holds one row per torrent with the ``seq`` of its last
change, its category and content path in columns, and every field as JSON (``data``; NULL = gone).

:func:`publish` is the reader's side: one short ``BEGIN IMMEDIATE`` transaction per poll,
rows only for what changed. :class:`Follower` is a manager's side: it reads, in one read
transaction (one consistent view), the rows whose ``seq`` is newer than what it holds, and
keeps every field only for its own categories (for the others, the category and content
path: the rules need every torrent's content path to see shared data).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qbarr import heap
from qbarr.db import Database, rows, write_txn
from qbarr.qbittorrent.snapshot import Snapshot

BIG_READ = 500  # rows: after a read this large, give the transient memory back (qbarr.heap)


UNREAD = frozenset(
    {
        "auto_tmm",
        "dl_limit",
        "dlspeed",
        "download_path",
        "downloaded",
        "downloaded_session",
        "f_l_piece_prio",
        "force_start",
        "infohash_v1",
        "infohash_v2",
        "magnet_uri",
        "num_complete",
        "num_incomplete",
        "num_leechs",
        "num_seeds",
        "seen_complete",
        "seq_dl",
        "super_seeding",
        "time_active",
        "total_size",
        "trackers_count",
        "up_limit",
        "uploaded",
        "uploaded_session",
        "upspeed",
    }
)
"""qBittorrent's torrent fields that no part of qbarr reads (speeds, counters, peer counts,
flags, the magnet link): not published. Every manager's snapshot holds about half the
fields it held, the feed rows are smaller, and a torrent whose speed or peer count changed
has not changed for qbarr. tests/unit/test_reader_feed.py checks that none is read."""


def dumps(torrent: Mapping[str, Any]) -> str:
    """The one JSON spelling of a torrent, without the fields qbarr never reads (UNREAD):
    equal fields give equal text (and digest)."""
    kept = {k: v for k, v in torrent.items() if k not in UNREAD}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Publication:
    """What one poll found: full torrents that changed (JSON), torrents gone, server state."""

    changed: dict[str, tuple[str, str, str]]  # hash -> (json, category, content_path)
    gone: Iterable[str] = ()
    server_state: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FeedState:
    """The ``qbt_feed`` row."""

    client: str
    seq: int
    floor: int
    polls: int
    polled_at: float | None
    next_poll_by: float | None
    full_at: float | None
    pace: str | None
    reader: str | None
    reader_pid: int | None
    version: str | None
    server_state: str
    error: str | None
    error_at: float | None
    stats: str | None = None


def feed_state(db: Database, client: str) -> FeedState | None:
    found = rows(db, "SELECT * FROM qbt_feed WHERE client = ?", (client,))
    return FeedState(**found[0]) if found else None


def publish(
    db: Database,
    client: str,
    pub: Publication,
    *,
    now: float,
    next_poll_by: float,
    pace: str,
    reader: str,
    reader_pid: int,
    version: str,
    full: bool = False,
    purge_upto: int | None = None,
    stats: Mapping[str, Any] | None = None,
    fence: Callable[[Database], None] | None = None,
) -> int:
    """Write one poll's result; returns the feed's ``seq`` (bumped only when rows changed).

    ``fence`` runs first inside the transaction and raises when this reader no longer holds
    the qBittorrent's lease (:meth:`qbarr.lease.Lease.check`): nothing is published then.

    ``purge_upto``: tombstones at or below that seq are deleted and it becomes the floor (a
    follower older than the floor reloads everything).
    """
    gone = sorted(set(pub.gone))
    with write_txn(db):
        if fence is not None:
            fence(db)
        db.execute("INSERT OR IGNORE INTO qbt_feed (client) VALUES (?)", (client,))
        seq = int(db.execute("SELECT seq FROM qbt_feed WHERE client = ?", (client,)).fetchone()[0])
        if pub.changed or gone:
            seq += 1
            db.executemany(
                "INSERT INTO qbt_torrents (client, hash, seq, category, content_path, data) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(client, hash) DO UPDATE SET "
                "seq = excluded.seq, category = excluded.category, "
                "content_path = excluded.content_path, data = excluded.data",
                [(client, h, seq, cat, path, text) for h, (text, cat, path) in pub.changed.items()],
            )
            db.executemany(
                "UPDATE qbt_torrents SET seq = ?, data = NULL WHERE client = ? AND hash = ? "
                "AND data IS NOT NULL",
                [(seq, client, h) for h in gone],
            )
        sets = {
            "seq": seq,
            "polled_at": now,
            "next_poll_by": next_poll_by,
            "pace": pace,
            "reader": reader,
            "reader_pid": reader_pid,
            "version": version,
        }
        if pub.server_state is not None:
            sets["server_state"] = json.dumps(dict(pub.server_state), sort_keys=True)
        if stats is not None:
            sets["stats"] = json.dumps(dict(stats), sort_keys=True)
        if full:
            sets["full_at"] = now
        if purge_upto is not None:
            db.execute(
                "DELETE FROM qbt_torrents WHERE client = ? AND data IS NULL AND seq <= ?",
                (client, purge_upto),
            )
            sets["floor"] = purge_upto
        assignments = ", ".join(f"{k} = :{k}" for k in sets)
        db.execute(
            f"UPDATE qbt_feed SET {assignments}, polls = polls + 1 WHERE client = :client",
            {**sets, "client": client},
        )
    return seq


def record_error(db: Database, client: str, message: str, now: float, reader: str) -> None:
    """A poll failed (qBittorrent unreachable, refused, malformed): the managers see it."""
    with write_txn(db):
        db.execute("INSERT OR IGNORE INTO qbt_feed (client) VALUES (?)", (client,))
        db.execute(
            "UPDATE qbt_feed SET error = ?, error_at = ?, reader = ? WHERE client = ?",
            (message, now, reader, client),
        )


def published(db: Database, client: str) -> dict[str, tuple[str, str]]:
    """Every live torrent's (json, category) as published: a new reader starts from it."""
    return {
        r["hash"]: (r["data"], r["category"] or "")
        for r in rows(
            db,
            "SELECT hash, data, category FROM qbt_torrents WHERE client = ? AND data IS NOT NULL",
            (client,),
        )
    }


class Follower:
    """A manager's view of the feed: its own categories in full, the rest as content paths."""

    def __init__(self, db: Database, client: str) -> None:
        self.db = db
        self.client = client
        self.snapshot = Snapshot()
        self.seq = -1  # nothing read yet
        self.categories: frozenset[str] = frozenset()

    def read(self, categories: Iterable[str]) -> FeedState | None:
        """Bring :attr:`snapshot` up to the feed (its ``changed``/``removed``/``full_update``
        describe this read); None while nothing was ever published."""
        cats = frozenset(categories)
        snap = self.snapshot
        snap.changed, snap.removed, snap.full_update, snap.last_bytes = set(), set(), False, 0
        self.db.execute("BEGIN")  # one read transaction: the feed row and its rows agree
        try:
            feed = feed_state(self.db, self.client)
            if feed is None:
                return None
            full = self.seq < 0 or self.seq < feed.floor or cats != self.categories
            if full or feed.seq != self.seq:
                self._apply(self._rows(cats, None if full else self.seq), full)
                snap.server_state.clear()
                snap.server_state.update(json.loads(feed.server_state or "{}"))
        finally:
            self.db.execute("COMMIT")
        self.seq, self.categories, snap.rid = feed.seq, cats, feed.seq
        if snap.full_update or len(snap.changed) > BIG_READ:
            heap.release()
        return feed

    def _rows(self, cats: frozenset[str], since: int | None) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(cats)) or "NULL"
        where, params = ("data IS NOT NULL", ()) if since is None else ("seq > ?", (since,))
        return rows(
            self.db,
            f"SELECT hash, category, content_path, data IS NULL AS gone, "
            f"CASE WHEN category IN ({marks}) THEN data END AS data "
            f"FROM qbt_torrents WHERE client = ? AND {where}",
            (*sorted(cats), self.client, *params),
        )

    def _apply(self, found: list[dict[str, Any]], full: bool) -> None:
        snap = self.snapshot
        if full:
            snap.removed = set(snap.torrents)
            snap.torrents.clear()
            snap.full_update = True
        # One json.loads for the whole batch: its decoder shares the field names among every
        # torrent of the call (one call per row would give each torrent its own 49 key
        # strings, twice the memory).
        texts = [r["data"] for r in found if r["data"] is not None and not r["gone"]]
        decoded = iter(json.loads("[" + ",".join(texts) + "]"))
        snap.last_bytes += sum(len(t) for t in texts)
        for r in found:
            h = r["hash"]
            if r["gone"]:
                if snap.torrents.pop(h, None) is not None:
                    snap.removed.add(h)
                continue
            if r["data"] is not None:
                snap.torrents[h] = next(decoded)
            else:  # another instance's torrent: only what the rules read of it
                snap.torrents[h] = {
                    "hash": h,
                    "category": r["category"],
                    "content_path": r["content_path"],
                }
            snap.changed.add(h)
        snap.removed -= set(snap.torrents)


def clients_view(db: Database, now: float) -> list[dict[str, Any]]:
    """Each qBittorrent's state as its reader last published it, for `qbarr status`, the web
    UI and /metrics: client, version, reader, up (the last poll worked), ages, torrents."""
    counts = {
        r["client"]: int(r["n"])
        for r in rows(
            db,
            "SELECT client, COUNT(*) AS n FROM qbt_torrents WHERE data IS NOT NULL GROUP BY client",
        )
    }
    out = []
    for r in rows(db, "SELECT * FROM qbt_feed ORDER BY client"):
        polled, failed = r["polled_at"], r["error_at"]
        up = polled is not None and (failed is None or polled >= failed)
        out.append(
            {
                "client": r["client"],
                "version": r["version"],
                "reader": r["reader"],
                "reader_pid": r["reader_pid"],
                "up": up,
                "polls": r["polls"],
                "pace": r["pace"],
                "polled_age": None if polled is None else max(0.0, now - polled),
                "error": None if up else r["error"],
                "error_age": None if up or failed is None else max(0.0, now - failed),
                "torrents": counts.get(r["client"], 0),
            }
        )
    return out
