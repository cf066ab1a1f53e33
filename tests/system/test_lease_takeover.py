"""Two copies of one manager at once, on two "hosts": exactly one acts; SIGKILL it and the other
takes over within LeaseTimeout, with every completed torrent imported exactly once.

The two hosts are two data dirs (each its own ``run/`` with its own file locks, so the lock
file that stops a second copy on one machine does not see the other) sharing one database
file through a symlink; each copy runs with ``qbarr run-program`` as PID 1 of a pid namespace
of its own (``unshare``), as in a container: neither can tell whether the other's pid lives,
so a dead holder is replaced only once its lease expired.
The qBittorrent and Radarr simulators run as processes; torrents complete while the copies
run and while the holder is being replaced.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from qbarr import db as dbmod
from qbarr.paths import Home
from tests.support.waiting import wait_for
from tests.system.conftest import short_home
from tests.system.manager_helpers import Inst, manager_config, scans_by_hash, spec, world
from tests.system.test_run_program import stop

pytestmark = pytest.mark.system

INSTANCE, CATEGORY, PROGRAM = "Radarr-Main", "radarr", "arr-radarr-main"
LEASE_TIMEOUT = 3.0
MIB = 2**20


def completing(rnd: random.Random, count: int, seconds: tuple[float, float]) -> list[dict]:
    """Torrents that finish downloading within ``seconds`` (then Radarr must import each)."""
    specs = []
    for _ in range(count):
        h = f"{rnd.getrandbits(160):040x}"
        size = rnd.randint(64, 256) * MIB
        left = size * 0.6
        specs.append(
            spec(
                h,
                CATEGORY,
                "downloading",
                size=size,
                progress=0.4,
                dl_speed=int(left / rnd.uniform(*seconds)),
            )
        )
    return specs


HOLDS = f"{PROGRAM}: this copy holds the lease"


def lease_row(db_path: Path | str) -> dict | None:
    db = dbmod.connect(db_path)
    try:
        found = dbmod.rows(
            db, "SELECT holder, host, pid, fence FROM leases WHERE name = ?", (PROGRAM,)
        )
        return found[0] if found else None
    finally:
        db.close()


def unfinished(db_path: Path | str) -> list[dict]:
    db = dbmod.connect(db_path)
    try:
        return dbmod.rows(db, "SELECT id FROM actions WHERE status NOT IN ('done', 'skipped')")
    finally:
        db.close()


def start_contained(home: Home, log: Path) -> subprocess.Popen[bytes]:
    """``qbarr run-program`` as PID 1 of a new pid namespace (like a container's)."""
    out = log.open("wb")
    try:
        return subprocess.Popen(
            ["unshare", "--pid", "--kill-child", "--mount-proc", sys.executable, "-m"]
            + ["qbarr_programs.cli", "--home", str(home.root), "run-program", PROGRAM],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SUPERVISOR_")},
        )
    finally:
        out.close()


def contained(proc: subprocess.Popen[bytes]) -> psutil.Process:
    """The copy itself (the child of ``unshare``)."""
    return wait_for(
        lambda: next(iter(psutil.Process(proc.pid).children()), None), 30, 0.1, "the copy"
    )


def two_hosts(qbt_url: str, arr_url: str, database: str = "") -> tuple[Home, Home]:
    """Two data dirs sharing one database: a PostgreSQL URL, else one SQLite file (the
    second data dir's qbarr.db is a symlink to the first one's)."""
    a, b = short_home(), short_home()
    inst = Inst(INSTANCE, CATEGORY, url=arr_url)
    settings = {"LeaseTimeout": f"{LEASE_TIMEOUT:g}s"}
    if database:
        settings["Database"] = database
    text = manager_config(qbt_url, [inst], settings)
    for home in (a, b):
        home.root.mkdir(parents=True, exist_ok=True)
        home.config.write_text(text)
    if not database:
        dbmod.open_migrated(a.database).close()
        b.database.symlink_to(a.database)  # SQLite follows it: one database, its WAL beside it
    return a, b


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_one_copy_acts_and_the_other_takes_over_after_sigkill(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    rnd = random.Random(20261201)
    url = ""
    if engine == "postgresql":
        url = request.getfixturevalue("pg_cluster").create_database("takeover")
    with world(tmp_path, [CATEGORY]) as (qbt, arrs):
        arr = arrs[CATEGORY]
        a, b = two_hosts(qbt.url, arr.url, url)
        target = url or a.database
        dbmod.open_migrated(target).close()
        first = completing(rnd, 8, (1, 4))
        qbt.control("POST", "/sim/torrents", first)
        logs = {a: tmp_path / "host-a.log", b: tmp_path / "host-b.log"}
        procs = {a: start_contained(a, logs[a]), b: start_contained(b, logs[b])}
        try:

            def both_logs() -> str:
                return "\n".join(
                    f"== {p.name}\n{p.read_text(errors='replace')}" for p in logs.values()
                )

            def says(home: Home, text: str) -> bool:
                return text in logs[home].read_text(errors="replace")

            holder = wait_for(
                lambda: next((h for h in procs if says(h, HOLDS)), None),
                60,
                0.2,
                "a copy holding the lease",
                context=both_logs,
            )
            waiter = b if holder is a else a
            row = lease_row(target)
            assert row is not None and row["pid"] == 1  # PID 1 of its namespace
            wait_for(
                lambda: says(waiter, f"held by host {row['host']}, pid 1"),
                30,
                0.2,
                "the waiting copy naming the holder",
                context=both_logs,
            )
            hashes = [s["hash"] for s in first]
            wait_for(
                lambda: all(scans_by_hash(arr)[h] == 1 for h in hashes),
                90,
                0.5,
                "the first torrents imported",
                context=both_logs,
            )
            assert not says(waiter, HOLDS) and not says(waiter, ": done ")  # it did nothing

            second = completing(rnd, 8, (0.5, 6))
            qbt.control("POST", "/sim/torrents", second)
            hashes += [s["hash"] for s in second]
            wait_for(
                lambda: sum(scans_by_hash(arr)[h] for h in hashes) > len(first),
                60,
                0.1,
                "the holder importing the second batch",
                context=both_logs,
            )
            contained(procs[holder]).kill()  # SIGKILL mid-batch: no release, it must expire
            killed_at = time.monotonic()
            procs[holder].wait(timeout=30)
            wait_for(
                lambda: (lease_row(target) or {}).get("holder") != row["holder"],
                LEASE_TIMEOUT * 10,
                0.05,
                "the waiting copy taking over",
                context=both_logs,
            )
            takeover = time.monotonic() - killed_at
            print(f"takeover {takeover:.2f} s after SIGKILL (LeaseTimeout {LEASE_TIMEOUT:g} s)")
            assert lease_row(target)["fence"] == row["fence"] + 1
            wait_for(lambda: says(waiter, HOLDS), 30, 0.2, "the new holder saying so")
            wait_for(
                lambda: all(scans_by_hash(arr)[h] >= 1 for h in hashes),
                90,
                0.5,
                "every torrent imported after the takeover",
                context=both_logs,
            )
            wait_for(
                lambda: not unfinished(target),
                60,
                0.5,
                "every action finished",
                context=both_logs,
            )
            scans = scans_by_hash(arr)
            repeated = {h: scans[h] for h in hashes if scans[h] != 1}
            assert not repeated, f"imported more than once: {repeated}"
            for log in logs.values():  # every statement ran on this engine, nothing crashed
                assert "Traceback" not in log.read_text(errors="replace"), both_logs()
        finally:
            for proc in procs.values():
                stop(proc)
            for home in (a, b):
                shutil.rmtree(home.root, ignore_errors=True)
