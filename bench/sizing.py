"""Memory per program and processes per setting, for docs/sizing.md.

    python bench/sizing.py [--torrents 2000] [--instances 2]

Starts the whole suite (``qbarr run``: supervisord, web UI, watchdog, one manager per
instance, a search program for the first instance, the notify program with one URL) against
the qBittorrent simulator loaded with ``--torrents`` torrents spread over the instances'
categories, waits until every manager decides and a few cycles have passed, then prints the
PSS of every process (psutil ``memory_full_info``; /proc/<pid>/smaps_rollup) and the count of
processes. Nothing is asserted; everything started is stopped by pid.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run import MIB, PASSWORD, USER, spawn_qbt_sim, stop_everything, suite_processes  # noqa: E402
from qbarr.sim.arr.launch import start_sim  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.system.conftest import short_home, start_suite  # noqa: E402
from tests.system.manager_helpers import ARR_KEY, Inst, manager_config, wait_cycles  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--torrents", type=int, default=2000)
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="qbarr-sizing-"))
    cats = [f"cat-{i}" for i in range(args.instances)]
    qbt = spawn_qbt_sim(
        workdir / "qbt.log",
        "--torrents",
        str(args.torrents),
        "--categories",
        ",".join(cats),
        "--refresh-ms",
        "500",
    )
    arrs, suite = [], None
    try:
        for i in range(len(cats)):
            kind = ("radarr", "sonarr")[i % 2]
            arrs.append(
                start_sim(kind, api_key=ARR_KEY, category=f"elsewhere-{i}", log_dir=workdir)
            )
        instances = [
            Inst(
                f"{('Radarr', 'Sonarr')[i % 2]}-S{i}",
                cat,
                arrs[i].url,
                search={"Enabled": "true"} if i == 0 else {},
            )
            for i, cat in enumerate(cats)
        ]
        home = short_home()
        home.root.mkdir(parents=True, exist_ok=True)
        text = manager_config(qbt.url, instances, qbt_user=USER, qbt_password=PASSWORD)
        text += f"[Notifications]\nURLs = json://127.0.0.1:{free_port()}/sizing\n"
        home.config.write_text(text)
        suite = start_suite(home=home, arrs=[i.spec for i in instances])
        suite.wait_running([*suite.expected_programs(), "notify", "search:search-radarr-s0"])
        for inst in instances:
            suite.wait_for(
                lambda n=inst.name: (suite.heartbeat(n) or {}).get("cycles", 0) > 0,
                f"{inst.name} deciding",
                timeout=180,
            )
            wait_cycles(suite, inst.name, 5)
            beat = suite.heartbeat(inst.name) or {}
            print(f"{inst.name}: {beat.get('status')} {beat.get('last_error') or ''}")
        rows = []
        for name, proc in suite_processes(suite):
            rows.append((name, proc.memory_full_info().pss / MIB))
        print(f"{args.instances} instances, {args.torrents} torrents (simulator)")
        print(f"{'process':<40} PSS MiB")
        for name, pss in rows:
            print(f"{name:<40} {pss:7.1f}")
        print(f"{'total (' + str(len(rows)) + ' processes)':<40} {sum(p for _, p in rows):7.1f}")
    finally:
        stop_everything(suite, arrs)
        qbt.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
