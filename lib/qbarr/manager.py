"""One cycle of an Arr manager: sync, Arr view, decide, journal, act.

:class:`TorrentLoop` holds what a manager keeps between cycles (the qBittorrent snapshot
lives in the client; the files cache, the last queue and the per-torrent memory live
here) and runs the steps of DESIGN.md "Inside an Arr manager":

1. ``sync/maindata`` with ``rid`` (never a full list per cycle);
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from qbarr import policy
from qbarr.config import Config, Instance
from qbarr.db import rows, write_txn
from qbarr.executor import Executor
from qbarr.journal import Journal

log = logging.getLogger("qbarr.manager")

FILES_PER_CYCLE = 25  # torrents/files calls per cycle at most (a first start with many downloads)
GLOBAL_LIMIT_SHARE = 0.9  # at >= 90 % of the global download limit, ETAs say nothing about the swarm


@dataclass
class CycleReport:
    """What one cycle saw and did (goes into the heartbeat)."""

    torrents: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    queue_refreshed: bool = False
    sync_bytes: int = 0
    brake: bool = False


class TorrentLoop:
    """The per-instance state and the cycle; qbt/arr are the clients of qbarr.qbittorrent / qbarr.arr."""

    def __init__(self, cfg: Config, instance: Instance, db: sqlite_utils.Database, qbt: Any, arr: Any,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.qbt = qbt
        self.arr = arr
        self.clock = clock
        self.journal = Journal(db, instance.name)
        self.memory: dict[str, policy.Memory] = self.journal.load_memory()
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.queue: dict[str, policy.QueueView] = {}
        self.queue_at = 0.0
        self.queue_key: tuple[Any, ...] = ()
        self.shared: frozenset[str] = frozenset()
        self.configure(cfg, instance)

    def configure(self, cfg: Config, instance: Instance) -> None:
        """Take (re)loaded settings; called at start and on SIGHUP."""
        self.cfg, self.instance = cfg, instance
        self.settings = policy.PolicySettings.from_config(instance.section, cfg.settings, instance.kind)
        self.executor = Executor(self.journal, self.qbt, self.arr, self.settings, log)
        self.queue_at = 0.0  # settings may change what the queue means: re-read it

    # -- inputs --------------------------------------------------------------------------

    def _categories(self) -> set[str]:
        s = self.cfg.settings
        return {self.instance.category, str(s["FailedCategory"]), str(s["RecheckCategory"])}

    def _mine(self, torrents: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        cats = self._categories()
        return {h: t for h, t in torrents.items() if t.get("category") in cats}

    def _refresh_queue(self, mine: Mapping[str, dict[str, Any]], now: float) -> bool:
        key = tuple(sorted((h, str(t.get("state")), t.get("category")) for h, t in mine.items()))
        interval = float(self.cfg.settings["QueueRefresh"])
        if key == self.queue_key and now - self.queue_at < interval:
            return False
        self.queue = policy.group_queue(self.arr.queue())
        self.queue_key, self.queue_at = key, now
        return True

    def _fetch_files(self, mine: Mapping[str, dict[str, Any]]) -> None:
        for gone in set(self.files) - set(mine):
            del self.files[gone]
        budget = FILES_PER_CYCLE
        for h, t in mine.items():
            if budget == 0:
                break
            if h not in self.files and policy.needs_files(t):
                self.files[h] = self.qbt.files(h)
                budget -= 1

    def _content_missing(self, mine: Mapping[str, dict[str, Any]]) -> frozenset[str]:
        """Complete torrents whose data qbarr can see is absent (only where qbarr sees the disk)."""
        missing = set()
        for h, t in mine.items():
            if t.get("amount_left", 1) != 0 or self.memory.get(h, policy.Memory()).import_sent_at:
                continue
            content, save = str(t.get("content_path") or ""), str(t.get("save_path") or "")
            if content and save and os.path.isdir(save) and not os.path.exists(content):
                missing.add(h)
        return frozenset(missing)

    def _env(self, snap: Any, mine: Mapping[str, dict[str, Any]], now: float) -> policy.Env:
        server = snap.server_state or {}
        limit = int(server.get("dl_rate_limit") or 0)
        speed = int(server.get("dl_info_speed") or 0)
        free = server.get("free_space_on_disk")
        if snap.full_update or snap.changed or snap.removed:
            self.shared = policy.shared_content(snap.torrents)
        return policy.Env(
            now=now,
            free_space=int(free) if isinstance(free, (int, float)) else None,
            at_global_dl_limit=limit > 0 and speed >= GLOBAL_LIMIT_SHARE * limit,
            v5=bool(self.qbt.version().v5),
            content_paths_shared=self.shared,
            content_missing=self._content_missing(mine),
        )

    # -- the cycle -------------------------------------------------------------------------

    def cycle(self) -> CycleReport:
        """One cycle; raises the clients' errors for the caller to report and retry."""
        now = self.clock()
        snap = self.qbt.sync()
        mine = self._mine(snap.torrents)
        report = CycleReport(sync_bytes=int(getattr(snap, "last_bytes", 0) or 0))
        report.queue_refreshed = self._refresh_queue(mine, now)
        self._fetch_files(mine)
        env = self._env(snap, mine, now)
        decisions = policy.decide(mine, self.queue, self.files, self.memory, self.settings, env)
        dry_run = bool(self.cfg.settings["DryRun"])
        self.journal.record(decisions, now, dry_run, torrents=mine)
        self.journal.forget_gone(set(mine), now)
        # The journal's memory, not the decisions': in dry run they differ (effects not done).
        self.memory = {h: m for h, m in self.journal.memory().items() if h in mine}
        wanted = {a.key for d in decisions for a in d.actions}
        summary = self.executor.run(self.journal.pending(), dry_run,
                                    int(self.cfg.settings["BrakeMaxRemovals"]), wanted=wanted)
        if any(d.rule == "import" and d.actions for d in decisions):
            self.queue_at = 0.0  # see the import's outcome (import-failed) on the next cycle
        self.apply_requests()
        report.torrents = len(decisions)
        report.counts = dict(Counter(d.rule for d in decisions))
        report.actions = dict(getattr(summary, "counts", {}) or {})
        report.brake = bool(self.journal.brake_engaged())
        return report

    # -- web UI requests -------------------------------------------------------------------

    def apply_requests(self) -> int:
        """Protect / unprotect torrents as asked from the web UI; returns how many were applied."""
        pending = rows(self.db, "SELECT id, hash, kind FROM requests WHERE instance = ? AND done_at IS NULL "
                       "ORDER BY id LIMIT 100", (self.instance.name,))
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
                db.execute("UPDATE requests SET done_at = ?, result = ? WHERE id = ?", (self.clock(), result, req["id"]))
            log.info("web UI request %s %s: %s", req["kind"], req["hash"], result)
        return len(pending)
