"""One instance's search loop, minus the process: read, plan, send, journal.

:meth:`SearchRunner.step` does one round and returns how long the program may sleep.
What it reads, and how often (the reason the Arr sees few requests):

- the wanted lists (paged ``wanted/missing`` / ``wanted/cutoff``, plus the Arr queue to
  skip what is downloading) every ``wanted_refresh`` (15 min), but not while the daily
  budget or the hourly share holds every search back (then once, right when it frees);
  sooner (after ``MIN_REFRESH``) once the work found by the last read has all been
  searched, or when a request source brings a request not seen before;
- the library list, for upgrades only, every ``UPGRADE_REFRESH``; with
  ``SearchCustomFormatUnmet`` also the files' custom-format scores (Radarr: the same movie
  list; Sonarr: ``episode?seriesId&includeEpisodeFile`` per series with files; Lidarr:
  ``album`` + ``trackfile`` per artist with files) and the quality profiles;
- Sonarr with ``SearchBySeries = smart``: the series list (season statistics, to find
  seasons whose monitored episodes are all missing) at most every ``SEASON_REFRESH``, and
  only while some season has two or more missing episodes;
- with ``UseTempForMissing``: the quality profiles with each wanted-list read, the owner
  (movie / series / artist) before a switch and before a switch-back, the editor PUT for
  each (qbarr.search.profiles);
- the Arr's ``command`` list right before sending (to count running searches and copy
  the outcome of ours into the journal), and otherwise at most every ``RESULT_POLL``
  while some of our commands are unfinished;
- each request source every ``PollEvery`` (sooner after a failure, with backoff).

Arr errors back off (capped exponential, ``RetryBackoffMax``); a failing request source
is reported and retried while the Arr searches go on. A search whose answer was lost (a
timeout, a 5xx: the Arr may have queued it) keeps its cooldown and is looked up in the next
command list read (:func:`qbarr.lookup.search_covers`): found, it is recorded as sent; not
found, it is abandoned and the item may be searched again. Never sent twice blindly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from qbarr import searchlog
from qbarr.arr import ArrBadRequest, ArrError, ArrNotFound
from qbarr.arr.kinds import kind_of
from qbarr.backoff import Backoff
from qbarr.executor import Executor
from qbarr.journal import Journal
from qbarr.lookup import search_covers
from qbarr.search import profiles
from qbarr.search import wanted as wantedmod
from qbarr.search.model import (
    SEARCH_STATUSES_RUNNING,
    Plan,
    PlannedSearch,
    RequestItem,
    WantedItem,
    item_key,
)
from qbarr.search.planner import plan
from qbarr.search.settings import SearchSettings
from qbarr.search.sources import SourceError

log = logging.getLogger("qbarr.search")

MIN_REFRESH = 60.0
SEASON_REFRESH = 3600.0
RESULT_POLL = 60.0
MAX_SLEEP = 10.0
SOURCE_RETRY_BASE = 10.0


def running_searches(commands: Sequence[Mapping[str, Any]]) -> int:
    """Search commands the Arr has queued or started (finished, failed or aborted ones
    are not running, whatever their name)."""
    n = 0
    for cmd in commands:
        name = str(cmd.get("name") or "")
        status = str(cmd.get("status") or "").lower()
        if name.lower().endswith("search") and status in SEARCH_STATUSES_RUNNING:
            n += 1
    return n


@dataclass(frozen=True)
class LostSearch:
    """A search whose answer was lost: its journal row, what it asked, when, and the
    cooldowns to put back if the Arr turns out not to have it."""

    row: int
    ids: Mapping[str, tuple[int, ...]]
    at: float
    previous: Mapping[str, Any]


@dataclass
class SourceState:
    """What the loop knows about one request source."""

    requests: list[RequestItem] = field(default_factory=list)
    next_poll: float = 0.0
    failures: int = 0
    error: str | None = None
    polled_at: float | None = None


class SearchRunner:
    """The state of one instance's search program between two steps."""

    def __init__(
        self,
        instance: str,
        settings: SearchSettings,
        db: Any,
        arr: Any,
        sources: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
        backoff_cap: float = 60.0,
        clock: Callable[[], float] = time.time,
        should_stop: Callable[[], bool] = lambda: False,
        max_sleep: float = MAX_SLEEP,
        progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.instance = instance
        self.settings = settings
        self.db = db
        self.arr = arr
        self.sources = dict(sources or {})
        self.dry_run = dry_run
        self.backoff_cap = backoff_cap
        self.clock = clock
        self.should_stop = should_stop
        self.max_sleep = max_sleep
        self.progress = progress  # called during long steps (pages, sends): heartbeat hook
        self.wanted: list[WantedItem] = []
        self.upgrades: list[WantedItem] = []
        self.wanted_at: float | None = None
        self.upgrades_at: float | None = None
        self.sent_since_refresh = 0
        self.exhausted = False
        self.source_state: dict[str, SourceState] = {name: SourceState() for name in self.sources}
        self.series_by_tvdb: dict[int, int | None] = {}
        self.seen_requests: set[tuple[str, int | None, int | None]] = set()
        self.new_requests = False
        self.arr_failures = 0
        self.arr_retry_at = 0.0
        self.arr_ok: bool | None = None
        self.arr_error: str | None = None
        self.running = 0
        self.commands_at: float | None = None
        self.limit_retry_at = 0.0
        self.last_rss: float | None = None
        self.last_plan = Plan()
        self.sent_total = 0
        self.dry_cool: dict[str, float] = {}
        self.dry_last: float | None = None
        self.in_queue = 0
        self.cf_items: list[WantedItem] = []
        self.cf_at: float | None = None
        self.missing = profiles.MissingView(frozenset(), None, False)
        self.quality_profiles: list[dict[str, Any]] = []
        self.full_seasons: frozenset[tuple[int, int]] = frozenset()
        self.seasons_at: float | None = None
        self.journal = Journal(db, profiles.journal_name(instance))
        self.executor = Executor(self.journal, None, arr, log=log, clock=clock)  # type: ignore[arg-type]
        self.lost: list[LostSearch] = []

    # -- configuration ------------------------------------------------------------------

    def reconfigure(
        self,
        settings: SearchSettings,
        arr: Any | None = None,
        sources: Mapping[str, Any] | None = None,
        dry_run: bool | None = None,
    ) -> None:
        """New settings after SIGHUP; the next step re-reads what the change affects."""
        changed_lists = (
            settings.search_missing,
            settings.search_cutoff_unmet,
            settings.unmonitored,
            settings.search_upgrades,
        ) != (
            self.settings.search_missing,
            self.settings.search_cutoff_unmet,
            self.settings.unmonitored,
            self.settings.search_upgrades,
        )
        changed_lists = changed_lists or settings.search_cf_unmet != self.settings.search_cf_unmet
        self.settings = settings
        if arr is not None:
            self.arr = arr
            self.executor.arr = arr
            changed_lists = True
        if sources is not None:
            self.sources = dict(sources)
            self.source_state = {
                name: self.source_state.get(name, SourceState()) for name in self.sources
            }
            for state in self.source_state.values():
                state.next_poll = 0.0
        if dry_run is not None:
            self.dry_run = dry_run
        if changed_lists:
            self.wanted_at = self.upgrades_at = self.cf_at = None

    # -- one step -----------------------------------------------------------------------

    def step(self) -> float:
        """One round: poll sources, refresh lists, send what the planner allows.
        Returns the seconds to sleep before the next step."""
        now = self.clock()
        if not self.settings.enabled:
            self.last_plan = Plan(blocked="disabled")
            return self.max_sleep
        self._poll_sources(now)
        if now < self.arr_retry_at:
            return self._sleep(now, [self.arr_retry_at])
        try:
            self._refresh(now)
            self._resolve_requests()
            self._rss(now)
            wake = self._search(now)
            self._profile_actions(self.clock())
        except ArrError as exc:
            return self._arr_failed(exc, self.clock())
        self.arr_ok, self.arr_error, self.arr_failures = True, None, 0
        return self._sleep(self.clock(), wake)

    def _sleep(self, now: float, wakes: Sequence[float | None]) -> float:
        candidates = [w for w in wakes if w is not None]
        candidates += [s.next_poll for s in self.source_state.values()]
        return max(0.05, min([self.max_sleep] + [c - now for c in candidates]))

    def _arr_failed(self, exc: ArrError, now: float) -> float:
        self.arr_failures += 1
        delay = Backoff(1.0, self.backoff_cap).delay(self.arr_failures)
        self.arr_retry_at = now + delay
        self.arr_ok, self.arr_error = False, str(exc)
        log.warning("%s: %s; retrying in %.0f s", self.instance, exc, delay)
        return self._sleep(now, [self.arr_retry_at])

    # -- request sources ----------------------------------------------------------------

    def _poll_sources(self, now: float) -> None:
        for name, source in self.sources.items():
            state = self.source_state.setdefault(name, SourceState())
            if now < state.next_poll:
                continue
            every = source.settings.poll_every
            try:
                state.requests = source.fetch()
            except SourceError as exc:
                state.failures += 1
                state.error = str(exc)
                state.next_poll = now + Backoff(SOURCE_RETRY_BASE, every).delay(state.failures)
                log.warning(
                    "%s: %s; requests retried in %.0f s, Arr searches go on",
                    self.instance,
                    exc,
                    state.next_poll - now,
                )
                continue
            if state.error:
                log.info(
                    "%s: %s answers again (%d requests)", self.instance, name, len(state.requests)
                )
            fresh = {(r.media, r.tmdb, r.tvdb) for r in state.requests} - self.seen_requests
            if fresh:
                self.seen_requests |= fresh
                self.new_requests = True
            state.failures, state.error, state.polled_at = 0, None, now
            state.next_poll = now + every
            self.series_by_tvdb = {k: v for k, v in self.series_by_tvdb.items() if v is not None}

    def requests(self) -> list[RequestItem]:
        """Every known request, with Sonarr series ids filled in where resolved."""
        out = []
        for state in self.source_state.values():
            for req in state.requests:
                if (
                    req.media == "series"
                    and req.tvdb is not None
                    and self.series_by_tvdb.get(req.tvdb) is not None
                ):
                    req = replace(req, arr_id=self.series_by_tvdb[req.tvdb])
                out.append(req)
        return out

    def _resolve_requests(self) -> None:
        """TVDB id -> Sonarr series id for series requests (one lookup per new series;
        the episodes in wanted/missing only carry the series id)."""
        if self.settings.kind != "sonarr":
            return
        unknown = {
            r.tvdb
            for s in self.source_state.values()
            for r in s.requests
            if r.media == "series" and r.tvdb is not None and r.tvdb not in self.series_by_tvdb
        }
        for tvdb in sorted(unknown):
            found = self.arr.get("series", {"tvdbId": tvdb})
            self.series_by_tvdb.setdefault(tvdb, None)
            for series in found if isinstance(found, list) else []:
                if (
                    isinstance(series, Mapping)
                    and isinstance(series.get("tvdbId"), int)
                    and isinstance(series.get("id"), int)
                ):
                    self.series_by_tvdb[series["tvdbId"]] = series["id"]

    # -- wanted lists -------------------------------------------------------------------

    def _refresh_due(self, now: float) -> bool:
        s = self.settings
        if self.wanted_at is None:
            return True
        age = now - self.wanted_at
        soon = min(MIN_REFRESH, s.wanted_refresh)
        if (self.exhausted or self.new_requests) and age >= soon:
            return True
        p = self.last_plan
        held = p.blocked in ("budget", "hourly") and p.wake_at is not None and now < p.wake_at
        return age >= s.wanted_refresh and not held

    def _refresh(self, now: float) -> None:
        s = self.settings
        if self._refresh_due(now):
            items: list[WantedItem] = []
            missing: list[WantedItem] = []
            for monitored in (True, False) if s.unmonitored else (True,):
                for which, on in (("missing", s.search_missing), ("cutoff", s.search_cutoff_unmet)):
                    if on:
                        got = wantedmod.crawl(
                            self.arr, s.kind, which, monitored, on_page=self.progress
                        )
                        items += got if monitored else [replace(i, monitored=False) for i in got]
                        missing += got if which == "missing" else []
            # Everything the Arr lists as missing (downloading or not): what a temporary
            # profile waits for. A capped crawl proves nothing about the items left out.
            self.missing = profiles.MissingView(
                frozenset(i.key for i in missing),
                now,
                s.search_missing and len(missing) < wantedmod.MAX_ITEMS,
            )
            if s.use_temp_for_missing or s.search_cf_unmet:
                self.quality_profiles = self.arr.quality_profiles()
            self._full_seasons(now, missing)
            self.wanted = self._not_downloading(items)
            self.wanted_at, self.exhausted, self.sent_since_refresh, self.new_requests = (
                now,
                False,
                0,
                False,
            )
            log.info(
                "%s: %d wanted items (%d downloading skipped)",
                self.instance,
                len(self.wanted),
                self.in_queue,
            )
        if s.search_upgrades and (
            self.upgrades_at is None or now - self.upgrades_at >= wantedmod.UPGRADE_REFRESH
        ):
            library = self.arr.get(kind_of(s.kind).library_path)
            self.upgrades = wantedmod.upgrade_items(
                s.kind, library if isinstance(library, list) else []
            )
            self.upgrades_at = now
        elif not s.search_upgrades:
            self.upgrades = []
        if s.search_cf_unmet and (
            self.cf_at is None or now - self.cf_at >= wantedmod.UPGRADE_REFRESH
        ):
            if not self.quality_profiles:
                self.quality_profiles = self.arr.quality_profiles()
            self.cf_items = wantedmod.custom_format_unmet(
                self.arr, s.kind, self.quality_profiles, on_owner=self.progress
            )
            self.cf_at = now
            log.info("%s: %d custom-format-unmet items", self.instance, len(self.cf_items))
        elif not s.search_cf_unmet:
            self.cf_items = []

    def _full_seasons(self, now: float, missing: list[WantedItem]) -> None:
        """Sonarr smart mode: (series, season) whose monitored episodes are all missing."""
        s = self.settings
        if s.kind != "sonarr" or s.series_mode != "smart":
            self.full_seasons = frozenset()
            return
        counts: dict[tuple[int, int], int] = {}
        for item in missing:
            if item.series_id is not None and item.season is not None and item.monitored:
                key = (item.series_id, item.season)
                counts[key] = counts.get(key, 0) + 1
        if not any(n >= 2 for n in counts.values()):
            self.full_seasons = frozenset()
            return
        if self.seasons_at is not None and now - self.seasons_at < SEASON_REFRESH:
            return
        series = wantedmod.arr_get(self.arr, "series")
        self.full_seasons = wantedmod.full_seasons(
            series if isinstance(series, list) else [], counts
        )
        self.seasons_at = now

    def _not_downloading(self, items: list[WantedItem]) -> list[WantedItem]:
        """Drop items the Arr is downloading right now (a search would only find the same)."""
        queue_fn = getattr(self.arr, "queue", None)
        if queue_fn is None:
            return items
        busy: set[str] = set()
        kind = kind_of(self.settings.kind)
        for q in queue_fn():
            value = q.media.get(kind.search_media_field) if hasattr(q, "media") else None
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, int):
                    busy.add(item_key(kind.media, v))
        self.in_queue = sum(1 for i in items if i.key in busy)
        return [i for i in items if i.key not in busy]

    def _rss(self, now: float) -> None:
        every = self.settings.rss_sync_every
        if (
            every > 0
            and (self.last_rss is None or now - self.last_rss >= every)
            and not self.dry_run
        ):
            self.arr.rss_sync()
            self.last_rss = now

    # -- planning and sending ---------------------------------------------------------------

    def plan_now(self, now: float, running: int) -> Plan:
        s = self.settings
        history = searchlog.cooldowns(self.db, self.instance, now - s.search_cooldown)
        usage = searchlog.usage(self.db, self.instance, now, s)
        if self.dry_run:
            history = {**history, **self.dry_cool}
            if self.dry_last is not None:
                usage = replace(
                    usage, last_command_at=max(usage.last_command_at or 0.0, self.dry_last)
                )
        return plan(
            self.wanted + self.cf_items + self.upgrades,
            self.requests(),
            running,
            history,
            now,
            s,
            usage,
            self.full_seasons,
        )

    def _search(self, now: float) -> list[float | None]:
        if now < self.limit_retry_at:
            return [self.limit_retry_at]
        first = self.plan_now(now, 0)
        if not first.searches:
            self.last_plan = first
            if first.blocked == "idle" and self.sent_since_refresh:
                self.exhausted = True
            return [first.wake_at, self._poll_results(now)]
        self._read_commands(now)
        p = self.plan_now(self.clock(), self.running)
        self.last_plan = p
        if p.blocked == "limit":
            self.limit_retry_at = now + self._limit_poll()
            return [self.limit_retry_at]
        for search in p.searches:
            if self.should_stop():
                break
            self._send(search)
            self.progress()
        return [p.wake_at]

    def _limit_poll(self) -> float:
        """How soon to read the command list again when SearchLimit searches run."""
        return min(30.0, max(1.0, self.settings.search_delay))

    def _read_commands(self, now: float) -> None:
        commands = self.arr.commands()
        self.running = running_searches(commands)
        self.commands_at = now
        searchlog.update_results(self.db, self.instance, commands, now)
        self._look_up_lost(commands)

    def _look_up_lost(self, commands: Sequence[Mapping[str, Any]]) -> None:
        """Settle the searches whose answer was lost, from a fresh command list."""
        for lost in self.lost:
            cmd = next((c for c in commands if search_covers(c, lost.ids, lost.at)), None)
            if cmd is None:
                searchlog.abandon(
                    self.db,
                    self.instance,
                    lost.row,
                    "the Arr does not list it (looked up after the answer was lost)",
                    lost.previous,
                )
                log.info("%s: search %d was not received: may be searched again", self.instance,
                         lost.row)  # fmt: skip
                continue
            status = str(cmd.get("status") or "sent").lower()
            command_id = cmd.get("id") if isinstance(cmd.get("id"), int) else None
            searchlog.sent(self.db, lost.row, command_id, status)
            log.info("%s: search %d found in the Arr's command list: command %s", self.instance,
                     lost.row, command_id)  # fmt: skip
        self.lost = []

    def _poll_results(self, now: float) -> float | None:
        """While some of our commands are unfinished, read the command list now and then."""
        if self.lost:
            self._read_commands(now)
        if not searchlog.pending_commands(self.db, self.instance, now - 7 * 86400):
            return None
        if self.commands_at is None or now - self.commands_at >= RESULT_POLL:
            self._read_commands(now)
        return (self.commands_at or now) + RESULT_POLL

    def _send(self, search: PlannedSearch) -> None:
        now = self.clock()
        row, previous = searchlog.begin(self.db, self.instance, search, now, dry_run=self.dry_run)
        what = (
            f"{search.key} {search.title!r} "
            f"({search.reason}{', ' + search.detail if search.detail else ''})"
        )
        if self.dry_run:
            for key in search.keys:
                self.dry_cool[key] = now
            self.dry_last = now
            log.info("%s: dry run: would search %s", self.instance, what)
            return
        self._switch_profile(search, now)
        mode = search.command if search.command in ("series", "season") else "episode"
        try:
            answer = self.arr.search_media(
                list(search.ids), series_id=search.series_id, mode=mode, season=search.season
            )
        except (ArrNotFound, ArrBadRequest) as exc:
            # The Arr refused this item: keep its cooldown so it is not retried at once.
            searchlog.abandon(self.db, self.instance, row, str(exc), None)
            log.warning("%s: search of %s refused: %s", self.instance, what, exc)
            return
        except ArrError as exc:
            if exc.maybe_applied:  # the Arr may have it: look before searching it again
                searchlog.lost(self.db, row, str(exc))
                self.lost.append(LostSearch(row, self._ids_of(search), now, previous))
            else:
                searchlog.abandon(self.db, self.instance, row, str(exc), previous)
            raise
        command_id = (
            answer.get("id")
            if isinstance(answer, Mapping) and isinstance(answer.get("id"), int)
            else None
        )
        status = str(answer.get("status") or "sent") if isinstance(answer, Mapping) else "sent"
        searchlog.sent(
            self.db, row, command_id, status if status in searchlog.PENDING_STATUSES else "sent"
        )
        self.sent_since_refresh += 1
        self.sent_total += 1
        self.running += 1
        log.info("%s: searching %s: command %s", self.instance, what, command_id)

    # -- temporary quality profiles (qbarr.search.profiles) ----------------------------------

    def _switch_profile(self, search: PlannedSearch, now: float) -> None:
        """Before a search of missing items: switch its owner to the temporary profile (the
        switch-back is journaled in the same transaction), or extend an open switch."""
        s = self.settings
        if not s.use_temp_for_missing or search.reason not in profiles.MISSING_REASONS:
            return
        owner = profiles.owner_of(s.kind, search)
        if owner is None:
            return
        covers = profiles.covered(search)
        open_restore = profiles.open_restore(self.db, self.journal.instance, owner)
        if open_restore is not None:
            profiles.extend_restore(self.db, open_restore, covers)
            return
        current = self.arr.profile_owner(owner.id).get("qualityProfileId")
        pair = profiles.temp_for(self.quality_profiles, current, s) if current else None
        if pair is None:
            return
        switch_id, _ = profiles.plan_switch(
            self.db,
            self.journal.instance,
            owner,
            pair[0],
            pair[1],
            covers,
            search.title,
            now,
            s.temp_profile_timeout,
            self.dry_run,
        )
        switch = [a for a in self.journal.pending(now) if a.id == switch_id]
        self.executor.run(switch, self.dry_run, 0)

    def _profile_actions(self, now: float) -> None:
        """Switch-backs that are due (journaled with their reason) and failed switches whose
        retry time came, carried out by the executor; the others keep waiting."""
        todo = []
        for a in self.journal.pending(now):
            if a.kind != profiles.KIND:
                continue
            if profiles.RESTORE in a.key and a.status == "planned":
                why = profiles.due(a, self.settings, self.missing, now)
                if why is None:
                    continue
                profiles.record_restore(self.db, self.journal.instance, a, why, now)
                log.info("%s: %s back to its profile: %s", self.instance, a.hash, why)
            todo.append(a)
        if todo:
            self.executor.run(todo, self.dry_run, 0)

    def _ids_of(self, search: PlannedSearch) -> dict[str, tuple[int, ...]]:
        """The command body field that carries what this search asked for."""
        if search.command in ("series", "season"):
            return {"seriesId": (int(search.series_id or 0),)}
        return {kind_of(self.settings.kind).search_ids_field: tuple(search.ids)}

    # -- reporting ------------------------------------------------------------------------

    def report(self) -> tuple[str, str | None, dict[str, Any], dict[str, Any]]:
        """(status, error, counts, stats) for the heartbeat row."""
        by_tier: dict[str, int] = {}
        for item in self.wanted + self.upgrades:
            by_tier[item.tier] = by_tier.get(item.tier, 0) + 1
        p = self.last_plan
        counts = {
            "wanted": len(self.wanted),
            "upgrades": len(self.upgrades),
            "pending": p.pending,
            "running": self.running,
            "sent": self.sent_total,
            "downloading": self.in_queue,
            "requests": sum(len(s.requests) for s in self.source_state.values()),
            **{f"wanted_{k}": v for k, v in by_tier.items()},
            **{f"skipped_{k}": v for k, v in p.skipped.items()},
        }
        sources = {
            name: {
                "ok": st.error is None,
                "error": st.error,
                "requests": len(st.requests),
                "polled_at": st.polled_at,
                "next_poll": st.next_poll,
            }
            for name, st in self.source_state.items()
        }
        stats = {
            "blocked": p.blocked,
            "next_search_at": p.wake_at,
            "wanted_at": self.wanted_at,
            "dry_run": self.dry_run,
            "sources": sources,
            "settings": {
                "SearchLimit": self.settings.search_limit,
                "SearchDelay": self.settings.search_delay,
                "MaxSearchesPerDay": self.settings.max_per_day,
                "hourly_cap": self.settings.hourly_cap,
            },
        }
        if not self.settings.enabled:
            return "disabled", None, counts, stats
        errors = [e for e in [self.arr_error] + [s.error for s in self.source_state.values()] if e]
        status = "error" if self.arr_ok is False else "ok"
        return status, "; ".join(errors) or None, counts, stats
