"""sync/maindata cost: bytes and time of one full sync and one idle cycle.

    python bench/qbt_sync.py [--sizes 1000,20000] [--real 200] [--repeat 5] [--json-out FILE]

For each size the qBittorrent simulator runs as a real subprocess
(`qbarr-sim-qbittorrent --api 4`) with that many torrents:

- *idle*: a static mix (seeding, stalled, paused, errored: nothing transferring, no
  announce-driven counter refreshes), so a cycle with no changes is measured: the
  manager's normal case between events;
- *busy*: the default scenario mix (about 35 % downloading), one delta cycle after a
  refresh interval, i.e. what a cycle costs while thousands of torrents move.

Then a real qbittorrent-nox (qbarr.qbittorrent.nox, refresh_interval 100 ms so the
hash checks settle quickly) with `--real` small real torrents made from local data
(10 % seeding their data, 80 % without data, 10 % magnets; qBittorrent hash-checks one
torrent per second or so, which is what bounds the set-up time).

Every figure is measured through `qbarr.qbittorrent.QbtClient.sync()`: wall time of the
call (HTTP + JSON decode + snapshot merge), body bytes (decoded) and wire bytes (gzip,
as qBittorrent sends when the client accepts it). Medians of --repeat runs. Everything
started is stopped by pid in a finally.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.qbittorrent.nox import Nox  # noqa: E402
from qbarr.sim.qbittorrent import spawn  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.support.torrents import make_torrent, payload_dir  # noqa: E402

STATIC_MIX = {
    "complete": 0.6,
    "stalled": 0.2,
    "paused_complete": 0.1,
    "error": 0.05,
    "missing": 0.05,
}


def measure(url: str, user: str, password: str, repeat: int, wait: float) -> dict[str, Any]:
    """Full sync with a fresh client (repeat times), then delta cycles `wait` s apart."""
    full_t, full_b, full_w = [], [], []
    for _ in range(repeat):
        with QbtClient(url, user, password, timeout=120) as c:
            c.login()
            before = c.stats["bytes_in"]
            t0 = time.perf_counter()
            snap = c.sync()
            full_t.append(time.perf_counter() - t0)
            full_b.append(snap.last_bytes)
            full_w.append(c.stats["bytes_in"] - before)
            count = len(snap.torrents)
    idle_t, idle_b, idle_w, changed = [], [], [], []
    with QbtClient(url, user, password, timeout=120) as c:
        c.sync()
        for _ in range(repeat):
            time.sleep(wait)
            before = c.stats["bytes_in"]
            t0 = time.perf_counter()
            snap = c.sync()
            idle_t.append(time.perf_counter() - t0)
            idle_b.append(snap.last_bytes)
            idle_w.append(c.stats["bytes_in"] - before)
            changed.append(len(snap.changed))
    med = statistics.median
    return {
        "torrents": count,
        "full": {
            "ms": round(med(full_t) * 1000, 1),
            "body_bytes": int(med(full_b)),
            "wire_bytes": int(med(full_w)),
        },
        "cycle": {
            "ms": round(med(idle_t) * 1000, 2),
            "body_bytes": int(med(idle_b)),
            "wire_bytes": int(med(idle_w)),
            "changed_torrents": int(med(changed)),
        },
    }


def bench_sim(size: int, mix: dict[str, float] | None, repeat: int, workdir: Path) -> dict:
    scenario = {"torrents": size, "seed": 1, "categories": {"radarr": "/m", "sonarr": "/tv"}}
    if mix:
        scenario["mix"] = mix
    path = workdir / f"scenario-{size}-{'static' if mix else 'default'}.json"
    path.write_text(json.dumps(scenario))
    port = free_port()
    t0 = time.perf_counter()
    quiet = ["--counter-interval", "0"] if mix else []  # idle: no announce-driven refreshes
    sim = spawn(
        port,
        "--api",
        "4",
        "--scenario",
        str(path),
        "--refresh-ms",
        "1000",
        *quiet,
        timeout=300,
        log_path=str(workdir / f"sim-{port}.log"),
        env={"QBARR_SIM_QBT_PASSWORD": "bench"},
    )
    try:
        started = time.perf_counter() - t0
        result = measure(sim.url, "admin", "bench", repeat, wait=1.1)
        result["sim_start_s"] = round(started, 2)
        return result
    finally:
        sim.stop()


def bench_real(count: int, repeat: int, workdir: Path) -> dict:
    if shutil.which("qbittorrent-nox") is None:
        return {"skipped": "qbittorrent-nox is not installed"}
    data, gone = workdir / "real-data", workdir / "real-gone"
    torrents, magnets = [], []
    for i in range(count):
        if i % 10 == 9:  # 10 % magnets nobody serves (metaDL)
            magnets.append(f"magnet:?xt=urn:btih:{i:040x}&dn=Bench.Magnet.{i:04d}")
            continue
        root = data if i % 10 == 0 else gone  # 10 % seeds with their data, 80 % without
        torrents.append(
            make_torrent(payload_dir(root, f"Bench.Item.{i:04d}", [16_384], i), piece_length=16_384)
        )
    shutil.rmtree(gone)
    # refresh 100 ms: qBittorrent checks one torrent at a time and moves on at its status
    # refresh, so 100 seeds take ~100 x 1.5 s to settle with the default; an idle cycle
    # costs the same either way
    nox = Nox(workdir / "qbt-profile", "bench", "bench-pass", refresh_ms=100).start()
    url = nox.url
    try:
        with QbtClient(url, "bench", "bench-pass", timeout=60) as c:
            version = str(c.version())
            c.create_category("radarr", "")
            for i in range(0, len(torrents), 50):
                c.add(
                    torrent_files=[t.data for t in torrents[i : i + 50]],
                    category="radarr",
                    save_path=str(data),
                )
            c.add(urls=magnets, category="radarr", save_path=str(data))
            deadline = time.monotonic() + 180
            settled = ("stalledUP", "stalledDL", "metaDL")
            while time.monotonic() < deadline:
                states = [t["state"] for t in c.torrents_info()]
                if len(states) == count and all(s in settled for s in states):
                    break
                time.sleep(0.5)
            else:
                raise RuntimeError(f"torrents did not settle: {len(states)} present")
        time.sleep(2)  # let the last status refresh pass
        result = measure(url, "bench", "bench-pass", repeat, wait=1.6)
        result["version"] = version
        return result
    finally:
        nox.stop()


def row(label: str, r: dict) -> str:
    if "skipped" in r:
        return f"{label:<34} skipped: {r['skipped']}"
    f, c = r["full"], r["cycle"]
    return (
        f"{label:<34} {r['torrents']:>6}  full {f['ms']:>8.1f} ms {f['body_bytes']:>11,} B "
        f"({f['wire_bytes']:>10,} B gzip)   cycle {c['ms']:>6.2f} ms {c['body_bytes']:>9,} B "
        f"({c['wire_bytes']:>8,} B wire, {c['changed_torrents']} changed)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,20000")
    ap.add_argument(
        "--real", type=int, default=200, help="torrents on real qbittorrent-nox (0 = skip)"
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--busy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure a busy cycle with the default scenario mix",
    )
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qbt-sync-bench-") as tmp:
        work = Path(tmp)
        for size in (int(s) for s in args.sizes.split(",") if s):
            results[f"sim-{size}-idle"] = bench_sim(size, STATIC_MIX, args.repeat, work)
            print(row("simulator, idle mix", results[f"sim-{size}-idle"]), flush=True)
            if args.busy:
                results[f"sim-{size}-busy"] = bench_sim(size, None, args.repeat, work)
                print(row("simulator, default mix (busy)", results[f"sim-{size}-busy"]), flush=True)
        if args.real:
            results["real"] = bench_real(args.real, args.repeat, work)
            label = f"qbittorrent-nox {results['real'].get('version', '')}".strip()
            print(row(label[:34], results["real"]), flush=True)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
