"""Benchmark of the web UI program: memory and instance-page latency with 20,000 torrents.

    python bench/webui.py [--torrents 20000] [--requests 1000] [--samples 200]

Starts a real supervisord in a temp data dir running ``qbarr-webui`` (gunicorn master + one
gthread worker), seeds the database with N torrents of one instance, then prints:

- RSS / PSS / USS of master + worker, idle (after start) and after 1,000 mixed requests;
- median and p95 latency of the instance page (first page sorted by name, a deep page,
  sorted by size, a name search) and of the same list through the JSON API.

Figures only; nothing is asserted. Everything started is stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import free_port  # noqa: E402
from tests.support import webui_seed as seedmod  # noqa: E402
from tests.support import webui_supervisord  # noqa: E402
from tests.support.webui_client import BEARER  # noqa: E402


def memory(pid: int) -> dict[str, float]:
    master = psutil.Process(pid)
    procs = [master, *master.children(recursive=True)]
    mib = 1024 * 1024
    out = {"processes": len(procs), "rss": 0.0, "pss": 0.0, "uss": 0.0}
    for proc in procs:
        info = proc.memory_full_info()
        out["rss"] += info.rss / mib
        out["pss"] += info.pss / mib
        out["uss"] += info.uss / mib
    return {k: round(v, 1) for k, v in out.items()}


def timed(client: httpx.Client, path: str, samples: int) -> dict[str, float]:
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "n": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--torrents", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qbw", dir="/tmp"))
    port = free_port()
    home = seedmod.make_home(root, port=port, instances=("Radarr-Main",))
    t0 = time.perf_counter()
    seedmod.seed(home, torrents=args.torrents)
    print(f"seeded {args.torrents} torrents in {time.perf_counter() - t0:.1f} s ({home.root})")
    suite = webui_supervisord.start(home, managers=(), webui=True)
    results: dict[str, object] = {"torrents": args.torrents}
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=BEARER, timeout=30)
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        pid = suite.processes()["webui"]["pid"]
        time.sleep(2)
        results["idle"] = memory(pid)
        mix = [
            "/instances/Radarr-Main",
            "/api/instances/Radarr-Main/torrents?page=7",
            "/api/programs",
            "/",
            "/journal",
            "/api/overview",
            "/programs",
            f"/torrents/{seedmod.thash(2)}",
            "/metrics",
            "/api/decisions?limit=100",
        ]
        t0 = time.perf_counter()
        for i in range(args.requests):
            client.get(mix[i % len(mix)]).raise_for_status()
        results["mixed_requests"] = {
            "n": args.requests,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        results["after_requests"] = memory(pid)
        last_page = -(-args.torrents // 50)
        pages = {
            "instance page 1, sort name": "/instances/Radarr-Main",
            f"instance page {last_page // 2}, sort name": (
                f"/instances/Radarr-Main?page={last_page // 2}"
            ),
            "instance page 1, sort size desc": "/instances/Radarr-Main?sort=size&order=desc",
            "instance search 'Movie.0199'": "/instances/Radarr-Main?q=Movie.0199",
            "instance rule=stalled": "/instances/Radarr-Main?rule=stalled",
            "API torrents page 1": "/api/instances/Radarr-Main/torrents",
        }
        results["latency"] = {
            label: timed(client, path, args.samples) for label, path in pages.items()
        }
        results["after_latency"] = memory(pid)
    finally:
        suite.stop()
    print(json.dumps(results, indent=2))
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "webui.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
