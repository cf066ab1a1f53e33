"""The pure search planner: ordering, pacing, cooldown, budget and Sonarr series modes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from qbarr.search.model import RequestItem, Usage, WantedItem
from qbarr.search.planner import DAY, plan
from qbarr.search.settings import SearchSettings

NOW = 1_700_000_000.0


def S(**kw) -> SearchSettings:
    """Settings that send several commands per plan unless a test says otherwise."""
    base = dict(kind="radarr", search_delay=0.0, search_limit=50, max_per_day=0, max_per_hour=-1)
    base.update(kw)
    return SearchSettings(**base)


def movie(i, tier="missing", days_ago=100.0, **kw) -> WantedItem:
    return WantedItem(
        media="movie",
        id=i,
        tier=tier,
        title=f"m{i}",
        released=NOW - days_ago * DAY,
        ext_ids={"tmdb": 1000 + i},
        **kw,
    )


def episode(i, series, season=1, tier="missing", days_ago=100.0, **kw) -> WantedItem:
    return WantedItem(
        media="episode",
        id=i,
        tier=tier,
        title=f"s{series}e{i}",
        released=NOW - days_ago * DAY,
        series_id=series,
        season=season,
        ext_ids={"tvdb": 500 + series},
        **kw,
    )


def keys(p) -> list[str]:
    return [s.key for s in p.searches]


# --- ordering -----------------------------------------------------------------------


def test_tiers_in_order_request_recent_missing_cutoff_upgrade():
    wanted = [
        movie(1, "upgrade"),
        movie(2, "cutoff"),
        movie(3, "missing"),
        movie(4, "missing", days_ago=2),
        movie(5, "missing"),
    ]
    reqs = [RequestItem(source="overseerr", media="movie", tmdb=1005)]
    p = plan(wanted, reqs, 0, {}, NOW, S(search_upgrades=True))
    assert keys(p) == ["movie:5", "movie:4", "movie:3", "movie:2", "movie:1"]
    assert [s.reason for s in p.searches] == ["request", "recent", "missing", "cutoff", "upgrade"]


def test_newest_first_and_reverse_oldest_first():
    wanted = [movie(1, days_ago=300), movie(2, days_ago=30), movie(3, days_ago=3000)]
    assert keys(plan(wanted, [], 0, {}, NOW, S())) == ["movie:2", "movie:1", "movie:3"]
    assert keys(plan(wanted, [], 0, {}, NOW, S(search_in_reverse=True))) == [
        "movie:3",
        "movie:1",
        "movie:2",
    ]


def test_undated_items_go_last():
    wanted = [dataclasses.replace(movie(1), released=None), movie(2)]
    assert keys(plan(wanted, [], 0, {}, NOW, S())) == ["movie:2", "movie:1"]


def test_never_searched_before_searched_long_ago_round_robin():
    wanted = [movie(1, days_ago=10), movie(2, days_ago=500)]
    history = {"movie:1": NOW - 3 * DAY}
    assert keys(plan(wanted, [], 0, history, NOW, S())) == ["movie:2", "movie:1"]


def test_requests_in_request_order_oldest_first():
    wanted = [movie(1), movie(2), movie(3)]
    reqs = [
        RequestItem(source="overseerr", media="movie", tmdb=1002, requested_at=20),
        RequestItem(source="ombi", media="movie", tmdb=1003, requested_at=10),
    ]
    p = plan(wanted, reqs, 0, {}, NOW, S())
    assert keys(p) == ["movie:3", "movie:2", "movie:1"]


def test_request_for_a_series_raises_its_episodes():
    wanted = [episode(1, 7), episode(2, 8, days_ago=1)]
    reqs = [RequestItem(source="overseerr", media="series", tvdb=507)]
    p = plan(wanted, reqs, 0, {}, NOW, S(kind="sonarr", series_mode="episode"))
    assert keys(p) == ["episode:1", "episode:2"]
    assert p.searches[0].reason == "request"


def test_resolved_series_request_matches_episodes_by_series_id():
    wanted = [
        WantedItem(
            media="episode", id=1, tier="missing", series_id=7, season=1, released=NOW - 500 * DAY
        ),
        WantedItem(
            media="episode", id=2, tier="missing", series_id=8, season=1, released=NOW - DAY
        ),
    ]
    reqs = [RequestItem(source="ombi", media="series", tvdb=12345, arr_id=7)]
    p = plan(wanted, reqs, 0, {}, NOW, S(kind="sonarr", series_mode="episode"))
    assert [(s.key, s.reason) for s in p.searches] == [
        ("episode:1", "request"),
        ("episode:2", "recent"),
    ]


def test_upgrade_series_item_is_a_series_search():
    item = WantedItem(media="series", id=7, tier="upgrade", title="Show")
    p = plan([item], [], 0, {}, NOW, S(kind="sonarr", search_upgrades=True))
    assert [(s.command, s.ids, s.series_id, s.keys) for s in p.searches] == [
        ("series", (7,), 7, ("series:7",))
    ]


def test_recent_applies_to_missing_only_and_respects_recent_days():
    wanted = [movie(1, "cutoff", days_ago=1), movie(2, days_ago=6), movie(3, days_ago=8)]
    p = plan(wanted, [], 0, {}, NOW, S())
    assert [(s.key, s.reason) for s in p.searches] == [
        ("movie:2", "recent"),
        ("movie:3", "missing"),
        ("movie:1", "cutoff"),
    ]
    p = plan(wanted, [], 0, {}, NOW, S(recent_days=0))
    assert [s.reason for s in p.searches] == ["missing", "missing", "cutoff"]


def test_monitored_before_unmonitored_when_unmonitored_on():
    wanted = [movie(1, monitored=False, days_ago=1), movie(2, days_ago=50)]
    assert keys(plan(wanted, [], 0, {}, NOW, S(unmonitored=True, recent_days=0))) == [
        "movie:2",
        "movie:1",
    ]


# --- filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item, kw, reason",
    [
        (movie(1, monitored=False), {}, "unmonitored"),
        (movie(1, available=False), {}, "unreleased"),
        (movie(1, days_ago=-3), {}, "unreleased"),
        (movie(1, "missing"), {"search_missing": False}, "missing-off"),
        (movie(1, "cutoff"), {"search_cutoff_unmet": False}, "cutoff-off"),
        (movie(1, "upgrade"), {}, "upgrade-off"),
        (episode(1, 7, season=0), {"kind": "sonarr"}, "specials"),
    ],
)
def test_filters(item, kw, reason):
    p = plan([item], [], 0, {}, NOW, S(**kw))
    assert p.searches == () and p.blocked == "idle" and p.skipped == {reason: 1}


def test_specials_and_unmonitored_when_enabled():
    wanted = [episode(1, 7, season=0), episode(2, 8, monitored=False)]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr", search_specials=True, unmonitored=True))
    assert sorted(keys(p)) == ["episode:1", "episode:2"]


def test_duplicate_item_keeps_best_tier():
    p = plan([movie(1, "cutoff"), movie(1, "missing")], [], 0, {}, NOW, S())
    assert [(s.key, s.reason) for s in p.searches] == [("movie:1", "missing")]


# --- cooldown -------------------------------------------------------------------------


def test_cooldown_blocks_and_expires():
    s = S(search_cooldown=DAY)
    history = {"movie:1": NOW - DAY + 60}
    p = plan([movie(1)], [], 0, history, NOW, s)
    assert (
        p.searches == () and p.skipped == {"cooldown": 1} and p.wake_at == pytest.approx(NOW + 60)
    )
    assert keys(plan([movie(1)], [], 0, history, NOW + 61, s)) == ["movie:1"]


def test_series_search_cools_down_its_episodes():
    history = {"series:7": NOW - 10}
    p = plan([episode(1, 7), episode(2, 8)], [], 0, history, NOW, S(kind="sonarr"))
    assert keys(p) == ["episode:2"]


# --- Sonarr series modes ---------------------------------------------------------------


def test_smart_series_search_for_several_episodes_episode_search_for_one():
    wanted = [episode(i, 7) for i in range(1, 6)] + [episode(9, 8)]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr"))
    assert [(s.command, s.ids) for s in p.searches] == [("series", (7,)), ("episode", (9,))]
    assert set(p.searches[0].keys) == {"series:7", *(f"episode:{i}" for i in range(1, 6))}


def test_episode_mode_never_series():
    wanted = [episode(i, 7) for i in range(1, 4)]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr", series_mode="episode"))
    assert [s.command for s in p.searches] == ["episode"] * 3


def test_series_mode_even_for_one_episode_and_unmonitored_stay_episode():
    wanted = [episode(1, 7), episode(2, 8, monitored=False)]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr", series_mode="series", unmonitored=True))
    assert [(s.command, s.ids) for s in p.searches] == [("series", (7,)), ("episode", (2,))]


def test_smart_counts_only_eligible_episodes():
    # Episode 2 is in cooldown: only one eligible episode of series 7 -> an episode search.
    wanted = [episode(1, 7), episode(2, 7)]
    p = plan(wanted, [], 0, {"episode:2": NOW - 5}, NOW, S(kind="sonarr"))
    assert [(s.command, s.ids) for s in p.searches] == [("episode", (1,))]


def test_series_search_sits_at_its_best_episode_position():
    wanted = [episode(1, 7, days_ago=400), episode(2, 7, days_ago=1), episode(3, 8, days_ago=30)]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr"))
    assert [(s.command, s.ids[0], s.reason) for s in p.searches] == [
        ("series", 7, "recent"),
        ("episode", 3, "missing"),
    ]


# --- pacing ---------------------------------------------------------------------------


def test_search_limit_counts_running():
    wanted = [movie(i) for i in range(10)]
    assert len(plan(wanted, [], 0, {}, NOW, S(search_limit=3)).searches) == 3
    assert len(plan(wanted, [], 2, {}, NOW, S(search_limit=3)).searches) == 1
    p = plan(wanted, [], 3, {}, NOW, S(search_limit=3))
    assert p.searches == () and p.blocked == "limit" and p.pending == 10


def test_search_delay_one_at_a_time_and_wait():
    wanted = [movie(i) for i in range(5)]
    s = S(search_delay=30.0)
    p = plan(wanted, [], 0, {}, NOW, s, Usage(last_command_at=NOW - 40))
    assert len(p.searches) == 1 and p.wake_at == NOW + 30
    p = plan(wanted, [], 0, {}, NOW, s, Usage(last_command_at=NOW - 10))
    assert p.searches == () and p.blocked == "delay" and p.wake_at == NOW + 20


def test_daily_budget():
    wanted = [movie(i) for i in range(10)]
    s = S(max_per_day=5)
    assert len(plan(wanted, [], 0, {}, NOW, s, Usage(last_24h=3)).searches) == 2
    p = plan(wanted, [], 0, {}, NOW, s, Usage(last_24h=5, day_frees_at=NOW + 99))
    assert p.searches == () and p.blocked == "budget" and p.wake_at == NOW + 99


def test_hourly_share_spreads_the_daily_budget():
    s = S(max_per_day=240, max_per_hour=0)
    assert s.hourly_cap == 10
    assert S(max_per_day=250, max_per_hour=0).hourly_cap == 11
    assert S(max_per_day=0, max_per_hour=0).hourly_cap is None
    assert S(max_per_day=250, max_per_hour=-1).hourly_cap is None
    wanted = [movie(i) for i in range(20)]
    assert len(plan(wanted, [], 0, {}, NOW, s, Usage(last_hour=7)).searches) == 3
    p = plan(wanted, [], 0, {}, NOW, s, Usage(last_hour=10, hour_frees_at=NOW + 5))
    assert p.blocked == "hourly" and p.wake_at == NOW + 5


def test_requests_skip_hourly_share_but_have_their_own_limit():
    from qbarr.search.settings import RequestSettings

    req_settings = (
        RequestSettings(
            name="Overseerr", enabled=True, url="http://x", api_key="k", request_limit=2
        ),
    )
    s = S(max_per_day=240, max_per_hour=0, requests=req_settings)
    wanted = [movie(i) for i in range(6)]
    reqs = [RequestItem(source="overseerr", media="movie", tmdb=1000 + i) for i in range(4)]
    p = plan(wanted, reqs, 0, {}, NOW, s, Usage(last_hour=10))
    assert [s_.reason for s_ in p.searches] == ["request", "request"]
    p = plan(wanted, reqs, 0, {}, NOW, s, Usage(last_hour=0, requests_in_window=2))
    assert [s_.reason for s_ in p.searches][:2] == ["missing", "missing"]


# --- properties -------------------------------------------------------------------------

items_st = st.lists(
    st.builds(
        WantedItem,
        media=st.sampled_from(["movie", "episode"]),
        id=st.integers(1, 40),
        tier=st.sampled_from(["missing", "cutoff", "upgrade"]),
        monitored=st.booleans(),
        released=st.one_of(st.none(), st.floats(NOW - 400 * DAY, NOW + DAY)),
        series_id=st.integers(1, 5),
        season=st.integers(0, 3),
    ),
    max_size=60,
)
settings_st = st.builds(
    S,
    kind=st.sampled_from(["radarr", "sonarr"]),
    search_limit=st.integers(1, 6),
    search_delay=st.sampled_from([0.0, 30.0]),
    search_cooldown=st.sampled_from([0.0, 3600.0, DAY]),
    max_per_day=st.integers(0, 20),
    max_per_hour=st.integers(-1, 5),
    series_mode=st.sampled_from(["smart", "episode", "series"]),
    search_upgrades=st.booleans(),
    unmonitored=st.booleans(),
)
history_st = st.dictionaries(
    st.builds(
        lambda m, i: f"{m}:{i}", st.sampled_from(["movie", "episode", "series"]), st.integers(1, 40)
    ),
    st.floats(NOW - 3 * DAY, NOW),
    max_size=30,
)
usage_st = st.builds(
    Usage,
    last_24h=st.integers(0, 25),
    last_hour=st.integers(0, 8),
    last_command_at=st.one_of(st.none(), st.floats(NOW - 100, NOW)),
)


@hsettings(max_examples=300, deadline=None)
@given(items_st, st.integers(0, 8), history_st, settings_st, usage_st)
def test_properties_limit_cooldown_budget(wanted, running, history, s, usage):
    p = plan(wanted, [], running, history, NOW, s, usage)
    # never more than SearchLimit running
    assert running + len(p.searches) <= max(s.search_limit, running)
    if running >= s.search_limit:
        assert p.searches == ()
    # never over the daily budget nor the hourly share
    if s.max_per_day > 0:
        assert usage.last_24h + len(p.searches) <= max(s.max_per_day, usage.last_24h)
    if s.hourly_cap is not None:
        assert usage.last_hour + len(p.searches) <= max(s.hourly_cap, usage.last_hour)
    # never before SearchDelay, at most one per plan when a delay is set
    if usage.last_command_at is not None and NOW - usage.last_command_at < s.search_delay:
        assert p.searches == ()
    if s.search_delay > 0:
        assert len(p.searches) <= 1
    # never an item within its cooldown, never an item twice
    sent = [k for search in p.searches for k in search.keys]
    assert len(sent) == len(set(sent))
    for key in sent:
        last = history.get(key)
        assert last is None or NOW - last >= s.search_cooldown
    by_key = {w.key: w for w in wanted}
    for search in p.searches:
        for key in search.keys:
            item = by_key.get(key)
            if item is not None and item.media == "episode":
                last = history.get(f"series:{item.series_id}")
                assert last is None or NOW - last >= s.search_cooldown


@hsettings(max_examples=200, deadline=None)
@given(items_st, history_st, settings_st)
def test_property_without_pacing_every_eligible_item_is_covered_once(wanted, history, s):
    from qbarr.search.planner import _filtered

    s = dataclasses.replace(
        s, search_limit=10_000, search_delay=0.0, max_per_day=0, max_per_hour=-1
    )
    p = plan(wanted, [], 0, history, NOW, s)
    covered = [k for search in p.searches for k in search.keys if not k.startswith("series:")]
    assert len(covered) == len(set(covered))

    def eligible(w):
        last = max(history.get(k, float("-inf")) for k in w.cooldown_keys)
        return not _filtered(w, NOW, s) and not (
            last > float("-inf") and NOW - last < s.search_cooldown
        )

    assert set(covered) == {w.key for w in wanted if eligible(w)}
