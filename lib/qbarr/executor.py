"""Carry out journaled actions through injected qBittorrent and Arr clients, exactly once.

For every action: mark it ``sending`` (committed), call the client, mark it ``done`` right
after success, or ``failed`` with the error text (retried later with back-off, up to the
journal's attempt limit). A row found in ``sending`` at start-up was interrupted by a crash:
an import is first looked up in the Arr's command list (GET command) and only sent again if
the Arr has no Downloaded*Scan for that download; a blocklist whose queue item is gone (404)
counts as done; the other actions are idempotent and are simply repeated.

Actions of one torrent run in journal order, one wave at a time (blocklist before delete
before search): a failed, held or deferred action stops the torrent's later actions for
this run. Within a wave, pause / resume / recheck / delete calls of many torrents are sent
as one request.

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
from qbarr.search.model import item_key
from qbarr.searchlog import may_search, record_search

BATCHED = ("delete", "pause", "resume", "recheck")
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
    def file_prio(self, hash: str, file_ids: list[int], priority: int) -> None: ...


class ArrLike(Protocol):
    def scan(self, path: str, download_client_id: str, import_mode: str = "Auto") -> dict: ...
    def delete_queue(
        self,
        item_id: int,
        remove_from_client: bool = True,
        blocklist: bool = True,
        skip_redownload: bool = False,
    ) -> None: ...
    def search_for(self, items: Iterable[Any]) -> dict | None: ...
    def commands(self) -> list[dict]: ...


@dataclass
class ExecSummary:
    """What one ``run`` did."""

    done: int = 0
    failed: int = 0
    held: int = 0
    skipped: int = 0
    deferred: int = 0
    brake_engaged: bool = False
    brake_reason: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Actions per outcome, e.g. for the heartbeat."""
        return {
            "done": self.done,
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
        self._commands: list[dict] | None = None
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
    ) -> ExecSummary:
        """Carry out ``actions`` (from ``journal.pending()``); see the module doc."""
        summary = ExecSummary()
        self._commands = None
        todo = self._skip_unwanted(list(actions), dry_run, wanted, summary)
        todo = self._apply_brake(todo, brake_max, summary)
        todo, paced = self._pace_imports(todo)
        self._waves(todo, summary)
        summary.deferred += paced
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
        summary.deferred = deferred + sum(len(q) for q in queues.values())

    def _run_wave(self, ready: list[ActionRow], summary: ExecSummary) -> list[ActionRow]:
        """Run one action per torrent; returns the actions that did not succeed."""
        interrupted = {a.id for a in ready if a.status == "sending"}
        self.journal.mark_many(
            [a.id for a in ready if a.status != "sending"], "sending", "", self.clock()
        )
        failures: list[ActionRow] = []
        groups: dict[tuple, list[ActionRow]] = {}
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
            hashes = [a.hash for a in group]
            call = functools.partial(self._batched, kind, hashes, delete_files)
            ok = self._attempt(group, summary, call)
            if not ok:
                failures += group
        for a in singles:
            if a.id in interrupted and a.kind in ("import", "search"):
                found = self._already_sent(a, summary)
                if found is None:
                    failures.append(a)
                    continue
                if found:
                    self.journal.mark(
                        a.id,
                        "done",
                        "already sent before a restart (found in the Arr's command list)",
                        self.clock(),
                    )
                    summary.done += 1
                    continue
            if not self._attempt([a], summary, lambda a=a: self._single(a)):
                failures.append(a)
        return failures

    def _attempt(
        self, group: list[ActionRow], summary: ExecSummary, call: Callable[[], str]
    ) -> bool:
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - every client error is journaled, then retried
            text = error_text(exc)
            self.journal.mark_many([a.id for a in group], "failed", text, self.clock())
            summary.failed += len(group)
            summary.errors.append(text)
            self.log.warning("%s of %d torrent(s) failed: %s", group[0].kind, len(group), text)
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
        return {"pause": "paused", "resume": "resumed", "recheck": "recheck started"}[kind]

    def _single(self, a: ActionRow) -> str:
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
            return self._blocklist(a)
        if a.kind == "search":
            media = self._searchable(p.get("media", []))
            if not media:
                return "not searched: searched moments ago or the daily search budget is spent"
            items = [SimpleNamespace(media=dict(m)) for m in media]
            cmd = self.arr.search_for(items)
            if cmd is None:
                return "no media ids to search for"
            self._record_search(a, cmd)
            return (
                f"command {cmd.get('name', 'search')} id {cmd.get('id')} "
                f"({cmd.get('status', 'queued')})"
            )
        if a.kind == "set_category":
            self.qbt.set_category([a.hash], str(p["category"]))
            return f"category {p['category']!r}"
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

    def _record_search(self, a: ActionRow, cmd: dict) -> None:
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

    def _blocklist(self, a: ActionRow) -> str:
        ids = [int(i) for i in a.params.get("queue_ids", [])]
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

    def _already_sent(self, a: ActionRow, summary: ExecSummary) -> bool | None:
        """For an import or search interrupted by a crash: True/False = the Arr does/does not list
        that command (GET command); None = cannot tell now (retried later, never sent blindly)."""
        if self._commands is None:
            try:
                self._commands = list(self.arr.commands())
            except Exception as exc:  # noqa: BLE001
                text = error_text(exc)
                self.journal.mark(
                    a.id,
                    "failed",
                    f"cannot read the Arr's command list to check a send "
                    f"interrupted by a restart: {text}",
                    self.clock(),
                )
                summary.failed += 1
                summary.errors.append(text)
                return None
        return any(_same_command(a, cmd) for cmd in self._commands)


def _search_key(media: Mapping[str, Any]) -> str | None:
    """The search item key (``movie:3``) a re-search of one queue record's media covers."""
    target = search_target(media)
    return item_key(target[0].media, target[1]) if target else None


def _same_command(a: ActionRow, cmd: dict) -> bool:
    body = cmd.get("body") or {}
    name = str(cmd.get("name") or body.get("name") or "")
    if a.kind == "import":
        want = str(a.params.get("download_client_id", a.hash)).lower()
        return name.endswith("Scan") and str(body.get("downloadClientId", "")).lower() == want
    if not name.endswith("Search"):
        return False
    for media in a.params.get("media", []):
        for field_name in media:
            ids = {m[field_name] for m in a.params.get("media", []) if field_name in m}
            sent = body.get(field_name + "s")
            if isinstance(sent, list) and ids and set(sent) == ids:
                return True
    return False
