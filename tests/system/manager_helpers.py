"""Helpers of the manager's system tests: simulators, config.ini with nested sections, reads.

The manager tests run the real suite (``qbarr run`` = supervisord, see conftest.py) against a
qBittorrent simulator (or a real qbittorrent-nox) and one Arr simulator per instance, all
started by the test on free ports and stopped by pid in ``finally``.
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbarr.sim.arr.launch import SimProcess as ArrSim
from qbarr.sim.arr.launch import start_sim
from qbarr.sim.qbittorrent import SimProcess as QbtSim
from qbarr.sim.qbittorrent import spawn
from tests.conftest import free_port
from tests.system.conftest import TEST_PASSWORD, ArrSpec, Suite, config_text, short_home

QBT_USER = "admin"
ARR_KEY = "arr-key-0123456789abcdef"


@dataclass
class Inst:
    """One Arr section: its name, category, Arr simulator URL and nested settings."""

    name: str
    category: str
    url: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # directly in [Name]
    torrent: dict[str, str] = field(default_factory=dict)  # [[Torrent]]
    seeding: dict[str, str] = field(default_factory=dict)  # [[[SeedingMode]]]
    search: dict[str, str] = field(default_factory=dict)  # [[Search]]
    timeout: str = "5s"  # the Arr client's Timeout

    def section(self) -> str:
        lines = [
            f"[{self.name}]",
            f"URL = {self.url}",
            f"APIKey = {ARR_KEY}",
            f"Category = {self.category}",
            f"Timeout = {self.timeout}",
            *(f"{k} = {v}" for k, v in self.keys.items()),
        ]
        if self.torrent or self.seeding:
            lines.append("    [[Torrent]]")
            lines += [f"    {k} = {v}" for k, v in self.torrent.items()]
        if self.seeding:
            lines.append("        [[[SeedingMode]]]")
            lines += [f"        {k} = {v}" for k, v in self.seeding.items()]
        if self.search:
            lines.append("    [[Search]]")
            lines += [f"    {k} = {v}" for k, v in self.search.items()]
        return "\n".join(lines) + "\n"

    @property
    def spec(self) -> ArrSpec:
        return ArrSpec(self.name, self.category, url=self.url, api_key=ARR_KEY)


def manager_config(
    qbt_url: str,
    instances: list[Inst],
    settings: dict[str, str] | None = None,
    qbt_user: str = QBT_USER,
    qbt_password: str = TEST_PASSWORD,
) -> str:
    """config.ini text: the test suite's [Settings]/[qBittorrent]/[WebUI] plus these sections."""
    base = config_text([], settings=settings, qbt_url=qbt_url, qbt_password=qbt_password)
    base = base.replace(f"Username = {QBT_USER}\n", f"Username = {qbt_user}\n")
    base = base.replace(
        "Timeout = 2s", "Timeout = 10s"
    )  # a busy 2-core machine: no spurious timeouts
    return base + "".join(i.section() for i in instances)


def start_qbt_sim(workdir: Path, *args: str, host: str = "127.0.0.1") -> QbtSim:
    """The qBittorrent simulator as a real process (fast refresh, empty, TEST_PASSWORD),
    listening on ``host`` (another address only for a network a test made)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return spawn(
        free_port(),
        "--username",
        QBT_USER,
        "--refresh-ms",
        "100",
        "--torrents",
        "0",
        *args,
        host=host,
        log_path=str(workdir / "qbt-sim.log"),
        env={"QBARR_SIM_QBT_PASSWORD": TEST_PASSWORD},
    )


def start_arr_sim(
    qbt_url: str,
    category: str,
    workdir: Path,
    qbt_user: str = QBT_USER,
    qbt_password: str = TEST_PASSWORD,
    **kw: Any,
) -> ArrSim:
    """A Radarr simulator reading ``category`` from qBittorrent."""
    options: dict[str, Any] = {
        "library": 200,
        "missing_fraction": 0.5,
        "search_duration": 0.2,
        "command_duration": 0.1,
        "grab_probability": 1.0,
        "poll_interval": 0.25,
    }
    options.update(kw)
    return start_sim(
        "radarr",
        api_key=ARR_KEY,
        qbt_url=qbt_url,
        qbt_username=qbt_user,
        qbt_password=qbt_password,
        category=category,
        log_dir=workdir,
        **options,
    )


@contextmanager
def world(
    workdir: Path,
    categories: list[str],
    qbt_args: tuple[str, ...] = (),
    arr_options: dict[str, dict[str, Any]] | None = None,
) -> Iterator[tuple[QbtSim, dict[str, ArrSim]]]:
    """A qBittorrent simulator and one Radarr simulator per category; all stopped at exit."""
    with ExitStack() as stack:
        qbt = start_qbt_sim(workdir, *qbt_args)
        stack.callback(qbt.stop)
        arrs = {}
        for cat in categories:
            arrs[cat] = start_arr_sim(qbt.url, cat, workdir, **(arr_options or {}).get(cat, {}))
            stack.callback(arrs[cat].stop)
        yield qbt, arrs


def start_manager_suite(
    suite_factory: Callable[..., Suite],
    qbt_url: str,
    instances: list[Inst],
    settings: dict[str, str] | None = None,
    **credentials: str,
) -> Suite:
    """Write config.ini into a fresh short data dir and start the suite (everything RUNNING)."""
    home = short_home()
    home.root.mkdir(parents=True, exist_ok=True)
    home.config.write_text(manager_config(qbt_url, instances, settings, **credentials))
    return suite_factory(home=home, arrs=[i.spec for i in instances])


# -- reading the simulators and the database ------------------------------------------------


def commands(arr: ArrSim, name: str | None = None) -> list[dict[str, Any]]:
    found = arr.control("GET", "/sim/commands" + (f"?name={name}" if name else ""))["commands"]
    return list(found)


def scans_by_hash(arr: ArrSim) -> Counter[str]:
    """DownloadedMoviesScan commands per downloadClientId (lower-case hash)."""
    return Counter(
        str(c["body"].get("downloadClientId", "")).lower()
        for c in commands(arr, "DownloadedMoviesScan")
    )


def blocklist_by_hash(arr: ArrSim) -> Counter[str]:
    return Counter(str(e["hash"]).lower() for e in arr.control("GET", "/sim/blocklist"))


def torrent_fields(qbt: QbtSim, h: str) -> dict[str, Any] | None:
    """The simulator's rendered torrent fields, or None when it is gone."""
    try:
        return dict(qbt.control("GET", f"/sim/torrents/{h}")["fields"])
    except OSError as exc:  # urllib's HTTPError 404 is an OSError
        if getattr(exc, "code", None) == 404:
            return None
        raise


def sim_hashes(qbt: QbtSim) -> set[str]:
    """Every torrent hash the simulator has (through its WebUI API, as a client sees it)."""
    from qbarr.qbittorrent import QbtClient

    with QbtClient(qbt.url, QBT_USER, TEST_PASSWORD, timeout=10) as client:
        client.login()
        return {str(t["hash"]).lower() for t in client.torrents_info()}


def actions(
    suite: Suite, instance: str, where: str = "1", params: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    return suite.query(
        f"SELECT * FROM actions WHERE instance = ? AND ({where}) ORDER BY id", (instance, *params)
    )


def decisions(suite: Suite, instance: str, h: str) -> list[dict[str, Any]]:
    return suite.query(
        "SELECT * FROM decisions WHERE instance = ? AND hash = ? ORDER BY id", (instance, h)
    )


def cycles(suite: Suite, instance: str) -> int:
    beat = suite.heartbeat(instance)
    return int(beat["cycles"]) if beat else 0


def wait_cycles(suite: Suite, instance: str, n: int, timeout: float = 60.0) -> None:
    """Wait until the manager has finished ``n`` more cycles (a restart resets the counter:
    also fine)."""
    start = cycles(suite, instance)
    pid = (suite.heartbeat(instance) or {}).get("pid")

    def done() -> bool:
        beat = suite.heartbeat(instance) or {}
        return beat.get("pid") != pid or int(beat.get("cycles") or 0) >= start + n

    suite.wait_for(done, f"{n} more cycles of {instance}", timeout=timeout)


def spec(h: str, category: str, state: str, **kw: Any) -> dict[str, Any]:
    """A /sim/torrents spec of a torrent added long ago (not young), with a readable name."""
    base = {
        "hash": h,
        "category": category,
        "state": state,
        "added_ago": 3600,
        "name": f"Movie.{h[:6]}.2020.1080p",
        "size": 2 * 2**30,
    }
    return {**base, **kw}


# -- SIGKILLs at moments picked from the suite's state --------------------------------------


def count_actions(suite: Suite, where: str, params: tuple[Any, ...] = ()) -> int:
    """Journaled actions (of every instance) that match ``where``."""
    return int(suite.query(f"SELECT COUNT(*) AS n FROM actions WHERE {where}", params)[0]["n"])


def unfinished(suite: Suite) -> int:
    return count_actions(suite, "status NOT IN ('done', 'skipped')")


class Killer:
    """Seeded SIGKILLs of a suite's programs, each at a moment picked from the suite's state,
    never after a delay (supervisord restarts the program every time):

    - ``starting``: a manager while it starts (before startsecs made it RUNNING), at once
      (before it opened the database) or at its first heartbeat; a copy found RUNNING
      already is killed first, to catch the next one starting;
    - ``busy``: while the journal shows actions planned or being sent (or after 8 quiet
      cycles);
    - ``random``: after a random number of actions done or of cycles, whichever comes first.

    ``watch`` maps each program to the instance whose heartbeat counts the cycles (a
    manager: its own). ``hits`` says what each kill hit, ``pids`` the processes killed."""

    def __init__(self, rnd: random.Random, watch: dict[str, str]) -> None:
        self.rnd = rnd
        self.watch = watch
        self.last: dict[str, int] = {}  # program -> pid killed last
        self.hits: list[str] = []
        self.pids: list[int] = []

    def kill(self, suite: Suite, program: str, mode: str | None = None) -> None:
        rnd = self.rnd
        manager = program.startswith("arr:")
        mode = mode or rnd.choice(["random", "busy"] + (["starting"] if manager else []))
        if self.hits and self.hits[-1].startswith(f"{program} starting"):
            mode = "random"  # more kills at start in a row would make supervisord give up
        if mode == "starting":
            info = self._starting(suite, program)
        else:
            info = suite.wait_state(program, "RUNNING", not_pid=self.last.get(program), timeout=120)
            self._wait_moment(suite, program, mode)
        self._kill(suite, program, info, mode)

    def _starting(self, suite: Suite, program: str) -> dict[str, Any]:
        for _ in range(2):

            def up() -> dict[str, Any] | None:
                now = suite.states().get(program, {})
                new = now.get("pid") and now["pid"] != self.last.get(program)
                return now if new and now["statename"] in ("STARTING", "RUNNING") else None

            info = suite.wait_for(up, f"{program} starting", timeout=90, poll=0.01)
            if info["statename"] == "STARTING":
                break
            self._kill(suite, program, info, "running")  # to catch the next copy starting
        if self.rnd.random() < 0.5:  # else at once, before it opened the database
            instance = self.watch[program]
            suite.wait_for(
                lambda: (suite.heartbeat(instance) or {}).get("pid") == info["pid"],
                "the new manager's first heartbeat",
                timeout=30,
                poll=0.01,
            )
        return info

    def _wait_moment(self, suite: Suite, program: str, mode: str) -> None:
        instance = self.watch[program]
        pid = int((suite.heartbeat(instance) or {}).get("pid") or 0)

        def cycles() -> int:
            beat = suite.heartbeat(instance) or {}
            return int(beat.get("cycles") or 0) if beat.get("pid") == pid else 0

        def in_flight() -> int:
            return count_actions(suite, "status IN ('planned', 'sending')")

        def done() -> int:
            return count_actions(suite, "status = 'done'")

        if mode == "busy":
            quiet = cycles() + 8

            def moment() -> bool:
                return in_flight() > 0 or cycles() >= quiet

        else:
            actions, quiet = done() + self.rnd.randint(1, 8), cycles() + self.rnd.randint(1, 5)

            def moment() -> bool:
                return done() >= actions or cycles() >= quiet

        suite.wait_for(moment, f"a {mode} moment to kill {program}", timeout=90, poll=0.01)

    def _kill(self, suite: Suite, program: str, info: dict[str, Any], mode: str) -> None:
        busy = suite.query(
            "SELECT status, COUNT(*) AS n FROM actions "
            "WHERE status IN ('planned', 'sending') GROUP BY status"
        )
        os.kill(int(info["pid"]), signal.SIGKILL)
        self.last[program] = int(info["pid"])
        self.pids.append(int(info["pid"]))
        self.hits.append(
            f"{program} {mode}:" + (",".join(f"{r['status']}={r['n']}" for r in busy) or "idle")
        )
        print(f"SIGKILL {self.hits[-1]}", flush=True)  # shown with -s, or when the test fails
