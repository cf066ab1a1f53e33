"""Tracker look-ups per minute at 2,000 torrents (docs/rules.md "unregistered").

    python bench/trackers.py [--torrents 2000] [--warmup 60] [--window 180]

The whole suite (``qbarr run``, 2 Arr instances, default settings: TrackerChecksPerMinute 60)
against the qBittorrent simulator with ``--torrents`` torrents in the instances' categories;
after the warm-up, the ``torrents/trackers`` requests qbarr made over the window are counted
from the simulator's request log (each is one torrent's look-up), with every other request
for comparison. Nothing is asserted; everything started is stopped by pid.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run import PASSWORD, USER, spawn_qbt_sim, stop_everything  # noqa: E402
from qbarr.sim.arr.launch import start_sim  # noqa: E402
from tests.system.conftest import short_home, start_suite  # noqa: E402
from tests.system.manager_helpers import ARR_KEY, Inst, manager_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--torrents", type=int, default=2000)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=180.0)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="qbarr-trackers-"))
    cats = ["cat-0", "cat-1"]
    qbt = spawn_qbt_sim(
        workdir / "qbt.log", "--torrents", str(args.torrents), "--categories", ",".join(cats)
    )
    arrs, suite = [], None
    try:
        for i, kind in enumerate(("radarr", "sonarr")):
            arrs.append(
                start_sim(kind, api_key=ARR_KEY, category=f"elsewhere-{i}", log_dir=workdir)
            )
        instances = [
            Inst(f"{k.title()}-T{i}", cats[i], arrs[i].url, torrent={"StalledDelay": "0"})
            for i, k in enumerate(("radarr", "sonarr"))
        ]
        home = short_home()
        home.root.mkdir(parents=True, exist_ok=True)
        text = manager_config(qbt.url, instances, qbt_user=USER, qbt_password=PASSWORD)
        home.config.write_text(text.replace("LoopInterval = 0.5s", "LoopInterval = 2s"))
        suite = start_suite(home=home, arrs=[i.spec for i in instances])
        time.sleep(args.warmup)  # a benchmark's warm-up: nothing to wait on but time
        start = time.time()
        time.sleep(args.window)
        found = qbt.control("GET", f"/sim/requests?since={start}")["requests"]
        ours = Counter(r["path"] for r in found if str(r["agent"]).startswith("qbarr"))
        minutes = args.window / 60
        print(f"{args.torrents} torrents, 2 instances, {args.window:.0f} s window")
        for path, n in ours.most_common():
            print(f"  {path:<24} {n / minutes:8.1f} / min")
        looked = suite.query(
            "SELECT COUNT(*) AS n FROM qbt_torrents WHERE data LIKE '%qbarr_trackers%'"
        )[0]["n"]
        print(f"  torrents with a tracker look-up published: {looked}")
    finally:
        stop_everything(suite, arrs)
        qbt.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
