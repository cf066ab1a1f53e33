"""The search runner and the request sources against the real simulators (no supervisord).

One Radarr, one Overseerr and one Ombi simulator serve the module; each test drives a
:class:`SearchRunner` in-process with a real SQLite file and a clock it advances itself
(the simulators run on real time; only the runner's pacing clock is moved).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qbarr.arr import make_client
from qbarr.db import rows
from qbarr.search.runner import SearchRunner, running_searches
from qbarr.search.settings import RequestSettings, SearchSettings
from qbarr.search.sources import OmbiSource, OverseerrSource, SourceError, make_source
from qbarr.sim.arr.launch import SimProcess, start_sim
from tests.conftest import free_port
from tests.support.engines import open_db
from tests.support.waiting import wait_for

pytestmark = pytest.mark.system

KEY = "sim-key-0123456789"
LIB: dict[str, Any] = {"library": 150, "missing_fraction": 1.0, "seed": 11}


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, str]]:
    started: list[SimProcess] = []
    try:
        radarr = start_sim(
            "radarr",
            api_key=KEY,
            search_duration=0.2,
            command_duration=0.3,
            grab_probability=0.0,  # no qBittorrent here: a grab would fail the search
            poll_interval=1.0,
            **LIB,
        )
        started.append(radarr)
        urls = {"radarr": radarr.url}
        for kind in ("overseerr", "ombi"):
            extra = ["--requests", "30", "--radarr-sim", radarr.url]
            started.append(start_sim(kind, api_key=KEY, extra=extra, **LIB))
            urls[kind] = started[-1].url
        yield urls
    finally:
        for sim in started:
            sim.stop()


def no_search_running(url: str) -> bool:
    active = httpx.get(f"{url}/sim/commands", params={"active": "1"}, timeout=5).json()
    return not active["commands"]


def hold_commands(url: str, held: bool) -> None:
    """While held, the simulator's commands neither start nor finish."""
    httpx.post(f"{url}/sim/commands/hold", json={"held": held}, timeout=5).raise_for_status()


@pytest.fixture
def radarr(sims: dict[str, str]) -> Iterator[str]:
    """The Radarr simulator URL with no search running (earlier tests' searches finish
    first, they would count against SearchLimit); faults and holds cleared after the test."""
    url = sims["radarr"]
    wait_for(lambda: no_search_running(url), 30, what="the simulator's searches finished")
    yield url
    httpx.delete(f"{url}/sim/faults", timeout=5)
    hold_commands(url, False)


class NoCommandList:
    """The real client, except that it reads the command list as empty, so that a fault
    injected on /command hits the POST of a search and not the GET before it."""

    def __init__(self, arr: Any) -> None:
        self._arr = arr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._arr, name)

    def commands(self) -> list[dict[str, Any]]:
        return []


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def runner_for(
    url: str, tmp_path: Path, instance: str, **kw: Any
) -> tuple[SearchRunner, Any, Clock]:
    db = open_db(tmp_path / "qbarr.db")
    clock = Clock()
    base: dict[str, Any] = dict(
        kind="radarr",
        enabled=True,
        search_delay=0.0,
        search_limit=2,
        max_per_day=0,
        max_per_hour=-1,
    )
    settings = SearchSettings(**{**base, **kw})
    arr = make_client("radarr", url, KEY, timeout=5, retries=0)
    return SearchRunner(instance, settings, db, arr, clock=clock, backoff_cap=8.0), db, clock


def sim_commands(url: str, name: str = "MoviesSearch") -> list[dict[str, Any]]:
    return httpx.get(f"{url}/sim/commands", params={"name": name}, timeout=5).json()["commands"]


def searched(url: str, user_agent_marker: str = "qbarr") -> list[int]:
    return [i for c in sim_commands(url) for i in c["body"]["movieIds"]]


# --- request sources ---------------------------------------------------------------------


def _expected(sims: dict[str, str], kind: str, approved_only: bool, is_4k: bool) -> set[int]:
    reqs = httpx.get(f"{sims[kind]}/sim/requests", timeout=5).json()
    ok = {2} if approved_only else {1, 2}
    return {
        r["tmdbId"]
        for r in reqs
        if r["type"] == "movie"
        and r["status"] in ok
        and r["is4k"] == is_4k
        and r["media_status"] != 5
    }


@pytest.mark.parametrize("approved_only, is_4k", [(True, False), (False, False), (True, True)])
def test_overseerr_source_filters_like_the_settings_say(
    sims: dict[str, str], approved_only: bool, is_4k: bool
) -> None:
    settings = RequestSettings(
        name="Overseerr",
        enabled=True,
        url=sims["overseerr"],
        api_key=KEY,
        approved_only=approved_only,
        is_4k=is_4k,
    )
    with OverseerrSource(settings) as source:
        items = source.fetch()
    assert {i.tmdb for i in items if i.media == "movie"} == _expected(
        sims, "overseerr", approved_only, is_4k
    )
    reqs = httpx.get(f"{sims['overseerr']}/sim/requests", timeout=5).json()
    tv = {
        r["tvdbId"]
        for r in reqs
        if r["type"] == "tv"
        and r["status"] in ({2} if approved_only else {1, 2})
        and r["is4k"] == is_4k
        and r["media_status"] != 5
    }
    assert {i.tvdb for i in items if i.media == "series"} == tv
    assert all(i.requested_at > 0 and i.source == "overseerr" for i in items)


def test_ombi_source_movies_and_tv(sims: dict[str, str]) -> None:
    settings = RequestSettings(name="Ombi", enabled=True, url=sims["ombi"], api_key=KEY)
    with make_source(settings) as source:
        assert isinstance(source, OmbiSource)
        items = source.fetch()
    assert {i.tmdb for i in items if i.media == "movie"} == _expected(sims, "ombi", True, False)
    assert any(i.media == "series" and i.tvdb for i in items)


@pytest.mark.parametrize("name", ["Overseerr", "Ombi"])
def test_source_errors_are_clear_and_keyless(sims: dict[str, str], name: str) -> None:
    bad_key = RequestSettings(
        name=name, enabled=True, url=sims[name.lower()], api_key="wrong-secret-key"
    )
    with make_source(bad_key) as source, pytest.raises(SourceError) as err:
        source.fetch()
    assert "refused the API key" in str(err.value) and "wrong-secret-key" not in str(err.value)
    closed = RequestSettings(
        name=name, enabled=True, url=f"http://127.0.0.1:{free_port()}", api_key="k-secret"
    )
    with make_source(closed) as source, pytest.raises(SourceError) as err:
        source.fetch()
    assert (
        "unreachable" in str(err.value)
        and name in str(err.value)
        and "k-secret" not in str(err.value)
    )


# --- the runner --------------------------------------------------------------------------


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_runner_sends_counts_running_and_records_results(radarr: str, tmp_path: Path) -> None:
    runner, db, clock = runner_for(radarr, tmp_path, "R-results")
    before = len(sim_commands(radarr))
    hold_commands(radarr, True)  # the two searches stay queued until released
    runner.step()
    assert len(sim_commands(radarr)) == before + 2 and runner.running == 2
    assert runner.report()[0] == "ok"
    # Nothing more while two run (SearchLimit 2): the next step only reads the command list.
    clock.now += 5
    runner.step()
    assert len(sim_commands(radarr)) == before + 2 and runner.running == 2
    hold_commands(radarr, False)
    wait_for(lambda: no_search_running(radarr), 30, what="the simulator's searches finished")
    clock.now += 5
    runner.step()
    done = rows(db, "SELECT status FROM searches WHERE instance = 'R-results' ORDER BY id LIMIT 2")
    assert [r["status"] for r in done] == ["completed", "completed"], done
    commands = runner.arr.commands()
    assert running_searches(commands) == sum(
        1 for c in commands if c["name"].endswith("Search") and c["status"] in ("queued", "started")
    )


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_arr_errors_back_off_without_cooling_anything_down(radarr: str, tmp_path: Path) -> None:
    runner, db, clock = runner_for(radarr, tmp_path, "R-backoff")
    httpx.post(f"{radarr}/sim/faults", json={"error_rate": 1.0, "error_status": 503}, timeout=5)
    wait1 = runner.step()
    status, error, _, _ = runner.report()
    assert status == "error" and "503" in error and runner.arr_ok is False
    assert 0.5 <= wait1 <= 1.5
    clock.now += 0.1
    runner.step()  # still inside the backoff: no call at all
    assert runner.arr_failures == 1
    clock.now += 2
    runner.step()
    assert runner.arr_failures == 2 and runner.arr_retry_at - clock.now == pytest.approx(2.0)
    assert rows(db, "SELECT COUNT(*) AS n FROM search_cooldowns")[0]["n"] == 0
    httpx.delete(f"{radarr}/sim/faults", timeout=5)
    clock.now += 3
    runner.step()
    assert runner.arr_ok is True and runner.report()[0] == "ok" and runner.sent_total == 2


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_transient_send_failure_undoes_the_cooldown_refusal_keeps_it(
    radarr: str, tmp_path: Path
) -> None:
    runner, db, clock = runner_for(radarr, tmp_path, "R-send", search_limit=1)
    runner.arr = NoCommandList(runner.arr)

    def last() -> dict[str, Any]:
        return rows(
            db,
            "SELECT item, status, result FROM searches "
            "WHERE instance = 'R-send' ORDER BY id DESC LIMIT 1",
        )[0]

    def cooled() -> set[str]:
        return {
            r["item"]
            for r in rows(db, "SELECT item FROM search_cooldowns WHERE instance = 'R-send'")
        }

    runner.step()  # crawl + first search
    first = last()["item"]
    clock.now += 5
    httpx.post(
        f"{radarr}/sim/faults",
        json={"path": "/command", "error_status": 503, "error_rate": 1.0, "count": 1},
        timeout=5,
    )
    # the POST fails (503): the Arr may have queued it, so the answer counts as lost: unknown,
    # the cooldown stays until the next command list says whether the Arr has it; backoff
    runner.step()
    failed = last()
    assert failed["status"] == "unknown" and "503" in failed["result"] and failed["item"] != first
    assert failed["item"] in cooled() and first in cooled()
    assert runner.arr_ok is False and runner.arr_failures == 1
    clock.now += 5
    runner.step()  # the Arr answers again and does not list it: cooldown undone, searched now
    assert last()["item"] == failed["item"] and last()["status"] == "queued"
    statuses = rows(
        db, "SELECT status FROM searches WHERE instance = 'R-send' AND item = ? ORDER BY id",
        (failed["item"],),
    )  # fmt: skip
    assert [r["status"] for r in statuses][0] == "error"
    clock.now += 5
    httpx.post(
        f"{radarr}/sim/faults",
        json={"path": "/command", "error_status": 400, "error_rate": 1.0, "count": 1},
        timeout=5,
    )
    runner.step()  # the POST is refused (400): the item keeps its cooldown, no backoff
    refused = last()
    assert refused["status"] == "error" and refused["item"] in cooled()
    assert runner.arr_ok is True and runner.arr_failures == 0
    clock.now += 1
    runner.step()
    assert (
        last()["item"] not in (refused["item"], failed["item"], first)
        and last()["status"] != "error"
    )


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_dry_run_journals_without_sending_or_cooling_down(radarr: str, tmp_path: Path) -> None:
    runner, db, clock = runner_for(radarr, tmp_path, "R-dry", search_delay=10.0)
    runner.dry_run = True
    before = len(sim_commands(radarr))
    for _ in range(3):
        runner.step()
        clock.now += 11
    assert len(sim_commands(radarr)) == before
    dry = rows(db, "SELECT item, status FROM searches WHERE instance = 'R-dry'")
    assert (
        len(dry) == 3
        and {r["status"] for r in dry} == {"dry-run"}
        and len({r["item"] for r in dry}) == 3
    )
    assert (
        rows(db, "SELECT COUNT(*) AS n FROM search_cooldowns WHERE instance = 'R-dry'")[0]["n"] == 0
    )


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_rss_sync_every(radarr: str, tmp_path: Path) -> None:
    runner, db, clock = runner_for(
        radarr,
        tmp_path,
        "R-rss",
        rss_sync_every=600.0,
        search_missing=False,
        search_cutoff_unmet=False,
    )
    before = len(sim_commands(radarr, "RssSync"))
    runner.step()
    clock.now += 10
    runner.step()
    assert len(sim_commands(radarr, "RssSync")) == before + 1
    clock.now += 600
    runner.step()
    assert len(sim_commands(radarr, "RssSync")) == before + 2


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_requests_resolved_and_first(sims: dict[str, str], radarr: str, tmp_path: Path) -> None:
    runner, db, clock = runner_for(radarr, tmp_path, "R-req", search_limit=50)
    settings = RequestSettings(
        name="Overseerr", enabled=True, url=sims["overseerr"], api_key=KEY, request_limit=3
    )
    runner.reconfigure(
        dataclasses.replace(runner.settings, requests=(settings,)),
        sources={"Overseerr": OverseerrSource(settings)},
    )
    runner.step()
    reasons = [
        r["reason"]
        for r in rows(db, "SELECT reason FROM searches WHERE instance = 'R-req' ORDER BY id")
    ]
    assert reasons[:3] == ["request"] * 3 and "request" not in reasons[3:]
    assert runner.report()[3]["sources"]["Overseerr"]["ok"] is True


@pytest.mark.usefixtures("engine")  # on SQLite and on PostgreSQL
def test_no_wanted_crawl_while_the_budget_holds_everything_back(
    radarr: str, tmp_path: Path
) -> None:
    runner, db, clock = runner_for(
        radarr, tmp_path, "R-held", max_per_day=24, max_per_hour=0
    )  # 1 per hour

    def wanted_calls() -> int:
        calls = httpx.get(f"{radarr}/sim/state", timeout=5).json()["api_calls"]
        return sum(n for route, n in calls.items() if "wanted" in route)

    start = clock.now
    runner.step()
    assert runner.sent_total == 1
    crawled_at, calls = runner.wanted_at, wanted_calls()
    while (
        clock.now + 600 < start + 3500
    ):  # 50 minutes in 10-minute steps: the hourly share is spent
        clock.now += 600
        runner.step()
        assert runner.last_plan.blocked == "hourly" and runner.sent_total == 1
    assert runner.wanted_at == crawled_at and wanted_calls() == calls, (
        "no crawl while nothing may be sent"
    )
    clock.now = start + 3601
    runner.step()  # the window frees: one fresh crawl, then the search
    assert runner.wanted_at == clock.now and wanted_calls() > calls and runner.sent_total == 2
