"""One Arr manager's world inside the test process, for fast tests of the cycle.

A qBittorrent simulator and a Radarr simulator run on threads of the test process and answer
real HTTP on 127.0.0.1; config.ini and the SQLite database are real files in ``root``. The
test drives the simulators and reads what the manager did where it shows: the Arr's commands
and blocklist, the torrents left in qBittorrent, the journal and the heartbeat.

Two ways to drive it:

- ``radarr_world(root)`` (live): the Arr simulator polls qBittorrent and runs its commands
  on its own threads; ``w.add(spec(h, "stalledDL"))`` adds torrents, ``w.wait_queued(h)``
  waits until the Arr lists one; faults through ``w.arr.faults`` / ``w.qbt.faults``.
- ``radarr_world(root, live=False)``: nothing moves unless the test says so, and the
  manager's clock is ``w.clock`` (a :class:`FakeClock`): ``h = w.torrent(state=...)``,
  ``w.adopt()`` (the Arr reads qBittorrent now), ``loop = w.loop(); loop.cycle()``.

``w.manager(settings=..., torrent=...)`` writes config.ini and gives the ArrManager of the
one instance (``INSTANCE``) as the qbarr-arr program builds it. Everything is stopped and
closed when the block ends.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qbarr import config as configmod
from qbarr import db as dbmod
from qbarr import heartbeat, runtime, store
from qbarr.arr import make_client
from qbarr.arrmanager import ArrManager
from qbarr.manager import TorrentLoop
from qbarr.paths import Home
from qbarr.qbittorrent import QbtClient
from qbarr.sim.arr.engine import SimArr, SimOptions
from qbarr.sim.arr.faults import Faults
from qbarr.sim.arr.library import generate
from qbarr.sim.arr.server import InThread
from qbarr.sim.arr.server import serve_in_thread as serve_arr
from qbarr.sim.qbittorrent import SimConfig, SimServer, serve_in_thread
from tests.support.waiting import wait_for

KEY = "arr-key-0123456789abcdef"
QBT_USER = "admin"
QBT_PASSWORD = "qbt-pass-0123"
INSTANCE, CATEGORY = "Radarr-Test", "radarr"
LIVE_SETTINGS = {"LoopInterval": "0.5s", "RetryBackoffMax": "1s", "QueueRefresh": "1s"}
"""[Settings] of a live world (short: the simulators run in real time)."""


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


class FakeClock:
    """Wall-clock seconds that only move when told (starts at the real time, so qBittorrent's
    ``added_on`` and the manager's ``now`` agree)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def config_ini(
    qbt_url: str,
    arr_url: str,
    settings: Mapping[str, str] | None = None,
    torrent: Mapping[str, str] | None = None,
    seeding: Mapping[str, str] | None = None,
    arr: Mapping[str, str] | None = None,
    search: Mapping[str, str] | None = None,
) -> str:
    """config.ini of the one Radarr instance: the defaults plus what the test names."""
    lines = ["[Settings]", *(f"{k} = {v}" for k, v in (settings or {}).items())]
    lines += ["[qBittorrent]", f"URL = {qbt_url}", f"Username = {QBT_USER}"]
    lines += [f"Password = {QBT_PASSWORD}", "Timeout = 5s", "[WebUI]", "Token = world-token-5a8e21"]
    lines += [f"[{INSTANCE}]", f"URL = {arr_url}", f"APIKey = {KEY}", f"Category = {CATEGORY}"]
    lines += [f"{k} = {v}" for k, v in {"Timeout": "5s", **(arr or {})}.items()]
    lines += ["    [[Torrent]]"]
    lines += [f"    {k} = {v}" for k, v in {"IgnoreYoungerThan": "0", **(torrent or {})}.items()]
    lines += ["        [[[SeedingMode]]]"]
    lines += [f"        {k} = {v}" for k, v in (seeding or {}).items()]
    if search is not None:
        lines += ["    [[Search]]", *(f"    {k} = {v}" for k, v in search.items())]
    return "\n".join(lines) + "\n"


def context(home: Home, label: str = "test") -> runtime.Context:
    """A program context without signal handlers or process title (tests run in pytest)."""
    formatter = runtime.ScrubbingFormatter(label)
    return runtime.Context(
        "qbarr-arr", label, home, runtime.Signals(), formatter, logging.getLogger("qbarr-arr")
    )


@dataclass
class World:
    home: Home
    qbt: SimServer
    arr: InThread
    base_settings: Mapping[str, str] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=FakeClock)
    closing: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    reader: Any = None
    config_qbt_url: str = ""  # where config.ini says qBittorrent is ("" = the simulator)

    @property
    def qbt_url(self) -> str:
        return self.qbt.url

    @property
    def arr_url(self) -> str:
        return self.arr.url

    # -- config and database ---------------------------------------------------------------

    def write_config(
        self, settings: Mapping[str, str] | None = None, **sections: Mapping[str, str]
    ) -> Home:
        """Write config.ini (``settings``, ``torrent``, ``seeding``, ``arr``, ``search``)."""
        text = config_ini(
            self.config_qbt_url or self.qbt.url,
            self.arr.url,
            {**self.base_settings, **(settings or {})},
            **sections,
        )
        self.home.root.mkdir(parents=True, exist_ok=True)
        self.home.config.write_text(text)
        return self.home

    def db(self) -> Any:
        """A new connection to the world's database (closed when the world ends)."""
        db = dbmod.open_migrated(store.location(self.home))  # the engine's (tests/conftest.py)
        self.closing.callback(db.close)
        return db

    # -- the code under test -----------------------------------------------------------------

    def loop(
        self, settings: Mapping[str, str] | None = None, **sections: Mapping[str, str]
    ) -> TorrentLoop:
        """A TorrentLoop on this world (config.ini as :meth:`write_config` writes it), with
        its clients logged in and the fake clock."""
        self.write_config(settings, **sections)
        cfg = configmod.load(self.home.config, env={})
        qbt = QbtClient(self.qbt.url, QBT_USER, QBT_PASSWORD, timeout=5)
        self.closing.callback(qbt.close)
        arr = make_client("radarr", self.arr.url, KEY, timeout=5)
        self.closing.callback(arr.close)
        return TorrentLoop(cfg, cfg.instance(INSTANCE), self.db(), qbt, arr, clock=self.clock)

    def manager(
        self, settings: Mapping[str, str] | None = None, **sections: Mapping[str, str]
    ) -> ArrManager:
        """An ArrManager as the qbarr-arr program builds it (config.ini as
        :meth:`write_config` writes it, loaded, not connected; closed when the world ends)."""
        self.write_config(settings, **sections)
        manager = ArrManager(context(self.home, "arr-radarr-test"), self.home, INSTANCE, self.db())
        self.closing.callback(manager.close)
        manager.heartbeat.started()
        manager.load_config()
        return manager

    # -- driving the simulators --------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """The qBittorrent simulator's /sim/ control API."""
        response = httpx.request(method, self.qbt.url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def add(self, *specs: dict[str, Any]) -> None:
        """Add torrents (see :func:`spec`); the Arr reads qBittorrent at once."""
        self.control("POST", "/sim/torrents", list(specs))
        self.adopt()

    def torrent(self, **fields: Any) -> str:
        """Add one torrent of the category, added an hour ago, named by the simulator; returns
        its hash. The Arr has not seen it yet (:meth:`adopt`)."""
        body = {"category": CATEGORY, "added_ago": 3600, "size": 2**30, **fields}
        return str(self.control("POST", "/sim/torrents", body)["hashes"][0])

    def adopt(self) -> None:
        """The Arr reads qBittorrent now: torrents of its category enter its queue."""
        self.arr.sim.poll_once()

    def queue_item(self, h: str) -> dict[str, Any] | None:
        return next((r for r in self.arr.sim.queue() if str(r["downloadId"]).lower() == h), None)

    def wait_queued(self, h: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            self.adopt()
            return self.queue_item(h)

        return wait_for(found, timeout=15, what=f"{h} in the Arr queue")

    # -- reading what happened ---------------------------------------------------------------

    def commands(self, name: str) -> list[Any]:
        """The commands the Arr received with this name, in order."""
        with self.arr.sim.commands.lock:
            found = sorted(self.arr.sim.commands.all.values(), key=lambda c: c.id)
            return [c for c in found if c.name == name]

    def bodies(self, name: str) -> list[dict[str, Any]]:
        """The bodies of :meth:`commands`."""
        return [dict(c.body) for c in self.commands(name)]

    def qbt_hashes(self) -> set[str]:
        with self.qbt.store.lock:
            return set(self.qbt.store.torrents)

    def blocklisted(self) -> list[str]:
        with self.arr.sim.lock:
            return [entry.download.hash for entry in self.arr.sim.blocklist]

    def name_of(self, h: str) -> str:
        with self.qbt.store.lock:
            return self.qbt.store.torrents[h].name

    def media_of(self, h: str) -> list[int]:
        with self.arr.sim.lock:
            return list(self.arr.sim.downloads[h].media_ids)

    def heartbeat(self) -> dict[str, Any]:
        """The instance's heartbeat row (``stats`` decoded)."""
        if self.reader is None:
            self.reader = self.db()
        return next(r for r in heartbeat.read_all(self.reader) if r["name"] == INSTANCE)

    def decisions(self, h: str) -> list[tuple[str, str]]:
        """(rule, code) of every journaled decision of a torrent, oldest first."""
        if self.reader is None:
            self.reader = self.db()
        found = dbmod.rows(
            self.reader, "SELECT rule, code FROM decisions WHERE hash = ? ORDER BY id", (h,)
        )
        return [(r["rule"], r["code"]) for r in found]


def qbt_sim(port: int = 0, refresh_ms: int = 0) -> SimServer:
    """The qBittorrent simulator on a thread (``refresh_ms`` 0: it answers with no lag)."""
    config = SimConfig(username=QBT_USER, password=QBT_PASSWORD, refresh_ms=refresh_ms, port=port)
    return serve_in_thread(config)


@contextlib.contextmanager
def radarr_world(root: Path, live: bool = True, **arr_options: Any) -> Iterator[World]:
    """Start both simulators (see the module docstring for ``live``); stop them, and close
    every client, manager and database, at exit. ``arr_options``: SimOptions fields."""
    with contextlib.ExitStack() as stack:
        qbt = qbt_sim(refresh_ms=50 if live else 0)
        stack.callback(qbt.stop)
        quick = {"command_duration": 0.05, "search_duration": 0.05, "grab_probability": 0.0}
        options = SimOptions(
            kind="radarr",
            category=CATEGORY,
            qbt_url=qbt.url,
            qbt_username=QBT_USER,
            qbt_password=QBT_PASSWORD,
            **({**quick, "poll_interval": 0.1} if live else {}),
            **arr_options,
        )
        client = QbtClient(
            qbt.url, QBT_USER, QBT_PASSWORD, timeout=10, user_agent="Radarr/qbarr-sim"
        )
        library = generate("radarr", 200, 0.1, 0.05, 1) if live else generate("radarr", 20, 0.5)
        arr = serve_arr(SimArr(library, options, client), KEY, Faults(seed=options.seed))
        stack.callback(arr.stop)
        if live:
            arr.sim.start()
        world = World(Home(root), qbt, arr, LIVE_SETTINGS if live else {})
        stack.enter_context(world.closing)
        yield world
