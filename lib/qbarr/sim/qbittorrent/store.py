"""The simulator's state and its change log: torrents, categories, tags, server state.

Every change is stamped with a sequence number (`seq`). A torrent remembers the
seq at which each field last changed, and the store keeps torrents in order of
last modification, so "what changed since seq S" walks only the changed
torrents: a sync/maindata delta costs O(changed), not O(torrents), even at
20,000 torrents. Time is lazy: `tick()` runs at most once per refresh interval
(like qBittorrent's refresh_interval), fires due events (stall, error, metadata,
end of a check) and advances only the torrents that are transferring.
"""

from __future__ import annotations

import heapq
import itertools
import random
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from .config import Clock, SimConfig
from .cost import Cost
from .prefs import default_preferences
from .torrent import Limits, SimTorrent, advance, ratio_of, render

REMOVED_LOG_MAX = 200_000


@dataclass
class Session:
    """A login session; sync/maindata rids live here, as in qBittorrent."""

    sid: str
    last_seen: float
    last_rid: int = 0
    last_seq: int = -1
    acc_rid: int = 0
    acc_seq: int = -1
    label: str = ""  # names the session in the request log (never the secret sid)


class Store:
    """All simulated state. Callers hold `lock` (an RLock) around every use."""

    def __init__(self, config: SimConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.api = config.api
        self.clock = clock or Clock(config.time_scale)
        self.lock = threading.RLock()
        self.rnd = random.Random(config.seed)
        self.prefs = default_preferences(
            config.api,
            save_path=config.save_path,
            port=config.port,
            username=config.username,
            refresh_ms=config.refresh_ms,
            max_auth_fail=config.ban_after,
        )
        self.seq = 0
        self.torrents: dict[str, SimTorrent] = {}
        self.order: OrderedDict[str, None] = OrderedDict()
        self.removed_log: deque[tuple[int, str, int]] = deque()
        self.log_floor = 0
        self.categories: dict[str, dict[str, Any]] = {}
        self.cat_seq: dict[str, int] = {}
        self.cat_removed: list[tuple[int, str]] = []
        self.tags: dict[str, int] = {}
        self.tag_removed: list[tuple[int, str]] = []
        self.trackers: dict[str, set[str]] = {}
        self.trk_seq: dict[str, int] = {}
        self.trk_removed: list[tuple[int, str]] = []
        self.server_state: dict[str, Any] = {}
        self.ss_seq: dict[str, int] = {}
        self.sessions: dict[str, Session] = {}
        self._key_session: Session | None = None
        self.failed_logins = 0
        self.session_count = 0
        self.live: set[str] = set()
        self.events: list[tuple[float, int, str, str]] = []
        self._event_ids = itertools.count()
        self.factor = 1.0
        self.free_base = config.free_space
        self.written = 0.0
        self.totals = {
            "alltime_dl": 0.0,
            "alltime_ul": 0.0,
            "dl_info_data": 0.0,
            "up_info_data": 0.0,
        }
        self.dl_rate_limit = 0
        self.up_rate_limit = 0
        self.connection_status = "connected"
        self.queue_pos = 0
        self.on_add: dict[str, Any] = {}  # scenario "on_add": swarms for added magnets
        self.requests = 0
        self.cost = Cost(serialize_us=config.serialize_us)
        self.ticks = 0
        self._last_tick_real = 0.0
        self._last_tick_sim = self.clock.now()
        self.update_server_state(self._last_tick_sim)

    # ------------------------------------------------------------------ bookkeeping
    def bump(self) -> int:
        self.seq += 1
        return self.seq

    def limits(self) -> Limits:
        p = self.prefs
        return Limits(
            max_ratio=float(p["max_ratio"]) if p["max_ratio_enabled"] else -1.0,
            max_seeding_minutes=int(p["max_seeding_time"]) if p["max_seeding_time_enabled"] else -1,
            max_inactive_minutes=int(p.get("max_inactive_seeding_time", -1))
            if p.get("max_inactive_seeding_time_enabled")
            else -1,
        )

    def commit(self, t: SimTorrent, now: float, limits: Limits | None = None) -> None:
        """Re-render t and record the fields that changed at the current seq."""
        new = render(t, now, self.api, self.factor, limits or self.limits())
        seq = self.seq
        if t.cseq == 0:
            t.cseq = t.mseq = seq
            t.out, t.fseq = new, {}
            self.order[t.hash] = None
        else:
            out, fseq, changed = t.out, t.fseq, False
            for key, value in new.items():
                if out.get(key, _MISSING) != value:
                    out[key] = value
                    fseq[key] = seq
                    changed = True
            if changed:
                t.mseq = seq
                self.order.move_to_end(t.hash)
        if new["dlspeed"] or new["upspeed"] or t.busy(now):
            self.live.add(t.hash)
        else:
            self.live.discard(t.hash)

    def schedule(self, t: SimTorrent, when: float, kind: str) -> None:
        heapq.heappush(self.events, (when, next(self._event_ids), t.hash, kind))

    def touch(self, t: SimTorrent, now: float) -> None:
        """Bring t's counters up to `now` before an operation changes it."""
        got, sent = advance(t, now, self.factor)
        self._account(got, sent)

    def _account(self, got: float, sent: float) -> None:
        if got or sent:
            self.totals["alltime_dl"] += got
            self.totals["dl_info_data"] += got
            self.totals["alltime_ul"] += sent
            self.totals["up_info_data"] += sent
            self.written += got

    # ------------------------------------------------------------------ torrents
    def insert(self, t: SimTorrent, now: float) -> None:
        """Add a new torrent (caller has bumped seq); registers its category, tags, trackers."""
        t.last_advance = now
        if not t.complete:
            self.queue_pos += 1
            t.priority = self.queue_pos
        self.torrents[t.hash] = t
        if t.category:
            self.ensure_category(t.category, "")
        for tag in t.tags:
            self.ensure_tag(tag)
        for url in t.trackers:
            self._tracker_add(url, t.hash)
        for when, kind in (
            (t.stall_at, "stall"),
            (t.error_at, "error"),
            (t.meta_at, "meta"),
            (t.resume_until, "timer"),
            (t.checking_until, "timer"),
            (t.moving_until, "timer"),
        ):
            if when:
                self.schedule(t, when, kind)
        if t.trackers and self.config.counter_interval > 0:
            t.next_counter = now + self.rnd.uniform(0, self.config.counter_interval)
            self.schedule(t, t.next_counter, "counter")
        self.commit(t, now)

    def remove(self, h: str) -> SimTorrent | None:
        t = self.torrents.pop(h, None)
        if t is None:
            return None
        self.order.pop(h, None)
        self.live.discard(h)
        for url in t.trackers:
            self._tracker_remove(url, h)
        self.removed_log.append((self.seq, h, t.cseq))
        while len(self.removed_log) > REMOVED_LOG_MAX:
            self.log_floor = self.removed_log.popleft()[0]
        return t

    def _tracker_add(self, url: str, h: str) -> None:
        self.trackers.setdefault(url, set()).add(h)
        self.trk_seq[url] = self.seq

    def _tracker_remove(self, url: str, h: str) -> None:
        hashes = self.trackers.get(url)
        if hashes is None:
            return
        hashes.discard(h)
        if hashes:
            self.trk_seq[url] = self.seq
        else:
            del self.trackers[url], self.trk_seq[url]
            self.trk_removed.append((self.seq, url))

    def ensure_category(self, name: str, save_path: str) -> bool:
        if name in self.categories:
            return False
        self.categories[name] = {"name": name, "savePath": save_path}
        self.cat_seq[name] = self.seq
        return True

    def ensure_tag(self, tag: str) -> bool:
        if tag in self.tags:
            return False
        self.tags[tag] = self.seq
        return True

    # ------------------------------------------------------------------ time
    def tick(self, force: bool = False) -> None:
        """Advance the simulation if a refresh interval (real time) has passed."""
        real = time.monotonic()
        if not force and (real - self._last_tick_real) * 1000.0 < self.prefs["refresh_interval"]:
            return
        self._last_tick_real = real
        now = self.clock.now()
        self.bump()
        self.ticks += 1
        limits = self.limits()
        while self.events and self.events[0][0] <= now:
            when, _, h, kind = heapq.heappop(self.events)
            t = self.torrents.get(h)
            if t is not None:
                self._fire(t, kind, when, max(when, t.last_advance), limits)
        self._update_factor(now)
        for h in list(self.live):
            t = self.torrents[h]
            self.touch(t, now)
            self.enforce_share_limits(t, now, limits)
            if h in self.torrents:
                self.commit(t, now, limits)
        self._last_tick_sim = now
        self.update_server_state(now)

    def _fire(self, t: SimTorrent, kind: str, due: float, when: float, limits: Limits) -> None:
        """Apply one scheduled event (`due` is when it was scheduled for, `when` the time
        the torrent is brought to: never before its last update)."""
        self.touch(t, when)
        if kind == "stall" and t.stall_at and t.stall_at <= when:
            t.stall_at, t.seeds = 0.0, 0
            if t.availability == -2.0:
                t.availability = round(self.rnd.uniform(0.05, 0.95), 3)
        elif kind == "error" and t.error_at and t.error_at <= when:
            t.error_at, t.error = 0.0, t.error_text
        elif kind == "meta" and t.meta_at and t.meta_at <= when and not t.has_metadata:
            t.meta_at, t.has_metadata = 0.0, True
            t.files = t.meta_files or t.files
            t.multi_file = any("/" in f.path for f in t.files)
        elif kind == "timer":
            self.finish_timers(t, when)
        elif kind == "counter":
            if t.next_counter != due:  # superseded by a newer schedule
                return
            interval = self.config.counter_interval
            t.next_counter = max(when, due + interval)
            self.schedule(t, t.next_counter, "counter")
            self.enforce_share_limits(t, when, limits)
        if t.hash in self.torrents:
            self.commit(t, when, limits)

    def finish_timers(self, t: SimTorrent, when: float) -> None:
        """End of checkingResumeData / checking / moving: a check re-reads the data."""
        if t.checking_until and t.checking_until <= when:
            t.checking_until = t.checking_from = 0.0
            from .disk import verify  # local import: disk I/O only for real-data torrents

            verify(t, when)

    def _update_factor(self, now: float) -> None:
        """Share a global download limit among the downloading torrents."""
        if self.dl_rate_limit <= 0:
            self.factor = 1.0
            return
        want = sum(self.torrents[h].dl_rate for h in self.live if self.torrents[h].downloading(now))
        self.factor = min(1.0, self.dl_rate_limit / want) if want > 0 else 1.0

    def enforce_share_limits(self, t: SimTorrent, now: float, limits: Limits) -> None:
        """Apply the share-limit action (pause / remove) once a seed reaches its limits."""
        if not (t.complete and t.running()):
            return
        from .torrent import effective_limits

        ratio, seeding, _ = effective_limits(t, limits)
        hit = (ratio >= 0 and ratio_of(t) >= ratio) or (
            seeding >= 0 and t.seeding_time >= seeding * 60
        )
        if not hit:
            return
        action = t.share_action
        if action == "Default":
            action = {0: "Stop", 1: "Remove", 3: "RemoveWithContent"}.get(
                int(self.prefs["max_ratio_act"]), "Stop"
            )
        if action == "Stop":
            t.paused = True
        elif action in ("Remove", "RemoveWithContent"):
            self.remove(t.hash)

    def update_server_state(self, now: float) -> None:
        dl_speed = up_speed = peers = 0
        for h in self.live:
            out = self.torrents[h].out
            dl_speed += out.get("dlspeed", 0)
            up_speed += out.get("upspeed", 0)
            peers += out.get("num_seeds", 0) + out.get("num_leechs", 0)
        tot = self.totals
        ratio = "-" if tot["alltime_dl"] <= 0 else f"{tot['alltime_ul'] / tot['alltime_dl']:.2f}"
        state = {
            "alltime_dl": int(tot["alltime_dl"]),
            "alltime_ul": int(tot["alltime_ul"]),
            "average_time_queue": 0,
            "connection_status": self.connection_status,
            "dht_nodes": 0,
            "dl_info_data": int(tot["dl_info_data"]),
            "dl_info_speed": dl_speed,
            "dl_rate_limit": self.dl_rate_limit,
            "free_space_on_disk": self.free_space(),
            "global_ratio": ratio,
            "queued_io_jobs": 0,
            "queueing": self.prefs["queueing_enabled"],
            "read_cache_hits": "0",
            "read_cache_overload": "0",
            "refresh_interval": self.prefs["refresh_interval"],
            "total_buffers_size": 0,
            "total_peer_connections": peers,
            "total_queued_size": 0,
            "total_wasted_session": 0,
            "up_info_data": int(tot["up_info_data"]),
            "up_info_speed": up_speed,
            "up_rate_limit": self.up_rate_limit,
            "use_alt_speed_limits": False,
            "write_cache_overload": "0",
        }
        version = self.api.webapi_tuple
        if (2, 9, 0) <= version < (2, 15, 0):
            state["use_subcategories"] = False
        if version >= (2, 11, 3):
            state.update(last_external_address_v4="", last_external_address_v6="")
        for key, value in state.items():
            if self.server_state.get(key, _MISSING) != value:
                self.server_state[key] = value
                self.ss_seq[key] = self.seq

    def free_space(self) -> int:
        return max(0, int(self.free_base - self.written))

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> Session:
        sid = secrets.token_urlsafe(24)
        self.session_count += 1
        session = Session(sid=sid, last_seen=time.monotonic(), label=f"s{self.session_count}")
        self.sessions[sid] = session
        return session

    def session(self, sid: str | None) -> Session | None:
        session = self.sessions.get(sid or "")
        if session is None:
            return None
        real = time.monotonic()
        if real - session.last_seen > self.config.session_timeout:
            del self.sessions[session.sid]
            return None
        session.last_seen = real
        return session

    def api_key_session(self) -> Session:
        """Requests authenticated by API key share one sync state (there is no login)."""
        if self._key_session is None:
            self._key_session = Session(sid="api-key", last_seen=time.monotonic(), label="api-key")
        return self._key_session

    def drop_sessions(self) -> int:
        n = len(self.sessions)
        self.sessions.clear()
        self._key_session = None
        return n


class _Missing:
    pass


_MISSING = _Missing()
