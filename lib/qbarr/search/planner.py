"""The pure search planner: wanted items + requests + pacing state -> the next commands.

No I/O and no clock: the program loop reads the Arr, the request services and the
database, then asks :func:`plan` what to send *now*. The same inputs always give the
same answer, which is what the table and property tests rely on.

Rules, in order:

1. Filter: tiers switched off (SearchMissing / SearchCutoffUnmet / SearchUpgrades),
   unreleased items, unmonitored items (unless ``Unmonitored``), Sonarr specials
   (unless ``SearchSpecials``), and items inside their cooldown (an episode is also
   cooled down by a recent search of its series).
2. Order: request > recent (missing, released within ``RecentDays``) > missing >
   cutoff > upgrade; monitored before unmonitored; within a group, items never searched
   first, then the ones searched longest ago (so a big backlog is walked round-robin
   instead of re-searching the newest items every day); then the newest release first
   (oldest first with ``SearchInReverse``). Requests keep their request order.
3. Group (Sonarr): ``episode`` = one EpisodeSearch per episode; ``series`` = one
   SeriesSearch per series covering its monitored episodes; ``smart`` = a SeasonSearch for
   each season whose monitored episodes are all missing (``full_seasons``, from the Arr's
   season statistics), and for the other eligible episodes of the series a SeriesSearch
   when two or more are left (it covers the whole series, full seasons included, so no
   SeasonSearch is sent beside it), else an EpisodeSearch.
4. Pace: only ``SearchLimit - running`` commands may start, none before ``SearchDelay``
   has passed since the previous command (any path), one per plan when SearchDelay > 0,
   never beyond ``MaxSearchesPerDay`` in 24 h nor the hourly share; request searches
   have their own ``RequestLimit`` per PollEvery window and skip the hourly share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from qbarr.search.model import (
    TIER_RANK,
    Plan,
    PlannedSearch,
    RequestItem,
    Usage,
    WantedItem,
    item_key,
)
from qbarr.search.settings import SearchSettings

DAY = 86400.0
NEVER = float("-inf")
NO_USAGE = Usage()  # the default of plan(): no recent searches

# CooldownView: item key -> Unix time of its last search (any path).
CooldownView = Mapping[str, float]


def plan(
    wanted: Sequence[WantedItem],
    requests: Sequence[RequestItem],
    running: int,
    history: CooldownView,
    now: float,
    settings: SearchSettings,
    usage: Usage = NO_USAGE,
    full_seasons: frozenset[tuple[int, int]] = frozenset(),
) -> Plan:
    """What to send now; see the module docstring for the rules."""
    eligible, skipped, cool_until = select(wanted, requests, history, now, settings)
    units = group(eligible, settings, full_seasons)
    return pace(units, running, now, settings, usage, skipped, cool_until)


def select(
    wanted: Sequence[WantedItem],
    requests: Sequence[RequestItem],
    history: CooldownView,
    now: float,
    settings: SearchSettings,
) -> tuple[list[WantedItem], dict[str, int], float | None]:
    """Eligible items in serving order, skip counts by reason, earliest cooldown end."""
    skipped: dict[str, int] = defaultdict(int)
    request_order = _request_order(requests)
    best: dict[str, tuple[WantedItem, int]] = {}
    cool_until: float | None = None
    for item in wanted:
        reason = _filtered(item, now, settings)
        if reason:
            skipped[reason] += 1
            continue
        last = max((history.get(k, NEVER) for k in item.cooldown_keys), default=NEVER)
        if last > NEVER and now - last < settings.search_cooldown:
            skipped["cooldown"] += 1
            ends = last + settings.search_cooldown
            cool_until = ends if cool_until is None else min(cool_until, ends)
            continue
        tiered, req_rank = _tier(item, now, settings, request_order)
        current = best.get(item.key)
        if current is None or TIER_RANK[tiered.tier] < TIER_RANK[current[0].tier]:
            best[item.key] = (tiered, req_rank)
    ordered = sorted(best.values(), key=lambda pair: _sort_key(pair[0], pair[1], history, settings))
    return [item for item, _ in ordered], dict(skipped), cool_until


def _filtered(item: WantedItem, now: float, settings: SearchSettings) -> str:
    """Why an item is never searched under these settings ('' = it may be)."""
    enabled = {
        "missing": settings.search_missing,
        "cutoff": settings.search_cutoff_unmet,
        "customformat": settings.search_cf_unmet,
        "upgrade": settings.search_upgrades,
    }
    if not enabled.get(item.tier, False):
        return f"{item.tier}-off"
    if not item.available or (item.released is not None and item.released > now):
        return "unreleased"
    if not item.monitored and not settings.unmonitored:
        return "unmonitored"
    if item.media == "episode" and item.season == 0 and not settings.search_specials:
        return "specials"
    return ""


def _request_order(requests: Sequence[RequestItem]) -> dict[tuple[str, int], int]:
    """(id kind, id) -> rank of the oldest request for it."""
    order: dict[tuple[str, int], int] = {}
    ranked = sorted(requests, key=lambda r: (r.requested_at, r.source, r.request_id or 0))
    for rank, req in enumerate(ranked):
        if req.arr_id is not None:
            order.setdefault((req.media, req.arr_id), rank)
        if req.media == "movie" and req.tmdb is not None:
            order.setdefault(("tmdb", req.tmdb), rank)
        elif req.media == "series" and req.tvdb is not None:
            order.setdefault(("tvdb", req.tvdb), rank)
    return order


def _tier(
    item: WantedItem,
    now: float,
    settings: SearchSettings,
    request_order: Mapping[tuple[str, int], int],
) -> tuple[WantedItem, int]:
    """The item with its serving tier (request / recent / its own) and request rank."""
    if item.tier in ("missing", "cutoff"):
        ids = [(k, v) for k, v in item.ext_ids.items() if k in ("tmdb", "tvdb")]
        if item.media == "movie":
            ids.append(("movie", item.id))
        elif item.media == "episode" and item.series_id is not None:
            ids.append(("series", item.series_id))
        ranks = [request_order[i] for i in ids if i in request_order]
        if ranks:
            return _with_tier(item, "request"), min(ranks)
    recent = settings.recent_days * DAY
    if (
        item.tier == "missing"
        and item.released is not None
        and recent > 0
        and 0 <= now - item.released <= recent
    ):
        return _with_tier(item, "recent"), 0
    return item, 0


def _with_tier(item: WantedItem, tier: str) -> WantedItem:
    return WantedItem(
        media=item.media,
        id=item.id,
        tier=tier,
        title=item.title,
        monitored=item.monitored,
        released=item.released,
        available=item.available,
        series_id=item.series_id,
        season=item.season,
        ext_ids=item.ext_ids,
    )


def _sort_key(
    item: WantedItem, req_rank: int, history: CooldownView, settings: SearchSettings
) -> tuple:
    last = history.get(item.key, NEVER)
    if item.released is None:
        date = (1, 0.0)
    else:
        date = (0, item.released if settings.search_in_reverse else -item.released)
    return (TIER_RANK[item.tier], req_rank, not item.monitored, last, date, item.media, item.id)


def group(
    items: Sequence[WantedItem],
    settings: SearchSettings,
    full_seasons: frozenset[tuple[int, int]] = frozenset(),
) -> list[PlannedSearch]:
    """Turn ordered items into search commands (Sonarr episodes may become season or series
    searches); a unit takes the place of its first (best-served) item."""
    by_series: dict[int, list[WantedItem]] = defaultdict(list)
    for item in items:
        if item.media == "episode" and item.series_id is not None and item.monitored:
            by_series[item.series_id].append(item)
    plans = {sid: _series_plan(eps, settings, full_seasons) for sid, eps in by_series.items()}
    units: list[PlannedSearch] = []
    done: set[tuple[int, int | None]] = set()
    for item in items:
        sid = item.series_id if item.media == "episode" and item.monitored else None
        plan_of = plans.get(sid) if sid is not None else None
        if plan_of is None:
            units.append(_single(item))
            continue
        unit = plan_of.get(item.key)
        if unit is None:
            units.append(_single(item))
            continue
        ident = (unit.series_id or 0, unit.season if unit.command == "season" else None)
        if ident not in done:
            done.add(ident)
            units.append(unit)
    return units


def _series_plan(
    episodes: Sequence[WantedItem],
    settings: SearchSettings,
    full_seasons: frozenset[tuple[int, int]],
) -> dict[str, PlannedSearch]:
    """episode key -> the season / series search covering it (absent: its own search)."""
    first = episodes[0]
    assert first.series_id is not None
    if settings.series_mode == "episode":
        return {}
    if settings.series_mode == "series":
        unit = _series(first, episodes)
        return {e.key: unit for e in episodes}
    seasons: dict[int, list[WantedItem]] = defaultdict(list)
    rest: list[WantedItem] = []
    for e in episodes:
        if e.season is not None and (first.series_id, e.season) in full_seasons:
            seasons[e.season].append(e)
        else:
            rest.append(e)
    if len(rest) >= 2:  # one SeriesSearch covers everything, full seasons too
        unit = _series(first, episodes)
        return {e.key: unit for e in episodes}
    out: dict[str, PlannedSearch] = {}
    for season, covered in seasons.items():
        if len(covered) >= 2:
            unit = _season(covered[0], season, covered)
            out.update({e.key: unit for e in covered})
    return out


def _season(first: WantedItem, season: int, episodes: Sequence[WantedItem]) -> PlannedSearch:
    """One SeasonSearch for a season whose monitored episodes are all missing."""
    assert first.series_id is not None
    return PlannedSearch(
        command="season",
        ids=(first.series_id,),
        keys=tuple(e.key for e in episodes),
        reason=first.tier,
        title=first.title,
        series_id=first.series_id,
        detail=f"season {season}: all {len(episodes)} monitored episodes missing",
        season=season,
    )


def _single(item: WantedItem) -> PlannedSearch:
    return PlannedSearch(
        command=item.media,
        ids=(item.id,),
        keys=(item.key,),
        reason=item.tier,
        title=item.title,
        series_id=item.id if item.media == "series" else item.series_id,
    )


def _series(first: WantedItem, episodes: Sequence[WantedItem]) -> PlannedSearch:
    """One SeriesSearch covering every eligible monitored episode of the series."""
    assert first.series_id is not None
    return PlannedSearch(
        command="series",
        ids=(first.series_id,),
        keys=(item_key("series", first.series_id), *(e.key for e in episodes)),
        reason=first.tier,
        title=first.title,
        series_id=first.series_id,
        detail=f"{len(episodes)} episodes wanted",
    )


def pace(
    units: Sequence[PlannedSearch],
    running: int,
    now: float,
    settings: SearchSettings,
    usage: Usage,
    skipped: Mapping[str, int] | None = None,
    cool_until: float | None = None,
) -> Plan:
    """Apply SearchLimit, SearchDelay, the daily budget, the hourly share and RequestLimit."""
    skipped = dict(skipped or {})
    if not units:
        return Plan(blocked="idle", wake_at=cool_until, skipped=skipped)
    if running >= settings.search_limit:
        return Plan(blocked="limit", pending=len(units), skipped=skipped)
    if usage.last_command_at is not None and now - usage.last_command_at < settings.search_delay:
        return Plan(
            blocked="delay",
            pending=len(units),
            wake_at=usage.last_command_at + settings.search_delay,
            skipped=skipped,
        )
    if settings.max_per_day > 0 and usage.last_24h >= settings.max_per_day:
        return Plan(
            blocked="budget", pending=len(units), wake_at=usage.day_frees_at, skipped=skipped
        )
    slots = settings.search_limit - running
    if settings.search_delay > 0:
        slots = min(slots, 1)
    day_left = settings.max_per_day - usage.last_24h if settings.max_per_day > 0 else len(units)
    cap = settings.hourly_cap
    hour_left = cap - usage.last_hour if cap is not None else len(units)
    req_limit = settings.request_limit
    req_left = req_limit - usage.requests_in_window if req_limit is not None else len(units)
    chosen: list[PlannedSearch] = []
    held: set[str] = set()
    for unit in units:
        if len(chosen) >= slots or day_left <= 0:
            break
        if unit.reason == "request":
            if req_left <= 0:
                held.add("requests")
                continue
            req_left -= 1
        elif hour_left <= 0:
            held.add("hourly")
            continue
        else:
            hour_left -= 1
        day_left -= 1
        chosen.append(unit)
    pending = len(units) - len(chosen)
    if chosen:
        wake = now + settings.search_delay if pending else None
        return Plan(searches=tuple(chosen), pending=pending, wake_at=wake, skipped=skipped)
    frees = {"hourly": usage.hour_frees_at, "requests": usage.requests_frees_at}
    wakes = [at for at in (frees[h] for h in held) if at is not None]
    blocked = "hourly" if "hourly" in held else "requests"
    return Plan(
        blocked=blocked, pending=pending, wake_at=min(wakes) if wakes else None, skipped=skipped
    )
