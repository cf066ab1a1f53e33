"""Search automation cost: Arr API requests per hour and searches per hour.

    python bench/search.py [--kind radarr|sonarr] [--library 10000] [--wanted 1000]
                           [--hours 24] [--real-seconds 120] [--hourly N]

Two measurements against a simulator with ``--library`` items of which ``--wanted`` are
missing (no cutoff-unmet, so "wanted" is exact):

1. **Virtual day.** The real :class:`qbarr.search.runner.SearchRunner` with the default
   ``[[Search]]`` settings, a real SQLite journal and real HTTP to the simulator, but a
   clock that jumps by the sleep the runner asks for (no real waiting), so ``--hours``
   of program time take seconds. Every Arr API call is counted by the simulator
   (``/sim/state`` ``api_calls``), per hour of virtual time. Searches in the simulator
   take 0.05 s of real time and the bench lets 0.06 s pass after each step that sent one,
   so every search has finished before the next step (as real searches of seconds to a
   minute do within SearchDelay = 30 s); without that pause the compressed clock would
   make them look minutes long and inflate the command-list reads.
2. **Real time.** The ``qbarr-search`` program itself (default settings, a real clock)
   for ``--real-seconds``; its API calls are counted the same way and multiplied up to an
   hour. This checks the virtual-day figures for the first minutes of a start, which
   are the busiest (first crawl, searches every SearchDelay).

Prints tables; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from qbarr.arr import make_client
from qbarr.db import open_migrated, rows
from qbarr.search.runner import SearchRunner
from qbarr.search.settings import SearchSettings

BIN = Path(sys.executable).parent
SIM = str(BIN / "qbarr-sim-arr") if (BIN / "qbarr-sim-arr").exists() else "qbarr-sim-arr"
SEARCH = str(BIN / "qbarr-search") if (BIN / "qbarr-search").exists() else "qbarr-search"
KEY = "bench-key-0123456789"
HOUR = 3600.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sim:
    def __init__(self, kind: str, library: int, wanted: int, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            SIM,
            "--kind",
            kind,
            "--port",
            str(self.port),
            "--api-key",
            KEY,
            "--library",
            str(library),
            "--missing-fraction",
            f"{wanted / library:.6f}",
            "--cutoff-fraction",
            "0",
            "--search-duration",
            "0.05",
            "--grab-probability",
            "0",
        ]
        with open(workdir / f"sim-{kind}.out", "wb") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"simulator exited: see {workdir}/sim-{kind}.out")
            try:
                if httpx.get(f"{self.url}/sim/state", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("simulator did not start")

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/sim/state", timeout=10).json()

    def calls(self) -> dict[str, int]:
        return dict(self.state()["api_calls"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class VirtualClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def group_calls(calls: dict[str, int]) -> dict[str, int]:
    """Route counts -> wanted / queue / command GET / command POST / other."""
    out = {"wanted": 0, "queue": 0, "GET command": 0, "POST command": 0, "other": 0}
    for route, n in calls.items():
        if "wanted" in route:
            out["wanted"] += n
        elif "queue" in route:
            out["queue"] += n
        elif route.startswith("POST") and "command" in route:
            out["POST command"] += n
        elif "command" in route:
            out["GET command"] += n
        else:
            out["other"] += n
    return out


def virtual_day(
    kind: str, library: int, wanted: int, hours: int, hourly: int | None, workdir: Path
) -> None:
    sim = Sim(kind, library, wanted, workdir)
    try:
        settings = SearchSettings(kind=kind, enabled=True)
        if hourly is not None:
            settings = replace(settings, max_per_hour=hourly)
        db = open_migrated(workdir / f"virtual-{kind}-{hourly}.db")
        clock = VirtualClock()
        arr = make_client(kind, sim.url, KEY, timeout=30)
        runner = SearchRunner("Bench", settings, db, arr, clock=clock)
        start = clock.now
        print(
            f"\n## Virtual {hours} h, {kind}: {library} items, {wanted} wanted, default settings "
            f"(SearchLimit {settings.search_limit}, SearchDelay {settings.search_delay:g}s, "
            f"SearchCooldown {settings.search_cooldown:g}s, "
            f"MaxSearchesPerDay {settings.max_per_day}, "
            f"hourly cap {settings.hourly_cap or 'none'}, "
            f"wanted refresh {settings.wanted_refresh:g}s)\n"
        )
        print(
            "| hour | Arr API requests | wanted | queue | GET command | POST command | other "
            "| searches | items covered |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        totals = {"requests": 0, "searches": 0}
        steps, wall = 0, time.monotonic()
        for hour in range(hours):
            before = sim.calls()
            searches_before = _count(db, start + hour * HOUR)
            end = start + (hour + 1) * HOUR
            while clock.now < end:
                sent = runner.sent_total
                clock.now += runner.step()
                steps += 1
                if runner.sent_total != sent:
                    time.sleep(0.06)
            calls = group_calls(diff(sim.calls(), before))
            n_req = sum(calls.values())
            n_search, n_items = _count_between(db, start + hour * HOUR, end)
            totals["requests"] += n_req
            totals["searches"] += n_search
            print(
                f"| {hour + 1} | {n_req} | {calls['wanted']} | {calls['queue']} "
                f"| {calls['GET command']} | "
                f"{calls['POST command']} | {calls['other']} | {n_search} | {n_items} |"
            )
            del searches_before
        print(
            f"\nTotal over {hours} h: {totals['requests']} Arr API requests "
            f"({totals['requests'] / hours:.1f}/h on average), {totals['searches']} searches "
            f"({totals['searches'] / hours:.1f}/h on average); {steps} steps simulated in "
            f"{time.monotonic() - wall:.1f} s of real time."
        )
        arr.close()
    finally:
        sim.stop()


def _count(db: Any, since: float) -> int:
    return int(rows(db, "SELECT COUNT(*) AS n FROM searches WHERE at >= ?", (since,))[0]["n"])


def _count_between(db: Any, start: float, end: float) -> tuple[int, int]:
    found = rows(
        db,
        "SELECT result FROM searches WHERE at >= ? AND at < ? AND status != 'error'",
        (start, end),
    )
    import json

    items = sum(1 + len(json.loads(r["result"] or "{}").get("covers", [])) for r in found)
    return len(found), items


def real_run(kind: str, library: int, wanted: int, seconds: float, workdir: Path) -> None:
    sim = Sim(kind, library, wanted, workdir)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    name = (
        "Radarr-Bench"
        if kind == "radarr"
        else "Sonarr-Bench"
        if kind == "sonarr"
        else "Lidarr-Bench"
    )
    (home / "config.ini").write_text(
        f"[{name}]\nURL = {sim.url}\nAPIKey = {KEY}\nCategory = bench\n"
        "    [[Search]]\n    Enabled = true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBARR")}
    proc = None
    try:
        before = sim.calls()
        with open(workdir / "search.out", "wb") as out:
            proc = subprocess.Popen(
                [SEARCH, "--instance", name, "--home", str(home)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
            time.sleep(seconds)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        calls = group_calls(diff(sim.calls(), before))
        total = sum(calls.values())
        factor = HOUR / seconds
        searches = sum(
            1
            for c in httpx.get(f"{sim.url}/sim/commands", timeout=10).json()["commands"]
            if c["class"] == "search"
        )
        print(
            f"\n## Real time: qbarr-search for {seconds:g} s "
            f"({kind}, {library} items, {wanted} wanted, defaults)\n"
        )
        print(
            f"Arr API requests: {total} ({', '.join(f'{k} {v}' for k, v in calls.items() if v)}), "
            f"x{factor:.0f} = {total * factor:.0f}/h if the first {seconds:g} s repeated all hour "
            f"(an upper bound: the first crawl happens once per 15 min); searches: {searches} "
            f"(x{factor:.0f} = {searches * factor:.0f}/h before the hourly cap stops them)."
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", default="radarr", choices=("radarr", "sonarr", "lidarr"))
    p.add_argument("--library", type=int, default=10_000)
    p.add_argument("--wanted", type=int, default=1_000)
    p.add_argument("--hours", type=int, default=24)
    p.add_argument("--real-seconds", type=float, default=120.0)
    p.add_argument(
        "--hourly",
        type=int,
        default=None,
        help="MaxSearchesPerHour for the virtual run (default: the setting's default)",
    )
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="qbarr-bench-search-"))
    try:
        virtual_day(args.kind, args.library, args.wanted, args.hours, args.hourly, workdir)
        if args.real_seconds > 0:
            real_run(args.kind, args.library, args.wanted, args.real_seconds, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
