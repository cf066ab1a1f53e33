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

qBittorrent's errors propagate as the client's typed errors: without its torrents nothing
can be decided, and the program's loop reports them and retries with back-off. The Arr is
handled here (:class:`ArrGate`): while it does not answer, the cycle goes on with the last
queue read and ``Env.arr_reachable`` False (what needs no Arr is still decided, nothing
that needs it is), and it is asked again after a capped back-off.

Observed time: a cycle that looked at qBittorrent and recorded its decisions is an
observation (its time is kept in the journal, across restarts). When a cycle comes after
one that did not get that far (qBittorrent unreachable, a crash, the manager stopped), the
time since the last observation is ``Env.unobserved``: it does not count on the stall clock.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from qbarr import policy
from qbarr.arr import ArrError
from qbarr.backoff import Backoff, RetryTimer
from qbarr.config import Config, Instance
from qbarr.db import Database, rows, write_txn
from qbarr.executor import Executor
from qbarr.journal import Journal
from qbarr.policy.observe import PAUSE_GRACE
from qbarr.qbittorrent import states
from qbarr.qbittorrent.snapshot import Snapshot
from qbarr.search.settings import settings_for

if TYPE_CHECKING:
    from qbarr.media.pool import MediaChecker

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
    arr_up: bool | None = None
    unobserved: float = 0.0
    backlog: dict[str, Any] = field(default_factory=dict)


class ArrGate:
    """Whether the Arr answers, and when to ask it again (capped back-off, never blocking)."""

    def __init__(self, arr: Any, cap: float, clock: Callable[[], float] = time.monotonic):
        self.arr = arr
        self.up: bool | None = None  # None: not asked yet
        self.version: str | None = None
        self.error: str | None = None
        self.timer = RetryTimer(Backoff(base=1.0, cap=cap, jitter=0.1), clock=clock)

    def check(self) -> bool:
        """True when the Arr answers; when it did not, ask it (system/status) once the
        back-off allows."""
        if self.up:
            return True
        if not self.timer.ready():
            return False
        try:
            status = self.arr.system_status()
        except ArrError as exc:
            self.lost(str(exc))
            return False
        self.version = str(status.get("version", "?")) if isinstance(status, dict) else "?"
        if self.up is False:
            log.info("the Arr answers again (%s)", self.version)
        self.up, self.error = True, None
        self.timer.succeeded()
        return True

    def lost(self, error: str) -> float:
        """The Arr did not answer: its work waits; returns the seconds until it is asked
        again."""
        delay = self.timer.failed()
        if self.up is not False or error != self.error:
            log.warning("%s: the Arr's work waits (asked again in %.1fs)", error, delay)
        self.up, self.error = False, error
        return delay


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
        self.media: MediaChecker | None = None  # VerifyMedia (qbarr.media.pool)
        self.gate = ArrGate(arr, float(cfg.settings["RetryBackoffMax"]))
        # The last full observation (journal: survives restarts); until the next one, the
        # time since it is not observed when a cycle did not get through (``blind``).
        self.observed_at: float | None = self.journal.observed_at()
        self.blind = True
        self.configure(cfg, instance)

    def configure(self, cfg: Config, instance: Instance) -> None:
        """Take (re)loaded settings; called at start and on SIGHUP."""
        self.cfg, self.instance = cfg, instance
        self.settings = policy.PolicySettings.from_config(
            instance.section, cfg.settings, instance.kind
        )
        self.executor = Executor(self.journal, self.qbt, self.arr, log)
        self.executor.search_settings = settings_for(instance)
        self.gate.timer.set_cap(float(cfg.settings["RetryBackoffMax"]))
        self.queue_at = 0.0  # settings may change what the queue means: re-read it
        self.decided, self.still = {}, set()
        from qbarr.media import pool  # the probe pool only matters with VerifyMedia

        self.media = pool.configure(self.media, self.db, instance.kind, instance.section["Torrent"])

    def close(self) -> None:
        """Stop what runs beside the cycle (media probes)."""
        if self.media is not None:
            self.media.close()

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
        try:
            items = self.arr.queue()
        except ArrError as exc:
            self.gate.lost(str(exc))
            return None
        old, self.queue = self.queue, policy.group_queue(items)
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
            if not policy.is_complete(t) or self.memory.get(h, policy.Memory()).import_sent_at:
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
        self,
        snap: Any,
        mine: Mapping[str, dict[str, Any]],
        hashes: set[str],
        now: float,
        report: CycleReport,
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
            content_paths_shared=self.shared,
            content_missing=self._content_missing(mine, hashes),
            unobserved=report.unobserved,
            arr_reachable=bool(report.arr_up),
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
            if d.rule == "ok" and not d.actions and policy.is_complete(t):
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
        """One cycle; raises qBittorrent's errors for the caller to report and retry."""
        try:
            return self._cycle()
        except BaseException:
            self.blind = True  # not seen through: the time until the next one is not observed
            raise

    def _unobserved(self, now: float) -> float:
        """Seconds since the last observation that qbarr could not see (0 in steady state)."""
        if not self.blind or self.observed_at is None:
            return 0.0
        return max(0.0, now - self.observed_at)

    def _cycle(self) -> CycleReport:
        now = self.clock()
        snap = self.source.snapshot(self._categories())
        mine = self._mine(snap.torrents)
        touched = {h for h in snap.changed if h in mine}
        report = CycleReport(sync_bytes=int(getattr(snap, "last_bytes", 0) or 0))
        report.unobserved = self._unobserved(now)
        was_up = self.gate.up
        requeued = self._refresh_queue(mine, touched, now) if self.gate.check() else None
        report.arr_up = bool(self.gate.up)
        report.queue_refreshed = requeued is not None
        touched |= {h for h in requeued or () if h in mine}
        self._fetch_files(mine, touched)
        # The Arr came or went: decisions that read it are stale (e.g. imports held back).
        # After time qbarr could not see, every stall clock moves on by it: decide all again.
        everything = (
            bool(snap.full_update) or report.arr_up != bool(was_up) or report.unobserved > 0
        )
        self._forget_still_on_env_change(snap)
        hashes, reused = self._to_decide(mine, touched, everything, now)
        env = self._env(snap, mine, hashes, now, report)
        if self.media is not None:  # probe results arrive as inputs; probing never blocks
            self.media.forget(mine)
            env = dataclasses.replace(env, media=self.media.checks())
        fresh = policy.decide(
            {h: mine[h] for h in hashes}, self.queue, self.files, self.memory, self.settings, env
        )
        if self.media is not None:
            asked = {d.hash for d in fresh if d.code == "media-check"}
            self.media.request(asked, mine, self.qbt.files)
        self._remember(fresh, mine, now)
        decisions = fresh + reused
        dry_run = bool(self.cfg.settings["DryRun"])
        self.journal.record(
            fresh, now, dry_run, torrents={h: mine[h] for h in hashes}, observed=True
        )
        self.observed_at, self.blind = now, False
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
            arr_up=report.arr_up,
        )
        if summary.arr_unreachable:
            self.gate.lost(summary.errors[-1] if summary.errors else "the Arr did not answer")
        if any(d.rule == "import" and d.actions for d in decisions):
            self.queue_at = 0.0  # see the import's outcome (import-failed) on the next cycle
        self.apply_requests()
        report.torrents = len(decisions)
        report.counts = dict(Counter(d.rule for d in decisions))
        report.actions = dict(getattr(summary, "counts", {}) or {})
        report.brake = summary.brake_engaged  # the executor read the brake state this cycle
        report.arr_up = bool(self.gate.up)
        report.backlog = self.journal.backlog()
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
