"""A qBittorrent simulator and a Radarr simulator in this process, on real HTTP (fast tests).

    with radarr_world() as w:
        w.add(spec("ab" * 20, "stalledDL"))          # a torrent in qBittorrent
        item = w.wait_queued("ab" * 20)              # the Arr lists it in its queue
        ... QbtClient(w.qbt_url, QBT_USER, QBT_PASSWORD) ... make_client("radarr", w.arr_url, KEY)
        w.arr.faults.update({"outage": 2}); w.qbt.faults.update({...})

Both are stopped when the block ends. ``write_config`` + ``manager`` give an ArrManager of
one instance on them, stepped by the test.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from qbarr import runtime
from qbarr.arrmanager import ArrManager
from qbarr.db import open_migrated
from qbarr.paths import Home
from qbarr.sim.arr.engine import SimOptions
from qbarr.sim.arr.launch import serve_in_thread as serve_arr
from qbarr.sim.arr.server import InThread
from qbarr.sim.qbittorrent import SimConfig, SimServer, serve_in_thread
from tests.support.waiting import wait_for

KEY = "arr-key-0123456789abcdef"
QBT_USER = "admin"
QBT_PASSWORD = "qbt-pass-0123"
CATEGORY = "radarr"


def spec(h: str, state: str, **kw: Any) -> dict[str, Any]:
    """A /sim/torrents spec of a torrent in the Arr's category, added an hour ago."""
    return {
        "hash": h,
        "category": CATEGORY,
        "state": state,
        "added_ago": 3600,
        "name": f"Movie.{h[:6]}.2020.1080p",
        "size": 2**30,
        **kw,
    }


@dataclass
class World:
    qbt: SimServer
    arr: InThread

    @property
    def qbt_url(self) -> str:
        return self.qbt.url

    @property
    def arr_url(self) -> str:
        return self.arr.url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """The qBittorrent simulator's /sim/ control API."""
        response = httpx.request(method, self.qbt.url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def add(self, *specs: dict[str, Any]) -> None:
        self.control("POST", "/sim/torrents", list(specs))
        self.arr.sim.poll_once()

    def queue_item(self, h: str) -> dict[str, Any] | None:
        return next((r for r in self.arr.sim.queue() if str(r["downloadId"]).lower() == h), None)

    def wait_queued(self, h: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            self.arr.sim.poll_once()
            return self.queue_item(h)

        return wait_for(found, timeout=15, what=f"{h} in the Arr queue")

    def commands(self, name: str) -> list[Any]:
        with self.arr.sim.commands.lock:
            return [c for c in self.arr.sim.commands.all.values() if c.name == name]


@contextlib.contextmanager
def radarr_world(**arr_options: Any) -> Iterator[World]:
    qbt = serve_in_thread(SimConfig(username=QBT_USER, password=QBT_PASSWORD, refresh_ms=50))
    try:
        options = SimOptions(
            "radarr",
            CATEGORY,
            qbt_url=qbt.url,
            qbt_username=QBT_USER,
            command_duration=0.05,
            search_duration=0.05,
            grab_probability=0.0,
            poll_interval=0.1,
            **arr_options,
        )
        arr = serve_arr(options, KEY, qbt_password=QBT_PASSWORD)
        try:
            yield World(qbt, arr)
        finally:
            arr.stop()
    finally:
        qbt.stop()


def write_config(
    root: Path,
    w: World,
    settings: dict[str, str] | None = None,
    torrent: dict[str, str] | None = None,
    arr: dict[str, str] | None = None,
    search: dict[str, str] | None = None,
) -> Home:
    """A data dir with a config.ini for one manager ``Radarr-Test`` of ``w``."""
    base = {"LoopInterval": "0.5s", "RetryBackoffMax": "1s", "QueueRefresh": "1s"}
    lines = ["[Settings]", *(f"{k} = {v}" for k, v in {**base, **(settings or {})}.items())]
    lines += [
        "[qBittorrent]",
        f"URL = {w.qbt_url}",
        f"Username = {QBT_USER}",
        f"Password = {QBT_PASSWORD}",
        "Timeout = 5s",
        "[Radarr-Test]",
        f"URL = {w.arr_url}",
        f"APIKey = {KEY}",
        f"Category = {CATEGORY}",
        *(f"{k} = {v}" for k, v in {"Timeout": "5s", **(arr or {})}.items()),
        "    [[Torrent]]",
        *(f"    {k} = {v}" for k, v in {"IgnoreYoungerThan": "0", **(torrent or {})}.items()),
    ]
    if search is not None:
        lines += ["    [[Search]]", *(f"    {k} = {v}" for k, v in search.items())]
    root.mkdir(parents=True, exist_ok=True)
    home = Home(root)
    home.config.write_text("\n".join(lines) + "\n")
    return home


def context(home: Home) -> runtime.Context:
    """A program context without signal handlers or process title (tests run in pytest)."""
    formatter = runtime.ScrubbingFormatter("test")
    return runtime.Context(
        "test", "test", home, runtime.Signals(), formatter, logging.getLogger("test")
    )


def manager(home: Home) -> ArrManager:
    """An ArrManager of ``Radarr-Test`` on ``home`` (call .step(); .close() at the end)."""
    m = ArrManager(context(home), home, "Radarr-Test", open_migrated(home.database))
    m.heartbeat.started()
    m.load_config()
    return m
