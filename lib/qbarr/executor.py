"""Carry out journaled actions through injected qBittorrent and Arr clients, exactly once.

For every action: mark it ``sending`` (committed; ``first_sent_at`` the first time), call
the client, then mark the outcome right away:

- ``done``;
- ``unknown`` when the call may have taken effect although it failed for us (a timeout, a
  connection lost after sending, a 5xx): the answer was lost;
- ``waiting`` when the remote surely did not get it (refused connection, 429, a login or
  proxy page): retried with back-off for as long as it takes;
- ``failed`` when the remote refused it (4xx ...): retried with back-off, given up only
  once refused ``MAX_ATTEMPTS`` times and its torrent is gone (qbarr.journal, qbarr.retention).

Imports, searches and blocklists are not idempotent: before one is sent again after a try
that may have reached the Arr (``unknown``, a crash in ``sending``, any earlier try), it is
looked up (:mod:`qbarr.lookup`): found -> ``done``; not found -> sent; cannot tell (the Arr
does not answer) -> ``waiting``, never sent blindly. qBittorrent actions are idempotent and
simply repeated. While the Arr is unreachable (``run(arr_up=False)``, or an Arr call of this
run found it so) no Arr action is tried and, through the per-torrent order below, nothing
that must come after one (no delete before its blocklist).

Actions of one torrent run in journal order, one wave at a time (blocklist before delete
before search): an unfinished, held or deferred action stops the torrent's later actions
for this run. Within a wave, pause / resume / recheck / delete calls of many torrents are
sent as one request.

The brake: when the batch would remove or blocklist more than ``brake_max`` torrents
(0 = no brake) the brake is engaged in the database and every destructive action
(delete, blocklist) is held until the operator releases it; released actions are carried
out only if the rules still decide them (``wanted``). Dry run marks everything
``skipped`` and touches nothing.
"""

from __future__ import annotations

import functools
import logging
import shlex
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Protocol

from qbarr.arr.kinds import search_target
from qbarr.db import rows
from qbarr.journal import ActionRow, Journal
from qbarr.lookup import ArrLookup, describe
from qbarr.search.model import item_key
from qbarr.searchlog import may_search, record_search

BATCHED = ("delete", "pause", "resume", "recheck", "reannounce")
ARR_KINDS = frozenset({"import", "search", "blocklist"})  # not idempotent: look up first
# At most this many new import commands per cycle: a first start on a large finished library
# would otherwise send thousands of scans at once (9,000 in 76 s measured); the rest wait in
# the journal, oldest first, and go out over the next cycles (25/s at LoopInterval 2 s).
IMPORTS_PER_CYCLE = 50


class QbtLike(Protocol):
    def delete(self, hashes: list[str], delete_files: bool) -> None: ...
    def recheck(self, hashes: list[str]) -> None: ...
    def set_category(self, hashes: list[str], category: str) -> None: ...
    def pause(self, hashes: list[str]) -> None: ...
    def resume(self, hashes: list[str]) -> None: ...
    def reannounce(self, hashes: list[str]) -> None: ...
    def remove_trackers(self, hash: str, urls: list[str]) -> None: ...
    def file_prio(self, hash: str, file_ids: list[int], priority: int) -> None: ...
    def add_tags(self, hashes: list[str], tags: list[str]) -> None: ...
    def remove_tags(self, hashes: list[str], tags: list[str]) -> None: ...


class ArrLike(Protocol):
    def scan(
        self, path: str, download_client_id: str, import_mode: str = "Auto"
    ) -> dict[str, Any]: ...
    def delete_queue(
        self,
        item_id: int,
        remove_from_client: bool = True,
        blocklist: bool = True,
        skip_redownload: bool = False,
    ) -> None: ...
    def search_for(self, items: Iterable[Any]) -> dict[str, Any] | None: ...
    def commands(self) -> list[dict[str, Any]]: ...
    def queue(self) -> Iterable[Any]: ...
    def download_history(self, download_id: str) -> list[dict[str, Any]]: ...

    spec: Any  # the ArrKind


@dataclass
class ExecSummary:
    """What one ``run`` did."""

    done: int = 0
    unknown: int = 0
    waiting: int = 0
    failed: int = 0
    held: int = 0
    skipped: int = 0
    deferred: int = 0
    brake_engaged: bool = False
    brake_reason: str | None = None
    arr_unreachable: bool = False  # an Arr call of this run found the Arr unreachable
    errors: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Actions per outcome, e.g. for the heartbeat."""
        return {
            "done": self.done,
            "unknown": self.unknown,
            "waiting": self.waiting,
            "failed": self.failed,
            "held": self.held,
            "skipped": self.skipped,
            "deferred": self.deferred,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts, "brake_engaged": self.brake_engaged}


def http_status(exc: BaseException) -> int | None:
    """The HTTP status carried by a client error (``.status``), if any."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def error_text(exc: BaseException) -> str:
    """A short, secret-free description: the clients' messages never contain credentials."""
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


# Client errors (by class name, so this module needs neither client) that mean the remote
# is not usable right now rather than that it refused this call.
UNREACHABLE = frozenset(
    {"ArrUnavailable", "ArrAuthError", "ArrProtocolError", "QbtUnavailable", "QbtAuthError"}
)


def outcome(exc: BaseException) -> str:
    """The status a failed call leaves its action in: ``unknown`` (it may have taken effect),
    ``waiting`` (the remote is unreachable and surely did not act), ``failed`` (refused)."""
    if getattr(exc, "maybe_applied", False):
        return "unknown"
    if any(cls.__name__ in UNREACHABLE for cls in type(exc).__mro__):
        return "waiting"
    return "failed"


class Executor:
    def __init__(
        self,
        journal: Journal,
        qbt: QbtLike,
        arr: ArrLike,
        log: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.qbt = qbt
        self.arr = arr
        self.log = log or logging.getLogger("qbarr.executor")
        self.clock = clock
        self.lookup = ArrLookup(arr)
        self.arr_down = False  # no Arr action is tried while set (for the rest of a run)
        # The instance's search settings (qbarr.search.settings_for): when set, re-searches go
        # through the same cooldown and daily budget as the search program (may_search).
        self.search_settings: Any = None

    # -- entry point --------------------------------------------------------

    def run(
        self,
        actions: Sequence[ActionRow],
        dry_run: bool,
        brake_max: int,
        wanted: set[str] | None = None,
        arr_up: bool = True,
    ) -> ExecSummary:
        """Carry out ``actions`` (from ``journal.pending()``); see the module doc.
        ``arr_up`` False: the Arr is known to be unreachable, its actions wait."""
        summary = ExecSummary()
        self.lookup = ArrLookup(self.arr)  # read the Arr's lists afresh, at most once per run
        self.arr_down = not arr_up
        todo = self._skip_unwanted(list(actions), dry_run, wanted, summary)
        todo = self._apply_brake(todo, brake_max, summary)
        todo, paced = self._pace_imports(todo)
        self._waves(todo, summary)
        summary.deferred += paced
        summary.arr_unreachable = arr_up and self.arr_down
        return summary

    def _pace_imports(self, actions: list[ActionRow]) -> tuple[list[ActionRow], int]:
        """Leave new imports beyond IMPORTS_PER_CYCLE planned for the next cycles (oldest go
        first)."""
        new = sorted(
            (a for a in actions if a.kind == "import" and a.status == "planned"), key=lambda a: a.id
        )
        later = {a.id for a in new[IMPORTS_PER_CYCLE:]}
        return [a for a in actions if a.id not in later], len(later)

    def _skip_unwanted(
        self, actions: list[ActionRow], dry_run: bool, wanted: set[str] | None, summary: ExecSummary
    ) -> list[ActionRow]:
        now = self.clock()
        skip: dict[str, list[int]] = {}
        keep = []
        for a in actions:
            if dry_run:
                skip.setdefault("dry run: nothing changed", []).append(a.id)
            elif a.dry:
                skip.setdefault("planned in dry run", []).append(a.id)
            elif a.released_at is not None and wanted is not None and a.key not in wanted:
                skip.setdefault("no longer decided after the brake was released", []).append(a.id)
            else:
                keep.append(a)
        for reason, ids in skip.items():
            self.journal.mark_many(ids, "skipped", reason, now)
            summary.skipped += len(ids)
        return keep

    def _apply_brake(
        self, actions: list[ActionRow], brake_max: int, summary: ExecSummary
    ) -> list[ActionRow]:
        engaged = self.journal.brake_engaged()
        if not engaged and brake_max > 0:
            removals = {
                a.hash
                for a in actions
                if a.destructive
                and a.released_at is None
                and a.attempts == 0
                and a.status == "planned"
            }
            if len(removals) > brake_max:
                reason = (
                    f"one cycle would remove or blocklist {len(removals)} torrents "
                    f"(BrakeMaxRemovals {brake_max}): "
                    "destructive actions held until "
                    f"`qbarr brake release {shlex.quote(self.journal.instance)}`"
                )
                self.journal.engage_brake(reason, self.clock())
                self.log.warning("brake engaged: %s", reason)
                engaged = True
        if not engaged:
            return actions
        summary.brake_engaged = True
        held = [a for a in actions if a.destructive and a.released_at is None]
        if held:
            self.journal.mark_many([a.id for a in held], "held", "brake engaged", self.clock())
            summary.held += len(held)
        held_ids = {a.id for a in held}
        return [a for a in actions if a.id not in held_ids]

    # -- waves ----------------------------------------------------------------

    def _waves(self, actions: list[ActionRow], summary: ExecSummary) -> None:
        """One action per torrent per wave, in journal order. An unfinished earlier action of a
        torrent that is not in this batch (held, or failed and waiting for its retry) is a
        barrier: the torrent's later actions wait for it."""
        batch = {a.id for a in actions}
        barrier: dict[str, int] = {}
        for action_id, h in self.journal.unfinished():
            if action_id not in batch and action_id < barrier.get(h, 1 << 62):
                barrier[h] = action_id
        queues: dict[str, list[ActionRow]] = {}
        deferred = 0
        for a in sorted(actions, key=lambda x: x.id):
            if a.id > barrier.get(a.hash, 1 << 62):
                deferred += 1
            else:
                queues.setdefault(a.hash, []).append(a)
        blocked: set[str] = set()
        while True:
            ready = [q[0] for h, q in queues.items() if q and h not in blocked]
            if not ready:
                break
            for a in ready:
                queues[a.hash].pop(0)
            for a in self._run_wave(ready, summary):
                blocked.add(a.hash)
        summary.deferred += deferred + sum(len(q) for q in queues.values())

    def _run_wave(self, ready: list[ActionRow], summary: ExecSummary) -> list[ActionRow]:
        """Run one action per torrent; returns the actions that did not finish."""
        failures: list[ActionRow] = []
        groups: dict[tuple[str, bool | None], list[ActionRow]] = {}
        singles: list[ActionRow] = []
        for a in ready:
            if a.kind in BATCHED:
                sig = (
                    a.kind,
                    bool(a.params.get("delete_files", False)) if a.kind == "delete" else None,
                )
                groups.setdefault(sig, []).append(a)
            else:
                singles.append(a)
        for (kind, delete_files), group in groups.items():
            self.journal.mark_many([a.id for a in group], "sending", "", self.clock())
            hashes = [a.hash for a in group]
            call = functools.partial(self._batched, kind, hashes, delete_files)
            if not self._attempt(group, summary, call):
                failures += group
        for a in singles:
            if a.kind in ARR_KINDS and self.arr_down:
                summary.deferred += 1  # the Arr is unreachable: it waits, untouched
                failures.append(a)
            elif not self._one(a, summary):
                failures.append(a)
        return failures

    def _one(self, a: ActionRow, summary: ExecSummary) -> bool:
        """One single action, looked up first when an earlier try may have reached the Arr."""
        only: list[int] | None = None
        if a.kind in ARR_KINDS and a.maybe_sent:
            try:
                found, only = self._look_up(a)
            except Exception as exc:  # noqa: BLE001 - cannot tell now: wait, never send blindly
                self._cannot_tell(a, exc, summary)
                return False
            if found is not None:
                self.journal.mark(a.id, "done", found, self.clock(), tried=False)
                summary.done += 1
                self.log.info("%s %s: %s", a.kind, a.hash, found)
                return True
        self.journal.mark(a.id, "sending", "", self.clock())
        return self._attempt([a], summary, lambda: self._single(a, only))

    def _look_up(self, a: ActionRow) -> tuple[str | None, list[int] | None]:
        """(why it needs no sending, or None; for a blocklist, the queue ids still to do)."""
        if a.kind == "import":
            return self.lookup.import_taken(a), None
        if a.kind == "search":
            cmd = self.lookup.sent_command(a)
            if cmd is None:
                return None, None
            self._record_search(a, cmd)
            return f"already sent: the Arr lists {describe(cmd)}", None
        ids = [int(i) for i in a.params.get("queue_ids", [])]
        left = self.lookup.queue_ids_left(ids)
        if ids and not left:
            return "already blocklisted: the Arr no longer lists its queue item", None
        return None, left

    def _cannot_tell(self, a: ActionRow, exc: BaseException, summary: ExecSummary) -> None:
        text = error_text(exc)
        self.journal.mark(
            a.id,
            "waiting",
            f"cannot look up whether the Arr got it before sending it again: {text}",
            self.clock(),
            tried=False,
        )
        summary.waiting += 1
        summary.errors.append(text)
        if outcome(exc) != "failed":
            self.arr_down = True
        self.log.warning("%s %s waits: cannot look it up: %s", a.kind, a.hash, text)

    def _attempt(
        self, group: list[ActionRow], summary: ExecSummary, call: Callable[[], str]
    ) -> bool:
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - every client error is journaled, then retried
            status, text = outcome(exc), error_text(exc)
            self.journal.mark_many([a.id for a in group], status, text, self.clock(), tried=True)
            setattr(summary, status, getattr(summary, status) + len(group))
            summary.errors.append(text)
            if status != "failed" and group[0].kind in ARR_KINDS:
                self.arr_down = True  # the rest of this run's Arr actions wait
            self.log.warning("%s of %d torrent(s): %s: %s", group[0].kind, len(group), status, text)
            return False
        self.journal.mark_many([a.id for a in group], "done", result, self.clock())
        summary.done += len(group)
        for a in group:
            self.log.info("%s %s: done %s", a.kind, a.hash, result)
        return True

    # -- the calls ------------------------------------------------------------

    def _batched(self, kind: str, hashes: list[str], delete_files: bool | None) -> str:
        if kind == "delete":
            self.qbt.delete(hashes, delete_files=bool(delete_files))
            return "deleted with its files" if delete_files else "removed, files kept"
        getattr(self.qbt, kind)(hashes)
        return {
            "pause": "paused",
            "resume": "resumed",
            "recheck": "recheck started",
            "reannounce": "reannounced",
        }[kind]

    def _single(self, a: ActionRow, only: list[int] | None = None) -> str:
        p = a.params
        if a.kind == "import":
            cmd = self.arr.scan(
                str(p["path"]), str(p["download_client_id"]), str(p.get("import_mode", "Auto"))
            )
            return (
                f"command {cmd.get('name', 'scan')} id {cmd.get('id')} "
                f"({cmd.get('status', 'queued')})"
            )
        if a.kind == "blocklist":
            return self._blocklist(a, only)
        if a.kind == "search":
            media = self._searchable(p.get("media", []))
            if not media:
                return "not searched: searched moments ago or the daily search budget is spent"
            items = [SimpleNamespace(media=dict(m)) for m in media]
            sent = self.arr.search_for(items)
            if sent is None:
                return "no media ids to search for"
            self._record_search(a, sent)
            return (
                f"command {sent.get('name', 'search')} id {sent.get('id')} "
                f"({sent.get('status', 'queued')})"
            )
        if a.kind == "set_category":
            self.qbt.set_category([a.hash], str(p["category"]))
            return f"category {p['category']!r}"
        if a.kind == "remove_trackers":
            urls = [str(u) for u in p.get("urls", [])]
            self.qbt.remove_trackers(a.hash, urls)
            return f"removed {len(urls)} tracker(s)"
        if a.kind in ("tag", "untag"):
            tags = [str(t) for t in p.get("tags", [])]
            (self.qbt.add_tags if a.kind == "tag" else self.qbt.remove_tags)([a.hash], tags)
            return f"{'tagged' if a.kind == 'tag' else 'untagged'} {', '.join(tags)}"
        if a.kind == "file_prio":
            ids = [int(i) for i in p.get("file_ids", [])]
            self.qbt.file_prio(a.hash, ids, int(p.get("priority", 0)))
            return f"{len(ids)} file(s) set to priority {p.get('priority', 0)}"
        if a.kind == "set_profile":  # a temporary quality profile (the search program's journal)
            from qbarr.search import profiles  # only the search program has these actions

            return profiles.apply(self.arr, p)
        if a.kind in BATCHED:
            return self._batched(a.kind, [a.hash], p.get("delete_files"))
        raise ValueError(f"unknown action kind {a.kind!r}")

    def _searchable(self, media: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The media of a re-search that the shared cooldown and budget allow (all without
        settings)."""
        if self.search_settings is None:
            return list(media)
        keyed: dict[str | None, list[Mapping[str, Any]]] = {}
        for m in media:
            keyed.setdefault(_search_key(m), []).append(m)
        allowed = set(
            may_search(
                self.journal.db,
                self.journal.instance,
                [k for k in keyed if k],
                self.clock(),
                self.search_settings,
            )
        )
        return [m for k, group in keyed.items() if k is None or k in allowed for m in group]

    def _record_search(self, a: ActionRow, cmd: dict[str, Any]) -> None:
        """Journal a sent re-search in ``searches`` (shared cooldowns and budget with the search
        program; ``qbarr why HASH`` lists it). Never fails the action: the search was sent."""
        keys = [k for k in map(_search_key, a.params.get("media", [])) if k]
        if not keys:
            return
        try:
            found = rows(
                self.journal.db, "SELECT rule FROM decisions WHERE id = ?", (a.decision_id,)
            )
            reason = found[0]["rule"] if found else "re-search"
            cmd_id = cmd.get("id")
            record_search(
                self.journal.db,
                self.journal.instance,
                keys,
                reason,
                str(cmd.get("name") or "search"),
                int(cmd_id) if isinstance(cmd_id, int) else None,
                self.clock(),
                hash=a.hash,
            )
        except sqlite3.Error as exc:
            self.log.warning("search %s sent but not journaled in searches: %s", a.hash, exc)

    def _blocklist(self, a: ActionRow, only: list[int] | None = None) -> str:
        ids = [int(i) for i in a.params.get("queue_ids", [])] if only is None else only
        gone = 0
        for item_id in ids:
            try:
                self.arr.delete_queue(
                    item_id,
                    remove_from_client=bool(a.params.get("remove_from_client", False)),
                    blocklist=True,
                    skip_redownload=bool(a.params.get("skip_redownload", True)),
                )
            except Exception as exc:
                if http_status(exc) != 404:
                    raise
                gone += 1
        if ids and gone == len(ids):
            return "queue item already gone (blocklisted before, or the Arr dropped it)"
        return f"blocklisted (queue item {', '.join(map(str, ids))})"


def _search_key(media: Mapping[str, Any]) -> str | None:
    """The search item key (``movie:3``) a re-search of one queue record's media covers."""
    target = search_target(media)
    return item_key(target[0].media, target[1]) if target else None
