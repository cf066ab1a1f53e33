"""The reader: polls one qBittorrent (the strategy of :mod:`qbarr.reader.plan`) and publishes
what changed into the feed (:mod:`qbarr.reader.feed`).

:meth:`Reader.tick` is one poll; :meth:`Reader.run` is the loop a thread runs (one tick per
``LoopInterval / 2``, a capped exponential backoff after a failure, recorded in the feed so
the managers can say why they wait). The reader has its own qBittorrent session and its own
database connection; it never acts on a torrent.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import qbarr.reader.plan as plan
import qbarr.reader.trackers as trackers
from qbarr import heap
from qbarr.backoff import Backoff, RetryTimer
from qbarr.db import Database, rows
from qbarr.lease import LeaseLost
from qbarr.policy.trackers import TRACKERS_KEY
from qbarr.qbittorrent import QbtClient, QbtError, QbtNotFound
from qbarr.reader.feed import BIG_READ, Publication, dumps, publish, published, record_error

log = logging.getLogger("qbarr.reader")

# A torrent qbarr acted on within ACTED_WINDOWS x IdlePollInterval is looked up by hash at
# every tick (and keeps the pace fast): long enough to see it complete, pause or go.
ACTED_WINDOWS = 2


class Reader:
    """Polls ``qbt`` and publishes into ``db`` under the name ``client``."""

    def __init__(
        self,
        db: Database,
        qbt: QbtClient,
        client: str,
        settings: plan.PlanSettings,
        label: str,
        pid: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.qbt = qbt
        self.client = client
        self.settings = settings
        self.label = label
        self.pid = pid
        self.clock = clock
        self.seen: dict[str, plan.Seen] = {}
        self.schedule = plan.Schedule()
        self.tiers = plan.Tiers()
        self.server_state: dict[str, Any] = {}
        self.version = ""
        self.webapi: tuple[int, ...] = ()
        self.started = False
        self.last_full_seq: int | None = None
        # tracker look-ups (qbarr.reader.trackers): what each looked-up torrent's trackers
        # said, merged into its published fields as TRACKERS_KEY
        self.tracker_plan = trackers.TrackerPlan(per_minute=settings.tracker_checks)
        self.tracker_info: dict[str, dict[str, Any]] = {}
        self.published = threading.Event()  # set after each successful publication
        self.tried = threading.Event()  # set after each tick, published or failed
        self.fence: Callable[[Database], None] | None = None  # see qbarr.lease

    # -- one poll --------------------------------------------------------------------------

    def tick(self) -> float:
        """Poll once and publish; returns the seconds until the next tick. Raises QbtError."""
        if not self.started:
            self._start()
        now = self.clock()
        acted = self._acted(now)
        if plan.tracks_changes(self.webapi):
            pub, full, warm = self._sync(), False, False
        else:
            full, warm = self.schedule.due(now)
            pub = self._lists(acted, full, warm)
        pub = self._look_up_trackers(pub, now)
        fast, why = plan.pace(self.seen, self.settings, now, bool(acted))
        self.schedule.done(now, full, warm, fast, self.settings)
        interval = self.settings.tick
        self._publish(pub, now, now + interval, ("fast: " if fast else "idle: ") + why, full)
        big = full or len(pub.changed) > BIG_READ
        del pub
        if big:
            heap.release()  # a whole library was decoded and compared: give the peak back
        return interval

    def _start(self) -> None:
        """The first tick: version, and what is already published (a takeover changes only
        what qBittorrent changed since)."""
        v = self.qbt.version(refresh=True)
        self.version, self.webapi = str(v), v.webapi
        for h, (text, category) in published(self.db, self.client).items():
            data = _loads(text)
            self.seen[h] = _seen(text, data, category)
            info = data.get(TRACKERS_KEY)
            if isinstance(info, dict):  # a takeover keeps what the last reader looked up
                self.tracker_info[h] = info
                self.tracker_plan.looked[h] = trackers.Looked(
                    float(info.get("at") or 0),
                    str(data.get("state") or ""),
                    str(data.get("tracker") or ""),
                )
        self.started = True
        log.info("reading %s for every manager (%s)", v, self._strategy())

    def _strategy(self) -> str:
        if plan.tracks_changes(self.webapi):
            return "sync/maindata with rid"
        return "torrents/info by state and category, a full refresh now and then"

    # -- qBittorrent 4.6+ ------------------------------------------------------------------------

    def _sync(self) -> Publication:
        snap = self.qbt.sync()
        if snap.full_update:
            changed = self._compare(snap.torrents.values())
            gone = set(self.seen) - set(snap.torrents)
        else:
            changed = self._compare(snap.torrents[h] for h in snap.changed)
            gone = set(snap.removed)
        for h in gone:
            self.seen.pop(h, None)
        self.server_state = dict(snap.server_state)
        return Publication(changed, gone, self.server_state)

    # -- before 4.6 ------------------------------------------------------------------------

    def _lists(self, acted: set[str], full: bool, warm: bool) -> Publication:
        if full:
            return self._full()
        found: dict[str, dict[str, Any]] = {}
        hot = self._query(self.tiers.hot_queries(), found)
        warm_set = self._query(self.tiers.warm_queries(self.settings), found) if warm else None
        if warm:
            self.server_state.update(self.qbt.transfer_info())
        lookups = self.tiers.followups(hot, warm_set, acted)
        gone: set[str] = set()
        if lookups:
            got = {t["hash"].lower(): t for t in self.qbt.torrents_info(hashes=list(lookups))}
            found.update(got)
            gone = {h for h in lookups if h not in got and h in self.seen}
        changed = self._compare(found.values())
        for h in gone:
            self.seen.pop(h, None)
        return Publication(changed, gone, self.server_state if warm else None)

    def _query(self, queries: Iterable[plan.Query], found: dict[str, dict[str, Any]]) -> set[str]:
        hashes: set[str] = set()
        for q in queries:
            for t in self.qbt.torrents_info(category=q.category, filter=q.filter):
                h = str(t["hash"]).lower()
                found[h] = t
                hashes.add(h)
        return hashes

    def _full(self) -> Publication:
        data = self.qbt.maindata(0)
        torrents = {h.lower(): {**t, "hash": h.lower()} for h, t in data["torrents"].items()}
        changed = self._compare(torrents.values())
        gone = set(self.seen) - set(torrents)
        for h in gone:
            self.seen.pop(h, None)
        self.tiers.reset_from(self.seen, self.settings)
        self.server_state = dict(data.get("server_state") or {})
        return Publication(changed, gone, self.server_state)

    # -- shared ----------------------------------------------------------------------------

    def _compare(self, torrents: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str, str]]:
        """The torrents whose fields differ from what was published, as feed rows."""
        changed = {}
        for t in torrents:
            h = str(t["hash"]).lower()
            info = self.tracker_info.get(h)
            if info is not None:
                t = {**t, TRACKERS_KEY: info}
            text = dumps(t)
            seen = _seen(text, t, str(t.get("category") or ""))
            if self.seen.get(h) != seen:
                self.seen[h] = seen
                changed[h] = (text, seen.category, str(t.get("content_path") or ""))
        return changed

    # -- trackers ----------------------------------------------------------------------------

    def _look_up_trackers(self, pub: Publication, now: float) -> Publication:
        """Within the budget, ask qBittorrent for some watched torrents' trackers and publish
        what they said with the torrent's fields (a torrent gone meanwhile is skipped)."""
        self.tracker_plan.per_minute = self.settings.tracker_checks  # a reload may change it
        watched = {
            h: {"state": s.state, "tracker": s.tracker}
            for h, s in self.seen.items()
            if s.category in self.settings.categories
        }
        chosen = self.tracker_plan.pick(watched, now)
        if not chosen:
            return pub
        for h in chosen:
            try:
                rows = self.qbt.trackers(h)
            except QbtNotFound:
                continue
            except QbtError as exc:  # the tick's own publication must not be lost for it
                log.info("tracker look-up failed (%s); trying again later", exc)
                break
            self.tracker_plan.done(h, watched[h], now)
            self.tracker_info[h] = trackers.summary(rows, now)
        changed = dict(pub.changed)
        stored = _published_rows(self.db, self.client, [h for h in chosen if h not in changed])
        for h in chosen:
            if h not in self.tracker_info:
                continue
            if h in changed:
                data = _loads(changed[h][0])
            elif h in stored:
                data = _loads(stored[h])
            else:
                continue
            data.pop(TRACKERS_KEY, None)
            data["hash"] = h
            changed.update(self._compare([data]))
        for h in set(self.tracker_info) - set(self.seen):
            del self.tracker_info[h]
        return dataclasses.replace(pub, changed=changed)

    def _acted(self, now: float) -> set[str]:
        """Torrents the managers of this qBittorrent acted on recently (or are acting on)."""
        names = sorted(self.settings.instances)
        if not names:
            return set()
        marks = ",".join("?" * len(names))
        found = rows(
            self.db,
            f"SELECT hash FROM actions WHERE updated_at > ? AND instance IN ({marks}) UNION "
            f"SELECT hash FROM actions WHERE status IN ('planned', 'sending') "
            f"AND instance IN ({marks})",
            (now - ACTED_WINDOWS * self.settings.idle, *names, *names),
        )
        return {str(r["hash"]).lower() for r in found}

    def _publish(self, pub: Publication, now: float, next_by: float, pace: str, full: bool) -> None:
        purge = self.last_full_seq if full else None
        seq = publish(
            self.db,
            self.client,
            pub,
            now=now,
            next_poll_by=next_by,
            pace=pace,
            reader=self.label,
            reader_pid=self.pid,
            version=self.version,
            full=full,
            purge_upto=purge,
            stats=self.qbt.stats,
            fence=self.fence,
        )
        if full:
            self.last_full_seq = seq
        self.published.set()

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event, backoff_cap: float = 60.0) -> None:
        """Tick until ``stop`` is set; failures are recorded and retried with backoff."""
        backoff = RetryTimer(Backoff(base=1.0, cap=backoff_cap, jitter=0.1))
        while not stop.is_set():
            try:
                delay = self.tick()
                backoff.succeeded()
            except QbtError as exc:
                delay = backoff.failed()
                self._failed(f"qBittorrent: {exc}", delay)
            except LeaseLost as exc:  # another process reads this qBittorrent now
                log.error("%s: this reader stops", exc)
                self.tried.set()
                return
            except Exception as exc:  # a bug: say so, keep reading (the managers depend on it)
                log.exception("reader tick failed")
                delay = backoff.failed()
                self._failed(f"reader: {type(exc).__name__}: {exc}", delay)
            self.tried.set()
            stop.wait(delay)

    def _failed(self, message: str, delay: float) -> None:
        log.warning("%s (retry in %.1fs)", message, delay)
        self.started = False  # reconnect: version again, compare with what is published
        try:
            record_error(self.db, self.client, message, self.clock(), self.label)
        except Exception:  # the database itself: the next tick tries again
            log.exception("could not record the reader's error")


def _published_rows(db: Database, client: str, hashes: list[str]) -> dict[str, str]:
    if not hashes:
        return {}
    marks = ",".join("?" * len(hashes))
    found = rows(
        db,
        f"SELECT hash, data FROM qbt_torrents WHERE client = ? AND hash IN ({marks}) "
        "AND data IS NOT NULL",
        (client, *hashes),
    )
    return {r["hash"]: r["data"] for r in found}


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _seen(text: str, t: Mapping[str, Any], category: str) -> plan.Seen:
    added = t.get("added_on")
    return plan.Seen(
        digest=hash(text),
        state=sys.intern(str(t.get("state") or "")),
        category=sys.intern(category),
        added_on=float(added) if isinstance(added, (int, float)) else 0.0,
        tracker=sys.intern(str(t.get("tracker") or "")),
    )
