"""One cycle of an Arr manager: sync, Arr view, decide, journal, act.

:class:`TorrentLoop` holds what a manager keeps between cycles (the qBittorrent snapshot
lives in the snapshot source; the files cache, the last queue and the per-torrent memory live
here) and runs the steps of docs/architecture.md "Inside an Arr manager":

1. the snapshot from the snapshot source (:class:`qbarr.reader.FeedSource`: what the one
   reader of this qBittorrent published; the manager never polls the torrent list itself);
2. the Arr queue, re-read when this instance's torrent set or their states changed,
   after an import was sent, or every ``QueueRefresh``;
3. ``policy.decide`` (pure);
4. the journal records decisions and planned actions in one transaction, then the executor
   carries out every pending action (including those a crash left planned);
5. requests from the web UI (protect / unprotect) are applied.

Network errors propagate as the clients' typed errors; the program's loop reports them
in the heartbeat and retries with backoff.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from qbarr import policy
from qbarr.config import Config, Instance
from qbarr.db import Database, rows, write_txn
from qbarr.executor import Executor
from qbarr.journal import Journal
from qbarr.policy.observe import PAUSE_GRACE
from qbarr.qbittorrent import states
from qbarr.qbittorrent.snapshot import Snapshot
from qbarr.search.settings import settings_for

log = logging.getLogger("qbarr.manager")

FILES_PER_CYCLE = 25  # torrents/files calls per cycle at most (a first start with many downloads)
GLOBAL_LIMIT_SHARE = (
    0.9  # at >= 90 % of the global download limit, ETAs say nothing about the swarm
)
# A complete torrent that was "ok" and has not changed since is not decided again for this long
# (plus a per-hash spread, so re-evaluations do not all fall into one cycle). Its decision can only
# change through its own fields (seen as a change in sync), its entry in the Arr queue (a refresh
# re-decides the torrents whose entry changed) or the settings (a reload re-decides everything);
# the periodic re-evaluation bounds the rest.
REDECIDE_OK_AFTER = 60.0
# An unfinished torrent that does not move keeps its decision at most this long (see
# TorrentLoop._still_until): ~300 stalled or paused downloads cost a manager 18 ms a cycle.
REDECIDE_STILL_AFTER = 15.0
STILL_UNFINISHED = frozenset({"stalledDL", "queuedDL"}) | states.STOPPED_DL


@dataclass
class CycleReport:
    """What one cycle saw and did (goes into the heartbeat)."""

    torrents: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    queue_refreshed: bool = False
    sync_bytes: int = 0
    brake: bool = False


class SnapshotSource(Protocol):
    """Where a manager gets qBittorrent's torrents (qbarr.reader.FeedSource in the program)."""

    def snapshot(self, categories: Iterable[str]) -> Snapshot: ...


class ClientSource:
    """A source that asks qBittorrent itself with ``sync/maindata`` (one client, one manager:
    the tests of a single manager and tools)."""

    def __init__(self, qbt: Any) -> None:
        self.qbt = qbt

    def snapshot(self, categories: Iterable[str]) -> Snapshot:
        return self.qbt.sync()  # type: ignore[no-any-return]


class TorrentLoop:
    """The per-instance state and the cycle; qbt/arr are the clients of qbarr.qbittorrent /
    qbarr.arr (qbt for actions and file lists), ``source`` gives the snapshot."""

    def __init__(
        self,
        cfg: Config,
        instance: Instance,
        db: Database,
        qbt: Any,
        arr: Any,
        clock: Callable[[], float] = time.time,
        source: SnapshotSource | None = None,
    ) -> None:
        self.db = db
        self.qbt = qbt
        self.source: SnapshotSource = source or ClientSource(qbt)
        self.arr = arr
        self.clock = clock
        self.journal = Journal(db, instance.name)
        self.memory: dict[str, policy.Memory] = self.journal.load_memory()
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.queue: dict[str, policy.QueueView] = {}
        self.queue_at = 0.0
        self.seen: dict[
            str, tuple[Any, Any]
        ] = {}  # hash -> (state, category) at the last queue read
        self.shared: frozenset[str] = frozenset()
        self.content_paths: dict[str, str] = {}
        self.decided: dict[str, tuple[policy.Decision, float]] = {}  # reusable decisions
        self.still: set[str] = set()  # the reusable ones of unfinished torrents (env-dependent)
        self.env_key: tuple[Any, ...] = ()
        self.files_wanted: set[str] = set()
        self.present: set[str] | None = None  # this instance's hashes the journal knows are present
        self.configure(cfg, instance)

    def configure(self, cfg: Config, instance: Instance) -> None:
        """Take (re)loaded settings; called at start and on SIGHUP."""
        self.cfg, self.instance = cfg, instance
        self.settings = policy.PolicySettings.from_config(
            instance.section, cfg.settings, instance.kind
        )
        self.executor = Executor(self.journal, self.qbt, self.arr, self.settings, log)
        self.executor.search_settings = settings_for(instance)
        self.queue_at = 0.0  # settings may change what the queue means: re-read it
        self.decided, self.still = {}, set()

    # -- inputs --------------------------------------------------------------------------

    def _categories(self) -> set[str]:
        s = self.cfg.settings
        return {self.instance.category, str(s["FailedCategory"]), str(s["RecheckCategory"])}

    def _mine(self, torrents: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        cats = self._categories()
        return {h: t for h, t in torrents.items() if t.get("category") in cats}

    def _refresh_queue(
        self, mine: Mapping[str, dict[str, Any]], touched: set[str], now: float
    ) -> set[str] | None:
        """Re-read the queue when a torrent came, went, or changed state or category (or it is old).

        Returns None when the queue was not re-read, else the hashes whose queue view changed
        (appeared, went, or differs): a torrent's decision reads the queue only through its own
        entry, so only those need deciding again because of the queue.
        """
        moved = len(mine) != len(self.seen) or any(
            self.seen.get(h) != (mine[h].get("state"), mine[h].get("category")) for h in touched
        )
        if not moved and now - self.queue_at < float(self.cfg.settings["QueueRefresh"]):
            return None
        old, self.queue = self.queue, policy.group_queue(self.arr.queue())
        self.seen = {h: (t.get("state"), t.get("category")) for h, t in mine.items()}
        self.queue_at = now
        return {h for h in old.keys() | self.queue.keys() if old.get(h) != self.queue.get(h)}

    def _fetch_files(self, mine: Mapping[str, dict[str, Any]], touched: set[str]) -> None:
        for gone in set(self.files) - set(mine):
            del self.files[gone]
        self.files_wanted = {
            h
            for h in self.files_wanted | touched
            if h in mine and h not in self.files and policy.needs_files(mine[h])
        }
        for h in sorted(self.files_wanted)[:FILES_PER_CYCLE]:
            self.files[h] = self.qbt.files(h)
            self.files_wanted.discard(h)

    def _content_missing(
        self, mine: Mapping[str, dict[str, Any]], hashes: set[str]
    ) -> frozenset[str]:
        """Complete torrents whose data qbarr can see is absent (only where qbarr sees the disk)."""
        missing = set()
        for h in hashes:
            t = mine[h]
            if t.get("amount_left", 1) != 0 or self.memory.get(h, policy.Memory()).import_sent_at:
                continue
            content, save = str(t.get("content_path") or ""), str(t.get("save_path") or "")
            if content and save and os.path.isdir(save) and not os.path.exists(content):
                missing.add(h)
        return frozenset(missing)

    def _update_shared(self, snap: Any) -> None:
        """Recompute which torrents share their content only when a content path changed."""
        changed = snap.full_update or bool(snap.removed)
        for h in snap.changed:
            path = str(snap.torrents.get(h, {}).get("content_path") or "")
            if self.content_paths.get(h) != path:
                self.content_paths[h] = path
                changed = True
        if changed:
            for h in set(self.content_paths) - set(snap.torrents):
                del self.content_paths[h]
            self.shared = policy.shared_content(snap.torrents)

    def _env(
        self, snap: Any, mine: Mapping[str, dict[str, Any]], hashes: set[str], now: float
    ) -> policy.Env:
        server = snap.server_state or {}
        limit = int(server.get("dl_rate_limit") or 0)
        speed = int(server.get("dl_info_speed") or 0)
        free = server.get("free_space_on_disk")
        self._update_shared(snap)
        return policy.Env(
            now=now,
            free_space=int(free) if isinstance(free, (int, float)) else None,
            at_global_dl_limit=limit > 0 and speed >= GLOBAL_LIMIT_SHARE * limit,
            v5=bool(self.qbt.version().v5),
            content_paths_shared=self.shared,
            content_missing=self._content_missing(mine, hashes),
        )

    def _forget_still_on_env_change(self, snap: Any) -> None:
        """The free space and the global download limit can change an unfinished torrent's
        decision (free-space pauses and resumes): a change of either decides them again."""
        server = snap.server_state or {}
        limit = int(server.get("dl_rate_limit") or 0)
        at_limit = limit > 0 and int(server.get("dl_info_speed") or 0) >= GLOBAL_LIMIT_SHARE * limit
        key = (server.get("free_space_on_disk"), at_limit)
        if key != self.env_key:
            self.env_key = key
            for h in self.still:
                self.decided.pop(h, None)
            self.still = set()

    def _to_decide(
        self, mine: Mapping[str, dict[str, Any]], touched: set[str], everything: bool, now: float
    ) -> tuple[set[str], list[policy.Decision]]:
        """Split this cycle's torrents into those to decide and the unchanged "ok" ones to reuse."""
        reuse: list[policy.Decision] = []
        fresh = set(mine) if everything else set()
        if not everything:
            for h in mine:
                cached = self.decided.get(h)
                if h in touched or cached is None or now >= cached[1]:
                    fresh.add(h)
                else:
                    reuse.append(cached[0])
        return fresh, reuse

    def _remember(
        self, decisions: list[policy.Decision], mine: Mapping[str, dict[str, Any]], now: float
    ) -> None:
        for d in decisions:
            t = mine.get(d.hash, {})
            if d.rule == "ok" and not d.actions and t.get("amount_left") == 0:
                spread = int(d.hash[:4], 16) % 60 if d.hash[:4].isalnum() else 0
                self.decided[d.hash] = (d, now + REDECIDE_OK_AFTER + spread)
            elif (until := self._still_until(d, t, now)) is not None:
                self.decided[d.hash] = (d, until)
                self.still.add(d.hash)
                continue
            else:
                self.decided.pop(d.hash, None)
            self.still.discard(d.hash)

    def _still_until(self, d: policy.Decision, t: Mapping[str, Any], now: float) -> float | None:
        """Until when an unfinished torrent that does not move (stalled, paused, queued) keeps
        its decision while nothing about it changes: the next moment a clock of its own can
        change it (its stall reaching StalledDelay, its age reaching IgnoreYoungerThan, the end
        of a pause grace), at most REDECIDE_STILL_AFTER. Its facts are frozen, and a change of
        its fields, its queue entry, the free space or the settings decides it again at once;
        it is not downloading, so no "checks in a row" (slow strikes) are skipped."""
        if d.actions or t.get("state") not in STILL_UNFINISHED:
            return None
        m, s = d.memory, self.settings
        deadlines = [now + REDECIDE_STILL_AFTER]
        if m.stalled_since is not None and s.stalled_delay > 0:
            deadlines.append(m.stalled_since + s.stalled_delay)
        added = t.get("added_on")
        if isinstance(added, (int, float)) and added > 0:
            deadlines.append(float(added) + s.ignore_younger_than)
        if m.paused_by_qbarr and m.paused_at is not None:
            deadlines.append(m.paused_at + PAUSE_GRACE)
        return min(x for x in deadlines if x >= now)  # == now: decided again next cycle

    # -- the cycle -------------------------------------------------------------------------

    def cycle(self) -> CycleReport:
        """One cycle; raises the clients' errors for the caller to report and retry."""
        now = self.clock()
        snap = self.source.snapshot(self._categories())
        mine = self._mine(snap.torrents)
        touched = {h for h in snap.changed if h in mine}
        report = CycleReport(sync_bytes=int(getattr(snap, "last_bytes", 0) or 0))
        requeued = self._refresh_queue(mine, touched, now)
        report.queue_refreshed = requeued is not None
        touched |= {h for h in requeued or () if h in mine}
        self._fetch_files(mine, touched)
        everything = bool(snap.full_update)
        self._forget_still_on_env_change(snap)
        hashes, reused = self._to_decide(mine, touched, everything, now)
        env = self._env(snap, mine, hashes, now)
        fresh = policy.decide(
            {h: mine[h] for h in hashes}, self.queue, self.files, self.memory, self.settings, env
        )
        self._remember(fresh, mine, now)
        decisions = fresh + reused
        dry_run = bool(self.cfg.settings["DryRun"])
        self.journal.record(fresh, now, dry_run, torrents={h: mine[h] for h in hashes})
        present = set(mine)
        if present != self.present:
            self.journal.forget_gone(present, now)
            self.present = present
        # The journal's memory, not the decisions': in dry run they differ (effects not done).
        self.memory = {h: m for h, m in self.journal.memory().items() if h in mine}
        wanted = {a.key for d in decisions for a in d.actions}
        summary = self.executor.run(
            self.journal.pending(),
            dry_run,
            int(self.cfg.settings["BrakeMaxRemovals"]),
            wanted=wanted,
        )
        if any(d.rule == "import" and d.actions for d in decisions):
            self.queue_at = 0.0  # see the import's outcome (import-failed) on the next cycle
        self.apply_requests()
        report.torrents = len(decisions)
        report.counts = dict(Counter(d.rule for d in decisions))
        report.actions = dict(getattr(summary, "counts", {}) or {})
        report.brake = summary.brake_engaged  # the executor read the brake state this cycle
        return report

    # -- web UI requests -------------------------------------------------------------------

    def apply_requests(self) -> int:
        """Protect / unprotect torrents as asked from the web UI; returns how many were applied."""
        pending = rows(
            self.db,
            "SELECT id, hash, kind FROM requests WHERE instance = ? AND done_at IS NULL "
            "ORDER BY id LIMIT 100",
            (self.instance.name,),
        )
        tag = str(self.cfg.settings["ProtectedTag"])
        for req in pending:
            result = "ok"
            if req["kind"] == "protect":
                self.qbt.create_tags([tag])
                self.qbt.add_tags([req["hash"]], [tag])
            elif req["kind"] == "unprotect":
                self.qbt.remove_tags([req["hash"]], [tag])
            else:
                result = f"unknown request kind {req['kind']!r}"
            with write_txn(self.db) as db:
                db.execute(
                    "UPDATE requests SET done_at = ?, result = ? WHERE id = ?",
                    (self.clock(), result, req["id"]),
                )
            log.info("web UI request %s %s: %s", req["kind"], req["hash"], result)
        return len(pending)
