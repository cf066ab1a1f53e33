"""The planner's quality-aware parts: the customformat tier and Sonarr season searches (pure),
the temporary-profile switch-back rule and the settings checks of UseTempForMissing."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr.config import ConfigError, load
from qbarr.journal import ActionRow
from qbarr.search.planner import plan
from qbarr.search.profiles import MissingView, due, temp_for
from qbarr.search.settings import SearchSettings
from qbarr.search.wanted import full_seasons
from tests.unit.test_search_planner import NOW, S, episode, keys, movie


def test_custom_format_unmet_is_its_own_tier_between_cutoff_and_upgrade() -> None:
    wanted = [movie(1, "upgrade"), movie(2, "customformat"), movie(3, "cutoff"), movie(4)]
    on = plan(wanted, [], 0, {}, NOW, S(search_cf_unmet=True, search_upgrades=True))
    assert keys(on) == ["movie:4", "movie:3", "movie:2", "movie:1"]
    assert [s.reason for s in on.searches][2] == "customformat"
    off = plan(wanted, [], 0, {}, NOW, S(search_upgrades=True))
    assert "movie:2" not in keys(off) and off.skipped == {"customformat-off": 1}


def test_smart_sends_a_season_search_for_each_season_missing_whole() -> None:
    wanted = [episode(i, 7, season=1) for i in (1, 2, 3)] + [
        episode(i, 7, season=2) for i in (4, 5)
    ]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr"), full_seasons=frozenset({(7, 1), (7, 2)}))
    assert [(s.command, s.ids, s.season) for s in p.searches] == [
        ("season", (7,), 1),
        ("season", (7,), 2),
    ]
    assert p.searches[0].keys == ("episode:1", "episode:2", "episode:3")


def test_smart_prefers_one_series_search_when_two_other_episodes_are_wanted() -> None:
    wanted = [episode(i, 7, season=1) for i in (1, 2)] + [episode(i, 7, season=2) for i in (4, 5)]
    p = plan(wanted, [], 0, {}, NOW, S(kind="sonarr"), full_seasons=frozenset({(7, 1)}))
    assert [(s.command, s.ids) for s in p.searches] == [("series", (7,))]
    one_left = wanted[:2] + [episode(4, 7, season=2)]
    p = plan(one_left, [], 0, {}, NOW, S(kind="sonarr"), full_seasons=frozenset({(7, 1)}))
    assert [(s.command, s.season or s.ids) for s in p.searches] == [
        ("season", 1),
        ("episode", (4,)),
    ]


def test_full_seasons_come_from_the_season_statistics() -> None:
    def season(n: int, count: int, files: int) -> dict:
        stats = {"episodeCount": count, "episodeFileCount": files}
        return {"seasonNumber": n, "monitored": True, "statistics": stats}

    series = [{"id": 7, "seasons": [season(0, 2, 0), season(1, 3, 0), season(2, 3, 1)]}]
    missing = {(7, 1): 3, (7, 2): 2, (7, 0): 1}
    assert full_seasons(series, missing) == frozenset({(7, 1)})


def _restore(**params) -> ActionRow:
    base = {"owner": "movie:1", "owner_id": 1, "expect": 1, "profile_id": 2}
    base.update(profile_name="HD-1080p", covers=["movie:1"], switched_at=NOW)
    return ActionRow(
        id=1, decision_id=1, instance="x:search", hash="movie:1", kind="set_profile",
        key="profile-restore:movie:1:0", params={**base, **params}, destructive=False,
        status="planned", attempts=0, result=None, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def test_a_switch_back_is_due_on_import_timeout_or_when_turned_off() -> None:
    on = SearchSettings(use_temp_for_missing=True, profile_mappings=(("HD-1080p", "Any"),))
    still = MissingView(frozenset({"movie:1"}), NOW + 60, True)
    gone = MissingView(frozenset({"movie:9"}), NOW + 60, True)
    assert due(_restore(), on, still, NOW + 120) is None
    assert "imported" in due(_restore(), on, gone, NOW + 120)
    assert due(_restore(), on, MissingView(frozenset(), NOW - 5, True), NOW + 120) is None
    assert due(_restore(), on, MissingView(frozenset(), NOW + 60, False), NOW + 120) is None
    timed = SearchSettings(**{**on.__dict__, "temp_profile_timeout": 3600.0})
    assert "TempProfileTimeout" in due(_restore(), timed, still, NOW + 3600)
    assert "off" in due(_restore(), SearchSettings(), still, NOW + 1)
    other = SearchSettings(use_temp_for_missing=True, profile_mappings=(("Ultra-HD", "Any"),))
    assert "no longer in QualityProfileMappings" in due(_restore(), other, still, NOW + 1)


def test_temp_for_maps_by_profile_name() -> None:
    profiles = [{"id": 1, "name": "Any"}, {"id": 2, "name": "HD-1080p"}, {"id": 3, "name": "UHD"}]
    s = SearchSettings(use_temp_for_missing=True, profile_mappings=(("HD-1080p", "Any"),))
    main, temp = temp_for(profiles, 2, s)
    assert (main["id"], temp["id"]) == (2, 1)
    assert temp_for(profiles, 3, s) is None and temp_for(profiles, 1, s) is None


@pytest.mark.parametrize(
    ("search", "problem"),
    [
        ("UseTempForMissing = true", "needs at least one line"),
        ("UseTempForMissing = true\n    SearchMissing = false\n"
         "        [[[QualityProfileMappings]]]\n        HD-1080p = Any", "SearchMissing = false"),
    ],
)  # fmt: skip
def test_use_temp_for_missing_needs_a_mapping_and_missing_searches(
    tmp_path: Path, search: str, problem: str
) -> None:
    path = tmp_path / "config.ini"
    path.write_text(
        "[qBittorrent]\nURL = http://127.0.0.1:1\n[Radarr-Main]\nURL = http://127.0.0.1:2\n"
        f"APIKey = k\nCategory = radarr\n    [[Search]]\n    {search}\n"
    )
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert any(
        problem in line and "[Radarr-Main][Search] UseTempForMissing" in line
        for line in err.value.problems
    )
