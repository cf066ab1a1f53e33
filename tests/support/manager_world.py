"""One Arr manager's world inside the test process, for fast tests of the cycle.

The qBittorrent simulator and a Radarr simulator run on threads of the test process and answer
real HTTP on 127.0.0.1; config.ini and the SQLite database are real files in a temp dir. The
test drives the simulators (``add`` torrents, ``adopt`` them into the Arr queue) and reads what
the manager did where it shows: the Arr's commands and blocklist, the torrents left in
qBittorrent, the journal and the heartbeat. The manager's clock is a :class:`FakeClock`.

    with manager_world(tmp_path) as w:
        h = w.add(state="stalledUP")
        w.adopt()
        loop = w.loop()
        loop.cycle()
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qbarr import config as configmod
from qbarr import db as dbmod
from qbarr import heartbeat, runtime
from qbarr.arr import make_client
from qbarr.arrmanager import ArrManager
from qbarr.manager import TorrentLoop
from qbarr.paths import Home
from qbarr.qbittorrent import QbtClient
from qbarr.sim.arr.engine import SimArr, SimOptions
from qbarr.sim.arr.library import generate
from qbarr.sim.arr.server import InThread
from qbarr.sim.arr.server import serve_in_thread as serve_arr
from qbarr.sim.qbittorrent import SimConfig, SimServer, serve_in_thread

USER, PASSWORD = "admin", "world-pass-7c1e"
ARR_KEY = "world-arr-key-93d0b2"
INSTANCE, CATEGORY = "Radarr-Main", "radarr"


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
) -> str:
    """config.ini of one Radarr instance: the defaults plus what the test names."""
    lines = ["[Settings]", *(f"{k} = {v}" for k, v in (settings or {}).items())]
    lines += ["[qBittorrent]", f"URL = {qbt_url}", f"Username = {USER}", f"Password = {PASSWORD}"]
    lines += ["Timeout = 5s", "[WebUI]", "Token = world-token-5a8e21"]
    lines += [f"[{INSTANCE}]", f"URL = {arr_url}", f"APIKey = {ARR_KEY}", f"Category = {CATEGORY}"]
    lines += ["Timeout = 5s", "    [[Torrent]]"]
    lines += [f"    {k} = {v}" for k, v in (torrent or {}).items()]
    lines += ["        [[[SeedingMode]]]"]
    lines += [f"        {k} = {v}" for k, v in (seeding or {}).items()]
    return "\n".join(lines) + "\n"


@dataclass
class World:
    home: Home
    qbt: SimServer
    arr: InThread
    clock: FakeClock = field(default_factory=FakeClock)
    closing: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    reader: Any = None
    qbt_url: str = ""  # where config.ini says qBittorrent is ("" = the simulator)

    # -- config and database ---------------------------------------------------------------

    def write_config(self, **sections: Mapping[str, str]) -> configmod.Config:
        """Write config.ini (``settings=``, ``torrent=``, ``seeding=``) and load it."""
        qbt_url = self.qbt_url or self.qbt.url
        self.home.config.write_text(config_ini(qbt_url, self.arr.url, **sections))
        return configmod.load(self.home.config, env={})

    def db(self) -> Any:
        """A new connection to the world's database (closed when the world ends)."""
        db = dbmod.open_migrated(self.home.database)
        self.closing.callback(db.close)
        return db

    # -- the code under test -----------------------------------------------------------------

    def loop(self, **sections: Mapping[str, str]) -> TorrentLoop:
        """A TorrentLoop on this world, with its clients logged in and the fake clock."""
        cfg = self.write_config(**sections)
        qbt = QbtClient(self.qbt.url, USER, PASSWORD, timeout=5)
        self.closing.callback(qbt.close)
        arr = make_client("radarr", self.arr.url, ARR_KEY, timeout=5)
        self.closing.callback(arr.close)
        return TorrentLoop(cfg, cfg.instance(INSTANCE), self.db(), qbt, arr, clock=self.clock)

    def manager(self, **sections: Mapping[str, str]) -> ArrManager:
        """An ArrManager as the qbarr-arr program builds it (config loaded, not connected)."""
        self.write_config(**sections)
        label = "arr-radarr-main"
        ctx = runtime.Context(
            "qbarr-arr",
            label,
            self.home,
            runtime.Signals(),
            runtime.ScrubbingFormatter(label),
            logging.getLogger("qbarr-arr"),
        )
        manager = ArrManager(ctx, self.home, INSTANCE, self.db())
        self.closing.callback(manager.close)
        manager.heartbeat.started()
        manager.load_config()
        return manager

    # -- driving the simulators --------------------------------------------------------------

    def add(self, **spec: Any) -> str:
        """Add one torrent of this instance's category, added an hour ago; returns its hash."""
        body = {"category": CATEGORY, "added_ago": 3600, "size": 2**30, **spec}
        answer = httpx.post(self.qbt.url + "/sim/torrents", json=body, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["hashes"][0])

    def adopt(self) -> None:
        """The Arr reads qBittorrent now: torrents of its category enter its queue."""
        self.arr.sim.poll_once()

    # -- reading what happened ---------------------------------------------------------------

    def qbt_hashes(self) -> set[str]:
        with self.qbt.store.lock:
            return set(self.qbt.store.torrents)

    def commands(self, name: str) -> list[dict[str, Any]]:
        """The bodies of the commands the Arr received with this name, in order."""
        with self.arr.sim.commands.lock:
            found = sorted(self.arr.sim.commands.all.values(), key=lambda c: c.id)
            return [dict(c.body) for c in found if c.name == name]

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
            self.reader, "SELECT rule, inputs FROM decisions WHERE hash = ? ORDER BY id", (h,)
        )
        return [(r["rule"], json.loads(r["inputs"])["code"]) for r in found]


def qbt_sim(port: int = 0) -> SimServer:
    """The qBittorrent simulator on a thread, answering at once (no refresh lag)."""
    return serve_in_thread(SimConfig(username=USER, password=PASSWORD, refresh_ms=0, port=port))


def radarr_sim(qbt_url: str) -> InThread:
    """A Radarr simulator on a thread that reads the world's qBittorrent (polled on demand)."""
    options = SimOptions(
        kind="radarr", category=CATEGORY, qbt_url=qbt_url, qbt_username=USER, qbt_password=PASSWORD
    )
    qbt = QbtClient(qbt_url, USER, PASSWORD, timeout=5, user_agent="Radarr/qbarr-sim")
    sim = SimArr(generate("radarr", 20, missing_fraction=0.5, seed=1), options, qbt)
    return serve_arr(sim, ARR_KEY)


@contextlib.contextmanager
def manager_world(root: Path) -> Iterator[World]:
    """Start both simulators; stop them (and close every client and database) at exit."""
    with contextlib.ExitStack() as stack:
        qbt = qbt_sim()
        stack.callback(qbt.stop)
        arr = radarr_sim(qbt.url)
        stack.callback(arr.stop)
        world = World(Home(root), qbt, arr)
        stack.enter_context(world.closing)
        yield world
