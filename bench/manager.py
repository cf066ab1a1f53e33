"""Benchmark of one Arr manager (``qbarr-arr``) against the simulators with 1,000 and
10,000 torrents.

    python bench/manager.py [--quick] [--sizes 1000,10000] [--cycles 20] [--complete 100]
                            [--loop 2s] [--warmup-max 600] [--out bench/results/manager.json]
                            [--postgresql]

For each size: a qBittorrent simulator with N torrents in the ``radarr`` category (seeded mix:
90 % seeding, 5 % downloading, 3 % stalled, 2 % paused; added over the last week) and a Radarr
simulator that adopts them all, then ``qbarr-arr`` itself (a real process, default settings but
``LoopInterval``). Phases:

1. **warm-up**: the first start imports every complete torrent (one DownloadedMoviesScan each)
   and fetches the file lists of the downloads (25 per cycle); it ends when no action is
   pending and a cycle makes one qBittorrent call (the sync) for 3 cycles in a row;
2. **idle**: the simulator's clock is frozen (nothing changes in qBittorrent): ``--cycles``
   cycles; CPU seconds of the manager (psutil user+system) scaled to 100 cycles, cycle time
   median / p95 (the heartbeat's ``cycle_s``), bytes read from qBittorrent per cycle (client
   ``bytes_in`` delta / cycles, and the sync answer's size ``sync_bytes``);
3. **live**: the same with the clock running (downloads progress, so every sync carries changes);
4. **completion -> scan**: ``--complete`` downloads are made complete through ``/sim/torrents``
   in small batches at random moments (seeded); the delay of each is the time from the control
   call's return to the moment the manager marked its import done (right after the Arr answered
   the POST), cross-checked with the Radarr simulator's ``queued`` time (1 s resolution).

RSS / PSS of the manager are read at the end of the idle and live phases. Prints a table and
writes JSON. Figures only; nothing is asserted. Everything started is stopped by pid.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qbarr.db import connect, rows  # noqa: E402
from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.sim.arr.launch import start_sim  # noqa: E402
from qbarr.sim.qbittorrent import spawn  # noqa: E402
from qbarr.units import parse_duration  # noqa: E402
from tests.conftest import free_port  # noqa: E402

BIN = Path(sys.executable).parent
ARR = str(BIN / "qbarr-arr") if (BIN / "qbarr-arr").exists() else "qbarr-arr"
USER, PASSWORD, KEY = "admin", "bench-pass-0123", "bench-key-0123456789"
INSTANCE = "Radarr-Bench"
MIX = {"complete": 0.90, "downloading": 0.05, "stalled": 0.03, "paused": 0.02}
MIB = 1024 * 1024


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def wait(predicate: Callable[[], Any], what: str, timeout: float, poll: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")


class Run:
    """One size: the simulators, the manager and the database, all started here."""

    def __init__(self, size: int, loop: float, workdir: Path) -> None:
        self.size, self.loop, self.workdir = size, loop, workdir
        self.qbt: Any = None
        self.arr: Any = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.db: Any = None

    # -- start / stop --------------------------------------------------------------------

    def start(self) -> dict[str, float]:
        t0 = time.monotonic()
        self.qbt = spawn(
            free_port(),
            "--username",
            USER,
            "--torrents",
            "0",
            log_path=str(self.workdir / "qbt.log"),
            env={"QBARR_SIM_QBT_PASSWORD": PASSWORD},
            timeout=120,
        )
        self.qbt.control(
            "POST",
            "/sim/scenario",
            {
                "torrents": self.size,
                "seed": 7,
                "categories": {"radarr": ""},
                "mix": MIX,
                "added_within": 7 * 86400,
            },
        )
        self.arr = start_sim(
            "radarr",
            api_key=KEY,
            qbt_url=self.qbt.url,
            qbt_username=USER,
            qbt_password=PASSWORD,
            category="radarr",
            library=int(self.size * 1.2) + 100,
            missing_fraction=0.95,
            poll_interval=2.0,
            command_duration=0.05,
            search_duration=0.5,
            grab_probability=0.0,
            log_dir=self.workdir,
            ready_timeout=120,
        )
        self.arr.control("POST", "/sim/poll")
        sims = time.monotonic() - t0
        home = self.workdir / "home"
        home.mkdir()
        database = f"Database = {DATABASE_URL}\n" if DATABASE_URL else ""
        (home / "config.ini").write_text(
            f"[Settings]\nLoopInterval = {self.loop}\n{database}"
            f"[qBittorrent]\nURL = {self.qbt.url}\nUsername = {USER}\n"
            f"Password = {PASSWORD}\nTimeout = 60s\n[WebUI]\nToken = bench-token-abcdefgh\n"
            f"[{INSTANCE}]\nURL = {self.arr.url}\nAPIKey = {KEY}\n"
            "Category = radarr\nTimeout = 60s\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("QBARR")}
        with open(self.workdir / "arr.log", "wb") as out:
            self.proc = subprocess.Popen(
                [ARR, "--instance", INSTANCE, "--home", str(home)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        t1 = time.monotonic()
        self.db_path: Path | str = DATABASE_URL or home / "qbarr.db"
        wait(
            lambda: self.db_exists() and self.beat().get("cycles", 0) >= 1,
            "the first cycle",
            600,
        )
        return {
            "simulators_s": round(sims, 1),
            "first_cycle_s": round(time.monotonic() - t1, 2),
            "first_cycle_time_s": self.beat().get("cycle_s"),
        }

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for sim in (self.arr, self.qbt):
            if sim is not None:
                try:
                    sim.stop()
                except Exception as exc:  # noqa: BLE001 - keep stopping the others
                    print(f"stopping a simulator: {exc}", file=sys.stderr)

    # -- reads ------------------------------------------------------------------------------

    def db_exists(self) -> bool:
        if isinstance(self.db_path, str):  # PostgreSQL: once the manager made the schema
            return bool(
                self.query("SELECT to_regclass('instances') IS NOT NULL AS made")[0]["made"]
            )
        return self.db_path.exists()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        if self.db is None:
            self.db = connect(self.db_path)
        return rows(self.db, sql, params)

    def beat(self) -> dict[str, Any]:
        found = (
            self.query(
                "SELECT cycles, cycle_s, stats, status, last_error FROM instances WHERE name = ?",
                (INSTANCE,),
            )
            if self.db_exists()
            else []
        )
        if not found:
            return {}
        beat = dict(found[0])
        beat["stats"] = json.loads(beat["stats"] or "{}")
        return beat

    def pending(self) -> int:
        return int(
            self.query("SELECT COUNT(*) AS n FROM actions WHERE status IN ('planned', 'sending')")[
                0
            ]["n"]
        )

    @property
    def ps(self) -> psutil.Process:
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def memory(self) -> dict[str, float]:
        info = self.ps.memory_full_info()
        return {
            "rss_mib": round(info.rss / MIB, 1),
            "pss_mib": round(getattr(info, "pss", 0) / MIB, 1),
            "uss_mib": round(info.uss / MIB, 1),
        }

    # -- phases -----------------------------------------------------------------------------

    def samples(self, cycles: int, timeout: float) -> dict[str, Any]:
        """Watch ``cycles`` heartbeats: cycle_s, qBittorrent bytes and calls, CPU."""
        first = wait(lambda: self.beat() or None, "a heartbeat", 60)
        start_cycles, cpu0 = first["cycles"], self.cpu()
        qbt0 = first["stats"].get("api", {}).get("qbittorrent", {})
        seen: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            beat = self.beat()
            if beat.get("cycles", 0) > start_cycles and beat["cycles"] not in seen:
                seen[beat["cycles"]] = beat
            if beat.get("cycles", 0) >= start_cycles + cycles:
                break
            time.sleep(min(0.1, self.loop / 8))
        cpu1 = self.cpu()
        last = self.beat()
        n = last["cycles"] - start_cycles
        qbt1 = last["stats"].get("api", {}).get("qbittorrent", {})
        if n <= 0:
            raise TimeoutError("no cycle finished")
        cycle_s = [b["cycle_s"] for b in seen.values() if b.get("cycle_s") is not None]
        sync = [b["stats"].get("sync_bytes", 0) for b in seen.values()]
        refreshed = [bool(b["stats"].get("queue_refreshed")) for b in seen.values()]
        return {
            "cycles": n,
            "cpu_s_per_100_cycles": round((cpu1 - cpu0) / n * 100, 2),
            "cycle_s_median": round(statistics.median(cycle_s), 4) if cycle_s else None,
            "cycle_s_p95": round(pct(cycle_s, 0.95) or 0, 4),
            "cycle_s_samples": len(cycle_s),
            "qbt_bytes_in_per_cycle": round(
                (qbt1.get("bytes_in", 0) - qbt0.get("bytes_in", 0)) / n
            ),
            "qbt_calls_per_cycle": round((qbt1.get("calls", 0) - qbt0.get("calls", 0)) / n, 2),
            "sync_bytes_median": statistics.median(sync) if sync else None,
            "queue_refreshed_share": round(sum(refreshed) / len(refreshed), 2)
            if refreshed
            else None,
            **self.memory(),
        }

    def warm_up(self, limit: float) -> dict[str, Any]:
        """Until nothing is pending and 3 cycles in a row make one qBittorrent call (the sync)."""
        t0 = time.monotonic()
        quiet, last, prev_calls = 0, -1, None
        while time.monotonic() - t0 < limit and quiet < 3:
            beat = self.beat()
            if beat.get("cycles", -1) != last:
                calls = beat["stats"].get("api", {}).get("qbittorrent", {}).get("calls", 0)
                if prev_calls is not None and calls - prev_calls <= 1 and self.pending() == 0:
                    quiet += 1
                else:
                    quiet = 0
                last, prev_calls = beat["cycles"], calls
            time.sleep(0.2)
        imports = self.query(
            "SELECT COUNT(*) AS n FROM actions WHERE kind = 'import' AND status = 'done'"
        )[0]["n"]
        return {
            "warmup_s": round(time.monotonic() - t0, 1),
            "warmup_settled": quiet >= 3,
            "imports_sent_in_warmup": imports,
            "cycles_in_warmup": self.beat().get("cycles"),
        }

    def completion_delays(self, count: int, rnd: random.Random, timeout: float) -> dict[str, Any]:
        with QbtClient(self.qbt.url, USER, PASSWORD, timeout=60) as client:
            client.login()
            downloads = [
                t["hash"]
                for t in client.torrents_info(category="radarr")
                if t.get("state") in ("downloading", "stalledDL", "pausedDL")
                and t.get("amount_left", 0) > 0
            ]
        chosen = rnd.sample(sorted(downloads), min(count, len(downloads)))
        completed_at: dict[str, float] = {}
        i = 0
        while i < len(chosen):
            batch = chosen[i : i + rnd.randint(1, 5)]
            self.qbt.control(
                "POST", "/sim/torrents", [{"hash": h, "state": "stalledUP"} for h in batch]
            )
            now = time.time()
            completed_at.update({h: now for h in batch})
            i += len(batch)
            time.sleep(rnd.uniform(0.05, 0.8))
        keys = [f"import:{h}" for h in chosen]
        marks = ",".join("?" * len(keys))

        def all_done() -> list[dict[str, Any]] | None:
            found = self.query(
                f"SELECT hash, updated_at FROM actions WHERE status = 'done' AND key IN ({marks})",
                tuple(keys),
            )
            return found if len(found) == len(keys) else None

        done = wait(all_done, f"{len(keys)} imports", timeout)
        delays = [r["updated_at"] - completed_at[r["hash"]] for r in done]
        queued = {}
        for c in self.arr.control("GET", "/sim/commands?name=DownloadedMoviesScan")["commands"]:
            h = str(c["body"].get("downloadClientId", "")).lower()
            if h in completed_at:
                at = (
                    dt.datetime.strptime(c["queued"], "%Y-%m-%dT%H:%M:%SZ")
                    .replace(tzinfo=dt.UTC)
                    .timestamp()
                )
                queued[h] = at - completed_at[h]
        sim = list(queued.values())
        return {
            "completed": len(chosen),
            "delay_s_median": round(statistics.median(delays), 3),
            "delay_s_p95": round(pct(delays, 0.95) or 0, 3),
            "delay_s_max": round(max(delays), 3),
            "arr_queued_delay_s_median_1s_resolution": round(statistics.median(sim), 1)
            if sim
            else None,
            "scans_per_torrent_max": max(_count(self.arr, h) for h in chosen)
            if len(chosen) <= 300
            else None,
        }


def _count(arr: Any, h: str) -> int:
    commands = arr.control("GET", "/sim/commands?name=DownloadedMoviesScan")["commands"]
    return sum(1 for c in commands if str(c["body"].get("downloadClientId", "")).lower() == h)


DATABASE_URL = ""  # --postgresql: the manager's database (else qbarr.db in its data dir)


def bench_size(size: int, args: argparse.Namespace, rnd: random.Random) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"qbm{size}-", dir="/tmp"))
    run = Run(size, args.loop, workdir)
    result: dict[str, Any] = {"torrents": size, "loop_interval_s": args.loop}
    try:
        print(f"[{size}] starting simulators and the manager ...", flush=True)
        result["start"] = run.start()
        print(
            f"[{size}] first cycle after {result['start']['first_cycle_s']} s; warming up ...",
            flush=True,
        )
        result["warmup"] = run.warm_up(args.warmup_max)
        print(f"[{size}] warm-up: {result['warmup']}", flush=True)
        run.qbt.control("POST", "/sim/clock", {"time_scale": 0.0})
        run.samples(2, 120)  # let a cycle pass with the frozen clock before measuring
        result["idle"] = run.samples(args.cycles, args.cycles * (args.loop + 30))
        print(f"[{size}] idle: {result['idle']}", flush=True)
        run.qbt.control("POST", "/sim/clock", {"time_scale": 1.0})
        result["live"] = run.samples(args.cycles, args.cycles * (args.loop + 30))
        print(f"[{size}] live: {result['live']}", flush=True)
        result["completion"] = run.completion_delays(args.complete, rnd, 300)
        print(f"[{size}] completion -> scan: {result['completion']}", flush=True)
        beat = run.beat()
        result["final_status"] = {
            "status": beat.get("status"),
            "last_error": beat.get("last_error"),
        }
    finally:
        run.stop()
        if run.db is not None:
            run.db.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def table(results: list[dict[str, Any]]) -> str:
    rows_ = [
        ("first cycle (full sync, decide, journal), s", lambda r: r["start"]["first_cycle_time_s"]),
        (
            "warm-up (imports sent / seconds)",
            lambda r: f"{r['warmup']['imports_sent_in_warmup']} / {r['warmup']['warmup_s']}",
        ),
        ("idle: CPU s per 100 cycles", lambda r: r["idle"]["cpu_s_per_100_cycles"]),
        (
            "idle: cycle time median / p95, s",
            lambda r: f"{r['idle']['cycle_s_median']} / {r['idle']['cycle_s_p95']}",
        ),
        (
            "idle: bytes from qBittorrent per cycle (wire)",
            lambda r: r["idle"]["qbt_bytes_in_per_cycle"],
        ),
        ("idle: sync answer, bytes (median)", lambda r: r["idle"]["sync_bytes_median"]),
        ("idle: qBittorrent calls per cycle", lambda r: r["idle"]["qbt_calls_per_cycle"]),
        ("live: CPU s per 100 cycles", lambda r: r["live"]["cpu_s_per_100_cycles"]),
        (
            "live: cycle time median / p95, s",
            lambda r: f"{r['live']['cycle_s_median']} / {r['live']['cycle_s_p95']}",
        ),
        (
            "live: bytes from qBittorrent per cycle (wire)",
            lambda r: r["live"]["qbt_bytes_in_per_cycle"],
        ),
        ("live: sync answer, bytes (median)", lambda r: r["live"]["sync_bytes_median"]),
        ("live: cycles that re-read the Arr queue", lambda r: r["live"]["queue_refreshed_share"]),
        (
            "RSS / PSS / USS MiB (end of live)",
            lambda r: f"{r['live']['rss_mib']} / {r['live']['pss_mib']} / {r['live']['uss_mib']}",
        ),
        (
            "completion -> scan median / p95 / max, s",
            lambda r: (
                f"{r['completion']['delay_s_median']} / {r['completion']['delay_s_p95']} / "
                f"{r['completion']['delay_s_max']}"
            ),
        ),
    ]
    width = max(len(name) for name, _ in rows_)
    lines = [f"{'':<{width}}  " + "  ".join(f"{r['torrents']:>18,}" for r in results)]
    for name, fn in rows_:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{str(fn(r)):>18}" for r in results))
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="1,000 torrents only, 10 cycles, 40 completions, 1s loop",
    )
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--cycles", type=int, default=20, help="cycles measured per phase")
    p.add_argument(
        "--complete", type=int, default=100, help="downloads made complete for the delay figure"
    )
    p.add_argument("--loop", default="2s", help="LoopInterval (default 2s, qbarr's default)")
    p.add_argument(
        "--warmup-max", type=float, default=600.0, help="give up warming up after this many seconds"
    )
    p.add_argument(
        "--postgresql",
        action="store_true",
        help="the manager's database in a throwaway PostgreSQL cluster (Debian's postgresql)",
    )
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--keep", action="store_true", help="keep the work dirs (logs, database)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "manager.json")
    args = p.parse_args()
    if args.quick:
        args.sizes, args.cycles, args.complete, args.loop = "1000", 10, 40, "1s"
        if args.out == REPO / "bench" / "results" / "manager.json":
            args.out = REPO / "bench" / "results" / "manager-quick.json"
    args.loop = parse_duration(args.loop)
    rnd = random.Random(args.seed)
    started = time.monotonic()
    cluster = None
    if args.postgresql:
        global DATABASE_URL
        from tests.support.postgres import PgCluster

        cluster = PgCluster.start()
    try:
        results = []
        for n in (n for n in args.sizes.split(",") if n.strip()):
            if cluster is not None:
                DATABASE_URL = cluster.create_database(f"bench{n}")
            results.append(bench_size(int(n), args, rnd))
    finally:
        if cluster is not None:
            cluster.stop()
    print()
    print(table(results))
    out = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "mix": MIX,
        "database": "postgresql" if args.postgresql else "sqlite",
        "cycles_per_phase": args.cycles,
        "wall_s": round(time.monotonic() - started, 1),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten to {args.out} ({out['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
