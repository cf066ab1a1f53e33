"""The search journal and cooldowns shared by the search program and the managers."""

from __future__ import annotations

import json

import pytest

from qbarr import searchlog
from qbarr.db import rows
from qbarr.search import status
from qbarr.search.model import PlannedSearch
from qbarr.search.settings import SearchSettings

NOW = 1_700_000_000.0
INST = "Radarr-Main"


@pytest.fixture
def db(engine, tmp_path):
    """Every test that takes it runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    conn = engine.open(tmp_path / "qbarr.db")
    yield conn
    conn.conn.close()


def movie_search(i, reason="missing") -> PlannedSearch:
    return PlannedSearch(
        command="movie", ids=(i,), keys=(f"movie:{i}",), reason=reason, title=f"Movie {i}"
    )


def test_begin_sent_cools_down_and_counts(db):
    row, prev = searchlog.begin(db, INST, movie_search(1), NOW)
    assert prev == {"movie:1": None}
    searchlog.sent(db, row, 42)
    assert searchlog.cooldowns(db, INST, NOW - 10) == {"movie:1": NOW}
    u = searchlog.usage(db, INST, NOW + 1, SearchSettings())
    assert (u.last_24h, u.last_hour, u.last_command_at) == (1, 1, NOW)
    r = rows(db, "SELECT * FROM searches")[0]
    assert (r["status"], r["command"], r["command_id"], r["reason"], r["title"]) == (
        "sent",
        "MoviesSearch",
        42,
        "missing",
        "Movie 1",
    )


def test_abandon_restores_previous_cooldown_and_does_not_count(db):
    searchlog.record_search(db, INST, ["movie:1"], "stalled", "MoviesSearch", 7, NOW - 5000)
    row, prev = searchlog.begin(db, INST, movie_search(1), NOW)
    searchlog.abandon(db, INST, row, "connection refused", prev)
    assert searchlog.cooldowns(db, INST, 0) == {"movie:1": NOW - 5000}
    assert rows(db, "SELECT count FROM search_cooldowns")[0]["count"] == 1
    row2, prev2 = searchlog.begin(db, INST, movie_search(2), NOW)
    searchlog.abandon(db, INST, row2, "boom", prev2)
    assert "movie:2" not in searchlog.cooldowns(db, INST, 0)
    assert searchlog.usage(db, INST, NOW, SearchSettings()).last_24h == 1
    err = rows(db, "SELECT status, result FROM searches WHERE id = ?", (row2,))[0]
    assert err["status"] == "error" and json.loads(err["result"])["error"] == "boom"


def test_series_search_records_every_covered_key(db):
    search = PlannedSearch(
        command="series",
        ids=(7,),
        keys=("series:7", "episode:1", "episode:2"),
        reason="missing",
        series_id=7,
    )
    row, _ = searchlog.begin(db, "Sonarr-TV", search, NOW)
    searchlog.sent(db, row, 5)
    assert set(searchlog.cooldowns(db, "Sonarr-TV", 0)) == {"series:7", "episode:1", "episode:2"}
    hist = status.search_history(db, "episode:2")
    assert (
        len(hist) == 1
        and hist[0]["item"] == "series:7"
        and hist[0]["covers"] == ["episode:1", "episode:2"]
    )
    assert hist[0]["command"] == "SeriesSearch"


def test_usage_windows_and_frees_at(db):
    s = SearchSettings(max_per_day=3, max_per_hour=2)
    for t in (NOW - 20 * 3600, NOW - 1800, NOW - 600):
        searchlog.record_search(db, INST, [f"movie:{int(t)}"], "missing", "MoviesSearch", 1, t)
    u = searchlog.usage(db, INST, NOW, s)
    assert (u.last_24h, u.last_hour) == (3, 2)
    assert u.day_frees_at == NOW - 20 * 3600 + 86400
    assert u.hour_frees_at == NOW - 1800 + 3600


def test_update_results_from_the_arr_command_list(db):
    a, _ = searchlog.begin(db, INST, movie_search(1), NOW)
    searchlog.sent(db, a, 100)
    b, _ = searchlog.begin(db, INST, movie_search(2), NOW)
    searchlog.sent(db, b, 101)
    c, _ = searchlog.begin(db, INST, movie_search(3), NOW - 2 * 86400)
    searchlog.sent(db, c, 99)
    cmds = [
        {"id": 100, "name": "MoviesSearch", "status": "completed", "message": "Completed"},
        {"id": 101, "name": "MoviesSearch", "status": "started"},
    ]
    assert searchlog.update_results(db, INST, cmds, NOW + 10) == 3
    got = {r["id"]: r["status"] for r in rows(db, "SELECT id, status FROM searches")}
    assert got == {a: "completed", b: "started", c: "unknown"}
    assert searchlog.update_results(db, INST, cmds, NOW + 20) == 0


def test_may_search_burst_dedupe_and_budget(db):
    s = SearchSettings(research_cooldown=600, max_per_day=3)
    searchlog.record_search(db, INST, ["movie:1"], "missing", "MoviesSearch", 1, NOW - 60)
    searchlog.record_search(db, INST, ["movie:2"], "missing", "MoviesSearch", 2, NOW - 3600)
    allowed = searchlog.may_search(db, INST, ["movie:1", "movie:2", "movie:2", "movie:3"], NOW, s)
    assert allowed == ["movie:2"]  # movie:1 in burst window; budget 3 - 2 used = 1 slot
    s = SearchSettings(research_cooldown=600, max_per_day=0)
    assert searchlog.may_search(db, INST, ["movie:1", "movie:2", "movie:3"], NOW, s) == [
        "movie:2",
        "movie:3",
    ]
    assert searchlog.may_search(db, INST, [], NOW, s) == []


def test_manager_record_links_hash_and_cools_down_for_the_search_program(db):
    searchlog.record_search(
        db, INST, ["movie:5"], "stalled", "MoviesSearch", 77, NOW, hash="ABCDEF", title="Five"
    )
    assert searchlog.cooldowns(db, INST, NOW - 1) == {"movie:5": NOW}
    hist = status.search_history(db, "abcdef")
    assert [(h["item"], h["reason"], h["command_id"]) for h in hist] == [("movie:5", "stalled", 77)]
    line = status.format_history(hist)[0]
    assert "movie:5 'Five' searched (stalled) with MoviesSearch#77 -> sent" in line
    with pytest.raises(ValueError):
        searchlog.record_search(db, INST, [], "x", "MoviesSearch", None, NOW)


def test_prune(db):
    searchlog.record_search(db, INST, ["movie:1"], "missing", "MoviesSearch", 1, NOW - 100 * 86400)
    searchlog.record_search(db, INST, ["movie:2"], "missing", "MoviesSearch", 2, NOW)
    assert searchlog.prune(db, INST, NOW - 90 * 86400) == 1
    assert list(searchlog.cooldowns(db, INST, 0)) == ["movie:2"]
