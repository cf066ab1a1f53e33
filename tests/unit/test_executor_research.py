"""Re-searches of failed torrents share the search program's cooldown and daily budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr.db import rows
from qbarr.executor import Executor
from qbarr.journal import Journal
from qbarr.search.settings import SearchSettings
from tests.support.engines import open_db
from tests.unit.test_executor import NOW, FakeArr, FakeQbt, H, fail_decision

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


def executor(
    tmp_path: Path, arr: FakeArr, settings: SearchSettings | None, t: float = NOW
) -> tuple[Journal, Executor]:
    journal = Journal(open_db(tmp_path / "q.db"), "Radarr")
    ex = Executor(journal, FakeQbt(), arr, clock=lambda: t)
    ex.search_settings = settings
    return journal, ex


def test_two_failures_of_one_movie_in_a_burst_search_it_once(tmp_path: Path) -> None:
    arr = FakeArr(queue_ids=(7, 8))
    journal, ex = executor(tmp_path, arr, SearchSettings())
    journal.record([fail_decision(H(1), 7), fail_decision(H(2), 8)], NOW, False)  # both for movie 3
    ex.run(journal.pending(NOW), False, 10)
    assert [c for c in arr.calls if c[0] == "search"] == [("search", (3,))]
    results = {a.hash: a.result for a in journal.actions() if a.kind == "search"}
    assert "not searched" in results[H(2)]
    assert [r["item"] for r in rows(journal.db, "SELECT item FROM searches")] == ["movie:3"]


def test_after_the_cooldown_the_movie_is_searched_again(tmp_path: Path) -> None:
    arr = FakeArr(queue_ids=(7, 8))
    settings = SearchSettings()
    journal, ex = executor(tmp_path, arr, settings)
    journal.record([fail_decision(H(1), 7)], NOW, False)
    ex.run(journal.pending(NOW), False, 10)
    later = NOW + settings.research_cooldown + 1
    journal2, ex2 = executor(tmp_path, arr, settings, t=later)
    journal2.record([fail_decision(H(2), 8)], later, False)
    ex2.run(journal2.pending(later), False, 10)
    assert [c for c in arr.calls if c[0] == "search"] == [("search", (3,)), ("search", (3,))]


def test_a_spent_daily_budget_stops_re_searches(tmp_path: Path) -> None:
    arr = FakeArr(queue_ids=(7,))
    journal, ex = executor(tmp_path, arr, SearchSettings(max_per_day=1))
    from qbarr.searchlog import record_search

    record_search(journal.db, "Radarr", ["movie:99"], "missing", "MoviesSearch", 1, NOW - 60)
    journal.record([fail_decision(H(1), 7)], NOW, False)
    ex.run(journal.pending(NOW), False, 10)
    assert [c for c in arr.calls if c[0] == "search"] == []
    assert [c[0] for c in arr.calls] == ["delete_queue"]


def test_imports_are_paced_per_cycle_and_none_is_lost(tmp_path: Path) -> None:
    from qbarr.executor import IMPORTS_PER_CYCLE
    from tests.unit.test_executor import import_decision

    arr = FakeArr()
    journal, ex = executor(tmp_path, arr, None)
    count = IMPORTS_PER_CYCLE + 7
    journal.record([import_decision(H(i)) for i in range(1, count + 1)], NOW, False)
    first = ex.run(journal.pending(NOW), False, 10)
    assert first.done == IMPORTS_PER_CYCLE and first.deferred == 7
    second = ex.run(journal.pending(NOW), False, 10)
    assert second.done == 7 and second.deferred == 0
    scans = [c[2] for c in arr.calls if c[0] == "scan"]
    assert len(scans) == count == len(set(scans))  # every torrent imported, each once
    assert scans[:IMPORTS_PER_CYCLE] == [
        H(i).upper() for i in range(1, IMPORTS_PER_CYCLE + 1)
    ]  # oldest first
