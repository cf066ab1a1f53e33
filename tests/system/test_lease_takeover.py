"""Two copies of one manager at once, on two "hosts": exactly one acts; SIGKILL it and the other
takes over within LeaseTimeout, with every completed torrent imported exactly once.

The two hosts are two data dirs (each its own ``run/`` with its own file locks, so the lock
file that stops a second copy on one machine does not see the other) sharing one database
file through a symlink; each copy runs with ``qbarr run-program``, as under an orchestrator.
The qBittorrent and Radarr simulators run as processes; torrents complete while the copies
run and while the holder is being replaced.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.paths import Home
from tests.support.waiting import wait_for
from tests.system.conftest import short_home
from tests.system.manager_helpers import Inst, manager_config, scans_by_hash, spec, world
from tests.system.test_run_program import start, stop

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


def lease_row(db_path: Path) -> dict | None:
    db = dbmod.connect(db_path)
    try:
        found = dbmod.rows(db, "SELECT host, pid, fence FROM leases WHERE name = ?", (PROGRAM,))
        return found[0] if found else None
    finally:
        db.close()


def beat_pid(db_path: Path) -> int | None:
    db = dbmod.connect(db_path)
    try:
        found = dbmod.rows(db, "SELECT pid FROM instances WHERE name = ?", (INSTANCE,))
        return found[0]["pid"] if found else None
    finally:
        db.close()


def two_hosts(qbt_url: str, arr_url: str) -> tuple[Home, Home]:
    a, b = short_home(), short_home()
    inst = Inst(INSTANCE, CATEGORY, url=arr_url)
    text = manager_config(qbt_url, [inst], {"LeaseTimeout": f"{LEASE_TIMEOUT:g}s"})
    for home in (a, b):
        home.root.mkdir(parents=True, exist_ok=True)
        home.config.write_text(text)
    dbmod.open_migrated(a.database).close()
    b.database.symlink_to(a.database)  # SQLite follows it: one database, its WAL beside it
    return a, b


def test_one_copy_acts_and_the_other_takes_over_after_sigkill(tmp_path: Path) -> None:
    rnd = random.Random(20261201)
    with world(tmp_path, [CATEGORY]) as (qbt, arrs):
        arr = arrs[CATEGORY]
        a, b = two_hosts(qbt.url, arr.url)
        first = completing(rnd, 8, (1, 4))
        qbt.control("POST", "/sim/torrents", first)
        logs = {a: tmp_path / "host-a.log", b: tmp_path / "host-b.log"}
        procs = {a: start(a, PROGRAM, logs[a]), b: start(b, PROGRAM, logs[b])}
        try:

            def both_logs() -> str:
                return "\n".join(
                    f"== {p.name}\n{p.read_text(errors='replace')}" for p in logs.values()
                )

            row = wait_for(
                lambda: lease_row(a.database), 60, 0.2, "a lease holder", context=both_logs
            )
            holder = next(h for h, p in procs.items() if p.pid == row["pid"])
            waiter = b if holder is a else a
            wait_for(
                lambda: f"held by host {row['host']}, pid {row['pid']}" in logs[waiter].read_text(),
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
            assert beat_pid(a.database) == procs[holder].pid  # only the holder writes the row
            assert ": done " not in logs[waiter].read_text()  # the waiting copy did nothing

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
            procs[holder].kill()  # SIGKILL, mid-batch: no release, the lease must expire
            killed_at = time.monotonic()
            procs[holder].wait(timeout=30)
            took = wait_for(
                lambda: (lease_row(a.database) or {}).get("pid") == procs[waiter].pid,
                LEASE_TIMEOUT * 10,
                0.05,
                "the waiting copy taking over",
                context=both_logs,
            )
            assert took
            takeover = time.monotonic() - killed_at
            print(f"takeover {takeover:.2f} s after SIGKILL (LeaseTimeout {LEASE_TIMEOUT:g} s)")
            assert lease_row(a.database)["fence"] == row["fence"] + 1
            wait_for(
                lambda: all(scans_by_hash(arr)[h] >= 1 for h in hashes),
                90,
                0.5,
                "every torrent imported after the takeover",
                context=both_logs,
            )
            wait_for(
                lambda: beat_pid(a.database) == procs[waiter].pid, 30, 0.2, "the new holder's beat"
            )
            db = dbmod.connect(a.database)
            try:
                wait_for(
                    lambda: (
                        not dbmod.rows(
                            db,
                            "SELECT id FROM actions WHERE status NOT IN ('done', 'skipped')",
                        )
                    ),
                    60,
                    0.5,
                    "every action finished",
                    context=both_logs,
                )
            finally:
                db.close()
            scans = scans_by_hash(arr)
            repeated = {h: scans[h] for h in hashes if scans[h] != 1}
            assert not repeated, f"imported more than once: {repeated}"
        finally:
            for proc in procs.values():
                stop(proc)
            for home in (a, b):
                shutil.rmtree(home.root, ignore_errors=True)
