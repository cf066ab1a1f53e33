"""What each WebUI call costs a real qbittorrent-nox: CPU time per call, by call.

    python bench/qbt_cost.py [--torrents 2000] [--calls 20]

Starts a qbittorrent-nox (qbarr.qbittorrent.nox), loads it with the library of
bench/qbt_load.py (70 % seeding, 20 % stalled, 10 % paused), lets it settle, measures its
idle CPU, then makes each call back to back and prints qbittorrent-nox's CPU time per call
(psutil, user + system of its process) and the wall time the client waited. These are the
figures the reader's strategy (qbarr.reader.plan) and the simulator's ``--serialize-us``
(150 us per torrent) are based on; docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.qbt_load import PASSWORD, USER, load  # noqa: E402
from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.qbittorrent.nox import Nox  # noqa: E402


def per_call(proc: psutil.Process, fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(CPU ms of qbittorrent-nox per call, wall ms per call)."""
    fn()

    def cpu() -> float:
        t = proc.cpu_times()
        return t.user + t.system

    c0, t0 = cpu(), time.perf_counter()
    for _ in range(calls):
        fn()
    return 1000 * (cpu() - c0) / calls, 1000 * (time.perf_counter() - t0) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torrents", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="qbt-cost-"))
    nox = Nox(workdir / "profile", USER, PASSWORD).start()
    try:
        with QbtClient(nox.url, USER, PASSWORD, timeout=120) as c:
            states = load(c, args.torrents, workdir, ["radarr", "sonarr"])
            proc = psutil.Process(nox.pid)
            time.sleep(30)  # resume data written, nothing left to do
            t = proc.cpu_times()
            c0, t0 = t.user + t.system, time.monotonic()
            time.sleep(20)
            t = proc.cpu_times()
            idle = 100 * (t.user + t.system - c0) / (time.monotonic() - t0)
            print(f"{nox.version}, {states}; idle {idle:.2f} % of a core")
            one = next(iter(c.sync().torrents))
            n = args.calls
            cases: list[tuple[str, Callable[[], Any], int]] = [
                ("sync/maindata?rid=N (nothing changed)", c.sync, n),
                ("sync/maindata?rid=0 (everything)", lambda: c.maindata(0), n),
                ("torrents/info (everything)", c.torrents_info, n),
                (
                    "torrents/info?filter=downloading",
                    lambda: c.torrents_info(filter="downloading"),
                    n,
                ),
                (
                    "torrents/info?filter=active (none)",
                    lambda: c.torrents_info(filter="active"),
                    5 * n,
                ),
                (
                    "torrents/info?filter=errored (none)",
                    lambda: c.torrents_info(filter="errored"),
                    5 * n,
                ),
                (
                    "torrents/info?category=failed (none)",
                    lambda: c.torrents_info(category="failed"),
                    5 * n,
                ),
                ("torrents/info?hashes=<one>", lambda: c.torrents_info(hashes=[one]), 5 * n),
                ("transfer/info", c.transfer_info, 5 * n),
            ]
            for label, fn, calls in cases:
                cpu, wall = per_call(proc, fn, calls)
                print(f"  {label:<42} {cpu:8.2f} ms CPU/call {wall:8.2f} ms wall")
    finally:
        nox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
