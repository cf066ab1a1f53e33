"""PSS and private memory of every process of the suite, against a real qbittorrent-nox.

    python bench/pss.py [--instances 2] [--warmup 60]

The memory part of ``bench/run.py``'s qbittorrent-nox scenario, in ~2 minutes: a fresh
qbittorrent-nox 4.5.2 loaded with the 2,000 torrents, the suite with ``--instances`` Arr
instances (default settings), ``--warmup`` seconds, then per process /proc/PID/smaps_rollup:
PSS, private dirty (what the process alone costs) and shared clean (mostly the Python
library's text, shared with every Python process on the machine, which is why PSS moves a
little with what else runs). Run it with the Python of the install to measure (a regular
``pip install .`` or the development venv): the suite's programs come from that install.
Nothing is asserted; everything started is stopped by pid.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.qbt_load import load  # noqa: E402
from bench.run import (  # noqa: E402
    MIB,
    PASSWORD,
    QUICK,
    USER,
    start_bench_suite,
    stop_everything,
    suite_processes,
)
from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.qbittorrent.nox import Nox  # noqa: E402


def rollup(pid: int) -> dict[str, float]:
    """/proc/PID/smaps_rollup in MiB."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024 / MIB
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--torrents", type=int, default=2000)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="qbarr-pss-"))
    nox = Nox(workdir / "profile", USER, PASSWORD).start()
    arrs: list = []
    suite = None
    try:
        with QbtClient(nox.url, USER, PASSWORD, timeout=60) as client:
            cats = [f"cat-{i}" for i in range(args.instances)]
            load(client, args.torrents, workdir, cats)
        plan = QUICK  # IgnoreYoungerThan 0: the library is seconds old
        suite = start_bench_suite(nox.url, args.instances, workdir, plan, arrs)
        time.sleep(args.warmup)
        print(f"{args.instances} instances, {args.torrents} torrents, {nox.version}, {sys.prefix}")
        print(f"{'process':28s} {'PSS':>6s} {'private':>8s} {'shared':>7s}  MiB")
        total = 0.0
        for name, proc in suite_processes(suite):
            r = rollup(proc.pid)
            total += r["Pss"]
            print(f"{name:28s} {r['Pss']:6.1f} {r['Private_Dirty']:8.1f} {r['Shared_Clean']:7.1f}")
        print(f"{'total PSS':28s} {total:6.1f}   load average {os.getloadavg()}")
    finally:
        stop_everything(suite, arrs)
        nox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
