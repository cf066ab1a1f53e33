"""Two "hosts" sharing one PostgreSQL: each its own supervisord; kill one whole, the other
takes its instances over.

Each host is a network namespace (and a pid namespace: supervisord is its PID 1, as in the
Docker image) with its own data dir, joined to this one by a bridge (10.78.0.0/24). The
PostgreSQL cluster and the simulators listen on the bridge's address. Both hosts configure
the same two Radarr instances; host 1 starts first and holds both leases, host 2's managers
wait. Torrents complete before and after host 1 is killed (every process in its namespace,
SIGKILL: nothing is released). Host 2 takes both instances over within LeaseTimeout; every
completed torrent is imported exactly once by its Radarr.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.config import slugify
from qbarr.paths import Home
from qbarr.sim.arr.launch import start_sim
from tests.conftest import free_port
from tests.support.postgres import PgCluster
from tests.support.waiting import wait_for
from tests.system.conftest import TEST_PASSWORD, short_home
from tests.system.manager_helpers import (
    ARR_KEY,
    QBT_USER,
    Inst,
    manager_config,
    scans_by_hash,
    start_qbt_sim,
)
from tests.system.test_lease_takeover import completing

pytestmark = pytest.mark.system

BRIDGE, SUBNET, SERVER = "qbmh-br", "10.78.0", "10.78.0.1"
HOSTS = ("qbmh-h1", "qbmh-h2")
LEASE_TIMEOUT = 4.0
INSTANCES = [Inst("Radarr-One", "radarr-one"), Inst("Radarr-Two", "radarr-two")]


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=30)


def make_network() -> None:
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{SERVER}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    for n, ns in enumerate(HOSTS, start=2):
        ip("netns", "add", ns)
        ip("link", "add", f"qbmh{n}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", f"qbmh{n}", "master", BRIDGE)
        ip("link", "set", f"qbmh{n}", "up")
        ip("-n", ns, "addr", "add", f"{SUBNET}.{n}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")


def remove_network() -> None:
    for n, ns in enumerate(HOSTS, start=2):
        kill_host(ns)
        ip("link", "del", f"qbmh{n}", check=False)
        ip("netns", "del", ns, check=False)
    ip("link", "del", BRIDGE, check=False)


def host_pids(ns: str) -> list[int]:
    found = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def kill_host(ns: str) -> None:
    """The host dies whole: SIGKILL to every process in its network namespace."""
    for pid in host_pids(ns):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start_host(ns: str, home: Home, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "--pid", "--fork", "--kill-child"]
            + ["--mount-proc", sys.executable, "-m", "qbarr_programs.cli"]
            + ["--home", str(home.root), "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("SUPERVISOR_")},
        )


def leases(url: str) -> dict[str, str]:
    db = dbmod.connect(url)
    try:
        found = dbmod.rows(db, "SELECT name, holder FROM leases WHERE name LIKE 'arr-%'")
        return {r["name"]: r["holder"] for r in found}
    finally:
        db.close()


def test_killing_one_host_moves_its_instances_to_the_other(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs as root)")
    rnd = random.Random(7)
    with ExitStack() as stack:
        remove_network()
        make_network()
        stack.callback(remove_network)
        cluster = PgCluster.start(listen=SERVER, port=free_port(), trust=(f"{SUBNET}.0/24",))
        stack.callback(cluster.stop)
        cluster.create_database("hosts")
        url = cluster.url("hosts", SERVER)
        dbmod.open_migrated(url).close()
        qbt = start_qbt_sim(tmp_path, host=SERVER)
        stack.callback(qbt.stop)
        arrs = {}
        for inst in INSTANCES:
            arrs[inst.category] = start_sim(
                "radarr",
                api_key=ARR_KEY,
                qbt_url=qbt.url,
                qbt_username=QBT_USER,
                qbt_password=TEST_PASSWORD,
                category=inst.category,
                library=100,
                poll_interval=0.25,
                command_duration=0.1,
                log_dir=tmp_path,
                host=SERVER,
            )
            stack.callback(arrs[inst.category].stop)
            inst.url = arrs[inst.category].url
        settings = {"Database": url, "LeaseTimeout": f"{LEASE_TIMEOUT:g}s"}
        text = manager_config(qbt.url, INSTANCES, settings)
        homes = [short_home() for _ in HOSTS]
        for home in homes:
            home.root.mkdir(parents=True, exist_ok=True)
            home.config.write_text(text)
            stack.callback(shutil.rmtree, home.root, True)
        logs = [tmp_path / f"{ns}.log" for ns in HOSTS]

        def context() -> str:
            out = []
            for home, log in zip(homes, logs, strict=True):
                out.append(f"== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
                for p in sorted(home.logs.glob("arr-*.log")):
                    out.append(f"== {p}\n{p.read_text(errors='replace')[-3000:]}")
            return "\n".join(out)

        specs = {c: completing(rnd, 6, (1, 4)) for c in arrs}
        for cat, batch in specs.items():
            for s in batch:
                s["category"] = cat
            qbt.control("POST", "/sim/torrents", batch)
        start_host(HOSTS[0], homes[0], logs[0])
        held = wait_for(
            lambda: len(leases(url)) == 2 and leases(url),
            120,
            0.5,
            "host 1 holding both",
            context=context,
        )
        start_host(HOSTS[1], homes[1], logs[1])
        for inst in INSTANCES:  # host 2's managers are up and waiting
            program = f"arr-{slugify(inst.name)}"
            log = homes[1].logs / f"{program}.log"
            wait_for(
                lambda log=log: log.exists() and "waiting for its lease" in log.read_text(),
                120,
                0.5,
                f"host 2's {program} waiting",
                context=context,
            )
        for cat, batch in specs.items():
            wait_for(
                lambda cat=cat, batch=batch: all(
                    scans_by_hash(arrs[cat])[s["hash"]] == 1 for s in batch
                ),
                120,
                0.5,
                f"host 1 importing {cat}",
                context=context,
            )
        more = {c: completing(rnd, 6, (0.5, 5)) for c in arrs}
        for cat, batch in more.items():
            for s in batch:
                s["category"] = cat
            qbt.control("POST", "/sim/torrents", batch)
        kill_host(HOSTS[0])
        killed = time.monotonic()
        wait_for(
            lambda: all(leases(url).get(n) not in (None, h) for n, h in held.items()),
            LEASE_TIMEOUT * 10,
            0.1,
            "host 2 taking both instances over",
            context=context,
        )
        took = time.monotonic() - killed
        print(f"both instances on host 2 {took:.2f} s after host 1 died (LeaseTimeout 4 s)")
        for cat in arrs:
            batch = specs[cat] + more[cat]
            wait_for(
                lambda cat=cat, batch=batch: all(
                    scans_by_hash(arrs[cat])[s["hash"]] >= 1 for s in batch
                ),
                120,
                0.5,
                f"every {cat} torrent imported",
                context=context,
            )
            scans = scans_by_hash(arrs[cat])
            repeated = {s["hash"]: scans[s["hash"]] for s in batch if scans[s["hash"]] != 1}
            assert not repeated, f"imported more than once: {repeated}"
