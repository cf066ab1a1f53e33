"""qbarr-search end to end: the real suite (supervisord via ``qbarr run``) against the
Arr and Overseerr simulators.

The simulators are started by the test itself (by pid, stopped in ``finally``) and
answer before the suite starts, so the search program never races them. Settings are
short (SearchDelay 0, searches of 0.3-0.5 s in the simulator) so each test takes seconds.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.support.waiting import unless_exited, wait_for
from tests.system.conftest import FAST_SETTINGS, QBT_KEYS, ArrSpec, Suite, short_home

pytestmark = pytest.mark.system

BIN = Path(sys.executable).parent
SIM = str(BIN / "qbarr-sim-arr") if (BIN / "qbarr-sim-arr").exists() else "qbarr-sim-arr"
KEY = "sim-key-0123456789"


class Sim:
    """One simulator process started by the test."""

    def __init__(self, kind: str, port: int, args: list[str], log: Path) -> None:
        self.kind, self.port = kind, port
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [SIM, "--kind", kind, "--port", str(port), "--api-key", KEY, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def get(self, path: str, **params: Any) -> Any:
        headers = {"X-Api-Key": KEY}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=10).json()

    def wait_ready(self, timeout: float = 60.0) -> None:
        def answers() -> bool:
            return httpx.get(f"{self.url}/sim/state", timeout=2).status_code == 200

        wait_for(
            unless_exited(self.proc, answers, f"the {self.kind} simulator"),
            timeout,
            0.1,
            f"the {self.kind} simulator on port {self.port}",
            ignore=(httpx.HTTPError,),
        )

    def commands(self, name: str | None = None) -> list[dict[str, Any]]:
        found = self.get("/sim/commands", **({"name": name} if name else {}))["commands"]
        return sorted(found, key=lambda c: c["id"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def env(suite_factory: Callable[..., Suite]) -> Iterator[Callable[..., Any]]:
    """``env.sim(kind, *args)`` starts a simulator; ``env.suite(config_text, arrs)`` the suite."""
    home = short_home()
    home.root.mkdir(parents=True, exist_ok=True)
    sims: list[Sim] = []

    class Env:
        def sim(self, kind: str, *args: str, port: int | None = None, wait: bool = True) -> Sim:
            sim = Sim(
                kind, port or free_port(), list(args), home.root / f"sim-{kind}-{len(sims)}.out"
            )
            sims.append(sim)
            if wait:
                sim.wait_ready()
            return sim

        def suite(self, text: str, arrs: list[ArrSpec]) -> Suite:
            home.config.write_text(text)
            return suite_factory(home=home, arrs=arrs)

    try:
        yield Env()
    finally:
        for sim in sims:
            sim.stop()
        shutil.rmtree(home.root, ignore_errors=True)


def config(*sections: str) -> str:
    lines = ["[Settings]", *(f"{k} = {v}" for k, v in FAST_SETTINGS.items() if k not in QBT_KEYS)]
    lines += ["[qBittorrent]", f"URL = http://127.0.0.1:{free_port()}", "Timeout = 2s"]
    lines += ["[WebUI]", "Host = 127.0.0.1", f"Port = {free_port()}", "Token = test-token-abcdefgh"]
    return "\n".join(lines) + "\n" + "\n".join(sections)


def arr_section(name: str, url: str, category: str, search: str) -> str:
    body = "\n".join("    " + line.strip() for line in search.strip().splitlines())
    return (
        f"[{name}]\nURL = {url}\nAPIKey = {KEY}\nCategory = {category}\nTimeout = 5s\n"
        f"    [[Search]]\n    Enabled = true\n{body}\n"
    )


def heartbeat(suite: Suite, instance: str) -> dict[str, Any]:
    import json

    row = suite.heartbeat(f"{instance}:search") or {}
    for key in ("counts", "stats"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def searched_ids(commands: list[dict[str, Any]], field: str) -> list[int]:
    return [i for c in commands for i in c["body"].get(field, [])]


# --------------------------------------------------------------------------------------


def test_search_limit_holds_and_cooldown_survives_sigkill(env: Any) -> None:
    radarr = env.sim(
        "radarr", "--library", "500", "--missing-fraction", "1.0", "--search-duration", "0.5"
    )
    suite = env.suite(
        config(
            arr_section(
                "Radarr-Main",
                radarr.url,
                "radarr",
                """
            SearchLimit = 3
            SearchDelay = 0
            MaxSearchesPerDay = 0
            Unmonitored = true
            SearchCooldown = 1d
        """,
            )
        ),
        [ArrSpec("Radarr-Main", "radarr", url=radarr.url, api_key=KEY)],
    )
    name = "search:search-radarr-main"
    suite.wait_state(name, "RUNNING")
    most = 0

    def sample_until(total: int) -> None:
        def sampled() -> bool:
            nonlocal most
            active = radarr.get("/sim/commands", active="1")["commands"]
            running = sum(1 for c in active if c["class"] == "search")
            most = max(most, running)
            assert running <= 3, f"{running} search commands running at once: {active}"
            return radarr.get("/sim/state")["commands"]["total"] >= total

        wait_for(sampled, 120, 0.05, f"{total} searches sent", context=lambda: suite.log(name))

    sample_until(12)
    old = suite.pid(name)
    suite.sup.signal(name, "KILL")
    suite.wait_state(name, "RUNNING", not_pid=old)
    before = radarr.get("/sim/state")["commands"]["total"]
    sample_until(before + 12)

    state = radarr.get("/sim/state")["commands"]
    assert state["max_active_searches"] <= 3 and most <= 3
    assert most == 3, "the limit was never reached: the test proves nothing"
    commands = radarr.commands("MoviesSearch")
    ids = searched_ids(commands, "movieIds")
    assert len(ids) == len(set(ids)), (
        "a movie was searched twice within its cooldown (across SIGKILL)"
    )
    assert all(len(c["body"]["movieIds"]) == 1 for c in commands)
    journal = suite.query(
        "SELECT command_id, item, status FROM searches WHERE instance = 'Radarr-Main'"
    )
    journaled = {r["command_id"] for r in journal if r["command_id"] is not None}
    unjournaled = [c["id"] for c in commands if c["id"] not in journaled]
    assert len(unjournaled) <= 1, unjournaled  # only one can be in flight when SIGKILL lands
    assert {r["item"] for r in journal} >= {
        f"movie:{i}" for c in commands for i in c["body"]["movieIds"] if c["id"] in journaled
    }


def test_requests_are_searched_first(env: Any) -> None:
    lib = ["--library", "300", "--missing-fraction", "1.0", "--seed", "3"]
    radarr = env.sim("radarr", *lib, "--search-duration", "0.3")
    overseerr = env.sim("overseerr", *lib, "--requests", "40", "--radarr-sim", radarr.url)
    requests = overseerr.get("/sim/requests")
    movies = {m["id"]: m for m in radarr.get("/api/v3/movie")}
    expected = {
        r["arr_id"]
        for r in requests
        if r["type"] == "movie"
        and r["status"] == 2
        and not r["is4k"]
        and r["media_status"] != 5
        and movies[r["arr_id"]]["monitored"]
        and movies[r["arr_id"]]["isAvailable"]
    }
    assert len(expected) >= 3, requests
    suite = env.suite(
        config(
            arr_section(
                "Radarr-Main",
                radarr.url,
                "radarr",
                f"""
            SearchLimit = 2
            SearchDelay = 0
            MaxSearchesPerDay = 0
            [[[Overseerr]]]
            Enabled = true
            URL = {overseerr.url}
            APIKey = {KEY}
            RequestLimit = 100
        """,
            )
        ),
        [ArrSpec("Radarr-Main", "radarr", url=radarr.url, api_key=KEY)],
    )
    suite.wait_state("search:search-radarr-main", "RUNNING")
    suite.wait_for(
        lambda: len(radarr.commands("MoviesSearch")) >= len(expected) + 4,
        "request searches and then library searches",
        timeout=90,
    )
    ids = searched_ids(radarr.commands("MoviesSearch"), "movieIds")
    assert set(ids[: len(expected)]) == expected
    assert not set(ids[len(expected) :]) & expected
    reasons = suite.query(
        "SELECT item, reason FROM searches WHERE instance = 'Radarr-Main' ORDER BY id"
    )
    assert {r["item"] for r in reasons[: len(expected)]} == {f"movie:{i}" for i in expected}
    assert all(r["reason"] == "request" for r in reasons[: len(expected)])
    assert all(r["reason"] != "request" for r in reasons[len(expected) :])


def test_sonarr_series_with_many_wanted_episodes_gets_one_series_search(env: Any) -> None:
    sonarr = env.sim(
        "sonarr",
        "--library",
        "200",
        "--missing-fraction",
        "0.4",
        "--seed",
        "5",
        "--search-duration",
        "0.3",
    )
    suite = env.suite(
        config(
            arr_section(
                "Sonarr-TV",
                sonarr.url,
                "tv",
                """
            SearchLimit = 3
            SearchDelay = 0
            MaxSearchesPerDay = 0
            SearchCutoffUnmet = false
            SearchBySeries = smart
        """,
            )
        ),
        [ArrSpec("Sonarr-TV", "tv", url=sonarr.url, api_key=KEY)],
    )
    suite.wait_state("search:search-sonarr-tv", "RUNNING")

    # Every wanted episode is searched once, then the program has nothing left: idle.
    def worked_through() -> bool:
        hb = heartbeat(suite, "Sonarr-TV")
        idle = hb.get("stats", {}).get("blocked") == "idle"
        return idle and hb.get("counts", {}).get("sent", 0) > 0

    suite.wait_for(worked_through, "the wanted list worked through", timeout=90)
    wanted = sonarr.get("/api/v3/wanted/missing", pageSize=1000, monitored="true")["records"]
    by_series: dict[int, set[int]] = {}
    for ep in wanted:
        if ep["seasonNumber"] != 0:
            by_series.setdefault(ep["seriesId"], set()).add(ep["id"])
    series_cmds = sonarr.commands("SeriesSearch")
    episode_ids = searched_ids(sonarr.commands("EpisodeSearch"), "episodeIds")
    many = {s for s, eps in by_series.items() if len(eps) >= 2}
    assert many, by_series
    searched_series = [c["body"]["seriesId"] for c in series_cmds]
    assert sorted(searched_series) == sorted(many), (
        "one series search per series with several wanted episodes"
    )
    assert not {e for s in many for e in by_series[s]} & set(episode_ids), (
        "no episode search for those"
    )
    singles = {e for s, eps in by_series.items() if len(eps) == 1 for e in eps}
    assert set(episode_ids) == singles


def test_unreachable_overseerr_is_reported_retried_and_arr_searches_go_on(env: Any) -> None:
    lib = ["--library", "200", "--missing-fraction", "1.0", "--seed", "7"]
    radarr = env.sim("radarr", *lib, "--search-duration", "0.3")
    port = free_port()
    suite = env.suite(
        config(
            arr_section(
                "Radarr-Main",
                radarr.url,
                "radarr",
                f"""
            SearchLimit = 2
            SearchDelay = 0.5
            MaxSearchesPerDay = 0
            [[[Overseerr]]]
            Enabled = true
            URL = http://127.0.0.1:{port}
            APIKey = {KEY}
            PollEvery = 10s
        """,
            )
        ),
        [ArrSpec("Radarr-Main", "radarr", url=radarr.url, api_key=KEY)],
    )
    name = "search:search-radarr-main"
    suite.wait_state(name, "RUNNING")

    def reported() -> bool:
        hb = heartbeat(suite, "Radarr-Main")
        source = hb.get("stats", {}).get("sources", {}).get("Overseerr", {})
        return (
            source.get("ok") is False
            and "Overseerr" in (hb.get("last_error") or "")
            and hb["status"] == "ok"
        )

    suite.wait_for(reported, "the unreachable Overseerr in the heartbeat", timeout=90)
    suite.wait_for(
        lambda: len(radarr.commands("MoviesSearch")) >= 3,
        "Arr searches going on meanwhile",
        timeout=90,
    )
    assert KEY not in (heartbeat(suite, "Radarr-Main").get("last_error") or "")

    env.sim("overseerr", *lib, "--requests", "20", "--radarr-sim", radarr.url, port=port)
    suite.wait_for(
        lambda: heartbeat(suite, "Radarr-Main")["stats"]["sources"]["Overseerr"]["ok"],
        "Overseerr read again after it came up",
    )
    assert heartbeat(suite, "Radarr-Main")["stats"]["sources"]["Overseerr"]["polled_at"]

    # SIGHUP: new settings without a restart.
    pid = suite.pid(name)
    text = suite.home.config.read_text().replace("SearchLimit = 2", "SearchLimit = 1")
    suite.home.config.write_text(text)
    suite.sup.signal(name, "HUP")
    suite.wait_for(
        lambda: heartbeat(suite, "Radarr-Main")["stats"]["settings"]["SearchLimit"] == 1,
        "SearchLimit 1 after SIGHUP",
        timeout=90,
    )
    assert suite.pid(name) == pid

    # SIGTERM: a clean stop between two commands, exit status 0.
    suite.sup.stop(name)
    info = suite.sup.process(name)
    assert info["statename"] == "STOPPED" and info["exitstatus"] == 0
    assert "stopping on request" in suite.log(name)
    assert heartbeat(suite, "Radarr-Main")["status"] == "stopped"
    assert not [r for r in suite.query("SELECT * FROM searches WHERE status = 'sending'")]
