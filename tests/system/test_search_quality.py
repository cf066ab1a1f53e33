"""Quality-aware search against the Arr simulators, every exchange checked against the OpenAPI
documents: custom-format-unmet upgrades, temporary quality profiles (exactly once, across a
crash), and Sonarr season searches. The runner runs in-process with a real SQLite file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qbarr.arr import make_client
from qbarr.db import rows
from qbarr.search import profiles
from qbarr.search.runner import SearchRunner
from qbarr.search.settings import SearchSettings
from qbarr.sim.arr.launch import SimProcess, start_sim
from qbarr.sim.arr.library import generate
from qbarr_programs.commands import why
from tests.contract.test_arr_support import KEY, Exchanges
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = [pytest.mark.system, pytest.mark.usefixtures("engine")]

SIZE, SEED = 60, 7
FAST = {
    "enabled": True,
    "search_delay": 0.0,
    "search_limit": 50,
    "max_per_day": 0,
    "max_per_hour": -1,
    "search_cooldown": 3600.0,
}


def start(kind: str) -> SimProcess:
    return start_sim(
        kind,
        api_key=KEY,
        library=SIZE,
        missing_fraction=0.3,
        seed=SEED,
        search_duration=0.05,
        grab_probability=0.0,
    )


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, SimProcess]]:
    started: dict[str, SimProcess] = {}
    try:
        for kind in ("radarr", "sonarr", "lidarr"):
            started[kind] = start(kind)
        yield started
    finally:
        for sim in started.values():
            sim.stop()


@pytest.fixture
def fresh_radarr() -> Iterator[SimProcess]:
    """A Radarr simulator of the test's own, for a test that changes the library's profiles
    and files (it runs once per engine: the second run must find the library as generated)."""
    sim = start("radarr")
    try:
        yield sim
    finally:
        sim.stop()


def runner(sim: SimProcess, db_path: Path, **settings: Any) -> tuple[SearchRunner, Exchanges]:
    exchanges = Exchanges(sim.kind)
    arr = exchanges.attach(make_client(sim.kind, sim.url, KEY, timeout=15))
    s = SearchSettings(kind=sim.kind, **{**FAST, **settings})
    return SearchRunner(f"{sim.kind}-q", s, open_db(db_path), arr), exchanges


def sent(db_path: Path, instance: str) -> list[dict[str, Any]]:
    return rows(
        open_db(db_path), "SELECT * FROM searches WHERE instance = ? ORDER BY id", (instance,)
    )


@pytest.mark.parametrize("kind", ["radarr", "sonarr", "lidarr"])
def test_custom_format_unmet_items_are_searched_as_upgrades(
    sims, tmp_path: Path, kind: str
) -> None:
    sim = sims[kind]
    r, exchanges = runner(
        sim,
        tmp_path / "q.db",
        search_missing=False,
        search_cutoff_unmet=False,
        search_cf_unmet=True,
        unmonitored=True,
        search_specials=True,
        series_mode="episode",
    )
    r.step()
    lib = generate(kind, SIZE, 0.3, 0.05, SEED)
    expected = {i.id for i in lib.items.values() if lib.cf_unmet(i)}
    assert expected, "the simulator library has custom-format-unmet files"
    searched = sent(tmp_path / "q.db", r.instance)
    assert {row["reason"] for row in searched} == {"customformat"}
    media = {"radarr": "movie", "sonarr": "episode", "lidarr": "album"}[kind]
    assert {int(row["item"].split(":")[1]) for row in searched} == expected
    assert all(row["item"].startswith(media) for row in searched)
    assert exchanges.validate() > 0
    # the same list is not read again before UPGRADE_REFRESH
    calls = len(exchanges.items)
    r.step()
    assert not [e for e in exchanges.items[calls:] if "/trackfile" in e[1] or "File=true" in e[1]]


def _profile(sim: SimProcess, movie_id: int) -> int:
    return int(make_client("radarr", sim.url, KEY).profile_owner(movie_id)["qualityProfileId"])


def test_a_temporary_profile_is_switched_for_the_search_and_back_after_the_import(
    fresh_radarr: SimProcess, tmp_path: Path
) -> None:
    sim = fresh_radarr
    settings = {
        "search_cutoff_unmet": False,
        "use_temp_for_missing": True,
        "profile_mappings": (("HD-1080p", "Any"),),
    }
    r, exchanges = runner(sim, tmp_path / "t.db", **settings)
    lib = generate("radarr", SIZE, 0.3, 0.05, SEED)
    missing = [
        i.id
        for i in lib.items.values()
        if lib.is_missing(i, datetime.now(UTC))
        and i.monitored
        and i.profile_id == 2
        and i.released.timestamp() < time.time()
    ]
    assert missing
    r.step()
    db = open_db(tmp_path / "t.db")
    journal = profiles.journal_name(r.instance)
    for movie_id in missing:
        assert _profile(sim, movie_id) == 1, movie_id  # on "Any" while it is searched
    acts = rows(
        db, "SELECT kind, key, status FROM actions WHERE instance = ? ORDER BY id", (journal,)
    )
    switches = [a for a in acts if profiles.SWITCH in a["key"]]
    restores = [a for a in acts if profiles.RESTORE in a["key"]]
    assert len(switches) == len(restores) == len(missing)
    assert {a["status"] for a in switches} == {"done"} and {a["status"] for a in restores} == {
        "planned"
    }

    # one movie gets a file (imported); one is changed by hand to Ultra-HD meanwhile
    first, second = missing[0], missing[1]
    sim.control("POST", "/sim/library/file", json={"ids": [first]})
    make_client("radarr", sim.url, KEY).set_quality_profile([second], 3)
    sim.control("POST", "/sim/library/file", json={"ids": [second]})
    r.wanted_at = None  # the next step reads wanted/missing again
    r.step()
    assert _profile(sim, first) == 2, "switched back after the import"
    assert _profile(sim, second) == 3, "a profile changed by hand is left alone"
    for other in missing[2:]:
        assert _profile(sim, other) == 1
    done = {
        a["hash"]: a["result"]
        for a in rows(
            db,
            "SELECT hash, result FROM actions "
            "WHERE instance = ? AND key LIKE ? AND status = 'done'",
            (journal, f"%{profiles.RESTORE}%"),
        )
    }
    assert set(done) == {f"movie:{first}", f"movie:{second}"}
    assert "left alone" in done[f"movie:{second}"]
    reasons = [
        d["reason"]
        for d in rows(
            db,
            "SELECT reason FROM decisions WHERE instance = ? AND hash = ? ORDER BY id",
            (journal, f"movie:{first}"),
        )
    ]
    assert "temporary 'Any'" in reasons[0] and "a file was imported" in reasons[-1]
    # qbarr why movie:ID tells the story: the switch, the search, the switch-back and why
    text = "\n".join(why.render_text(why.collect(db, why.resolve_hash(db, f"movie:{first}"))))
    assert text.startswith(f"item movie:{first}")
    assert text.count("temp-profile") == 2 and "set_profile" in text
    assert "a file was imported" in text and "MoviesSearch" in text
    assert exchanges.validate() > 0


def test_a_crash_between_switch_and_switch_back_never_leaves_the_temporary_profile(
    fresh_radarr: SimProcess, tmp_path: Path
) -> None:
    sim = fresh_radarr
    db_path = tmp_path / "c.db"
    db = open_db(db_path)
    target = next(
        i.id
        for i in generate("radarr", SIZE, 0.3, 0.05, SEED).items.values()
        if i.profile_id == 2 and not i.has_file and i.id > 40
    )
    client = make_client("radarr", sim.url, KEY)
    qp = client.quality_profiles()
    main = next(p for p in qp if p["name"] == "HD-1080p")
    temp = next(p for p in qp if p["name"] == "Any")
    journal = profiles.journal_name("radarr-crash")
    # the program journaled the switch (and its switch-back), switched, then was killed
    switch_id, restore_id = profiles.plan_switch(
        db,
        journal,
        profiles.Owner("movie", target),
        main,
        temp,
        [f"movie:{target}"],
        "T",
        time.time(),
        0.0,
    )
    client.set_quality_profile([target], temp["id"])
    # restarted with the feature turned off: the switch-back still happens, exactly once
    r, exchanges = runner(sim, db_path, search_missing=False, search_cutoff_unmet=False)
    r.instance = "radarr-crash"
    r.journal.instance = journal
    r.step()
    assert _profile(sim, target) == main["id"]
    status = {
        a["id"]: (a["status"], a["result"])
        for a in rows(db, "SELECT * FROM actions WHERE instance = ?", (journal,))
    }
    assert status[restore_id][0] == "done" and "-> " in status[restore_id][1]
    assert (
        status[switch_id][0] == "done"
    )  # the interrupted switch ran first (a no-op: already on temp)
    r.step()
    assert len([e for e in exchanges.items if e[0] == "PUT"]) == 1
    assert exchanges.validate() > 0


def test_sonarr_smart_sends_season_searches_for_seasons_missing_whole(tmp_path: Path) -> None:
    sim = start_sim(
        "sonarr",
        api_key=KEY,
        library=80,
        missing_fraction=1.0,
        seed=3,
        search_duration=0.05,
        grab_probability=0.0,
    )
    try:
        lib = generate("sonarr", 80, 1.0, 0.05, 3)
        partial = next(i for i in lib.items.values() if i.parent_id == 1 and i.season == 1)
        sim.control("POST", "/sim/library/file", json={"ids": [partial.id]})
        r, exchanges = runner(
            sim, tmp_path / "s.db", search_cutoff_unmet=False, series_mode="smart"
        )
        r.step()
        commands = sim.control("GET", "/sim/commands")["commands"]
    finally:
        sim.stop()
    seasons = [c for c in commands if c["name"] == "SeasonSearch"]
    series = [c for c in commands if c["name"] == "SeriesSearch"]
    assert r.full_seasons, "the library has seasons whose monitored episodes are all missing"
    assert (1, 1) not in r.full_seasons
    sent_seasons = {(c["body"]["seriesId"], c["body"]["seasonNumber"]) for c in seasons}
    assert sent_seasons and sent_seasons <= set(r.full_seasons)
    # series 1 has a partly missing season: one SeriesSearch covers it, no SeasonSearch beside
    assert 1 in {c["body"]["seriesId"] for c in series}
    assert not {c["body"]["seriesId"] for c in series} & {sid for sid, _ in sent_seasons}
    journal = sent(tmp_path / "s.db", r.instance)
    season_rows = [row for row in journal if row["command"] == "SeasonSearch"]
    assert len(season_rows) == len(seasons) and all(
        row["item"].startswith("episode:") for row in season_rows
    )
    assert exchanges.validate() > 0
