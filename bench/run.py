"""The benchmark runner: the suite against the simulators at scale, one table of figures.

    python bench/run.py [--quick] [--json PATH]

Prints one table and writes JSON (default ``bench/results/latest.json``) with:

- ``pss_total_mb_1`` / ``pss_total_mb_4`` (and RSS): memory of every qbarr program
  (supervisord, webui master + worker, watchdog, managers) with 1 and 4 Arr instances, each
  connected to a simulator (psutil ``memory_full_info``: PSS from smaps_rollup). The
  simulators themselves are not counted.
- ``restart_s_median``: SIGKILL of a manager -> supervisord logs it RUNNING again (from
  supervisord's log timestamps; no XML-RPC polling during the wait).
- ``stop_s``: SIGTERM to supervisord -> every program stopped.
- ``import_delay_s_median`` / ``_p95``: from the moment qBittorrent (the simulator) reports a
  torrent complete to the moment the manager's Downloaded*Scan command was accepted by the
  Arr (the journal's ``done`` time of the ``import:<hash>`` action), over N completions,
  default settings (LoopInterval 2 s).
- ``idle_cpu_s_per_hour_2000`` / ``_20000``: CPU seconds (user + system) of one manager per
  hour with 2,000 / 20,000 seeding torrents and nothing to do, measured over a window after
  the first cycles and scaled to an hour (default settings: LoopInterval 2 s, QueueRefresh 60 s).
- ``idle_cycle_bytes``: bytes read from qBittorrent per idle cycle (the client's wire-byte
  counter over the window divided by the cycles), with 2,000 torrents.
- ``db_writes_per_s`` / ``db_lock_errors``: 10 writer processes doing short ``BEGIN
  IMMEDIATE`` upsert transactions on one database file for a few seconds.
- ``db_year_*``: qbarr.db after a simulated year of churn at 2,000 torrents, before and after
  retention: size, the manager's ``load_memory``, process start -> first cycle, idle cycle
  time (``bench/db_year.py``; ``--quick`` churns 20 torrents a day instead of 100).
- ``machine`` and ``git_rev``.

``--quick`` shortens every window (under 2 minutes in all; CI runs it and prints the figures,
nothing is asserted). Everything started here is stopped by pid before the script ends.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import db_year  # noqa: E402
from bench.foundation import kill_to_running  # noqa: E402
from qbarr import db as dbmod  # noqa: E402
from qbarr.sim.arr.launch import SimProcess as ArrSim  # noqa: E402
from qbarr.sim.arr.launch import start_sim  # noqa: E402
from qbarr.sim.qbittorrent.server import SimProcess as QbtSim  # noqa: E402
from qbarr.sim.qbittorrent.server import spawn  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.system.conftest import ArrSpec, Suite, short_home, start_suite  # noqa: E402

MIB = 1024 * 1024
KEY = "bench-key-0123456789"
QBT_USER, QBT_PASS = "admin", "bench-pass"
DEFAULTS = {"LoopInterval": "2s", "QueueRefresh": "60s", "HeartbeatTimeout": "120s"}
FULL = {
    "restarts": 5,
    "completions": 200,
    "idle_window": 120.0,
    "write_seconds": 10.0,
    "churn": 100,
    "year_cycles": 15,
}
QUICK = {
    "restarts": 3,
    "completions": 40,
    "idle_window": 12.0,
    "write_seconds": 3.0,
    "churn": 20,
    "year_cycles": 5,
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
        if ordered
        else float("nan")
    )


# -- simulators -------------------------------------------------------------------------------


def start_qbt(*args: str, log: Path) -> QbtSim:
    return spawn(
        free_port(), "--username", QBT_USER, "--password", QBT_PASS, *args, log_path=str(log)
    )


def start_arr(kind: str, qbt: QbtSim, category: str, workdir: Path, **kw: Any) -> ArrSim:
    return start_sim(
        kind,
        api_key=KEY,
        qbt_url=qbt.url,
        qbt_username=QBT_USER,
        qbt_password=QBT_PASS,
        category=category,
        log_dir=workdir,
        **kw,
    )


# -- memory, restart, stop -------------------------------------------------------------------


def suite_memory(suite: Suite) -> dict[str, float]:
    """RSS/PSS (MiB) of supervisord and every program of the suite (and their children)."""
    totals = {"rss": 0.0, "pss": 0.0}
    per: dict[str, float] = {}
    procs = [("supervisord", suite.supervisord)]
    for name, info in suite.states().items():
        if info["pid"]:
            proc = psutil.Process(info["pid"])
            procs.append((name, proc))
            procs += [(f"{name} (child)", child) for child in proc.children(recursive=True)]
    for name, proc in procs:
        mem = proc.memory_full_info()
        totals["rss"] += mem.rss / MIB
        totals["pss"] += mem.pss / MIB
        per[name] = per.get(name, 0.0) + mem.pss / MIB
    return {**totals, **{f"pss:{k}": round(v, 1) for k, v in per.items()}}


def arr_specs(count: int, qbt: QbtSim, workdir: Path) -> tuple[list[ArrSpec], list[ArrSim]]:
    kinds = ["radarr", "sonarr", "lidarr", "radarr"]
    specs, sims = [], []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        sim = start_arr(kind, qbt, f"{kind}-{i}", workdir, library=200)
        sims.append(sim)
        specs.append(ArrSpec(f"{kind.title()}-B{i}", f"{kind}-{i}", url=sim.url, api_key=KEY))
    return specs, sims


def memory_run(count: int, workdir: Path, restarts: int = 0) -> dict[str, Any]:
    """Memory with ``count`` instances; with restarts > 0 also SIGKILL -> RUNNING and
    SIGTERM -> stopped."""
    cats = ",".join(
        f"{k}-{i}" for i, k in enumerate(["radarr", "sonarr", "lidarr", "radarr"][:count])
    )
    qbt = start_qbt(
        "--torrents",
        "200",
        "--seed",
        "3",
        "--categories",
        cats,
        log=workdir / f"qbt-mem{count}.log",
    )
    sims: list[ArrSim] = []
    suite = None
    try:
        specs, sims = arr_specs(count, qbt, workdir)
        suite = start_suite(arrs=specs, qbt_url=qbt.url, qbt_password=QBT_PASS, settings=DEFAULTS)
        suite.wait_for(
            lambda: all((suite.heartbeat(s.name) or {}).get("cycles", 0) >= 2 for s in specs),
            "two cycles of every manager",
            timeout=90,
        )
        time.sleep(4)
        result: dict[str, Any] = {"memory": suite_memory(suite)}
        if restarts:
            result["restarts"] = kill_to_running(suite, restarts, program=f"arr-{specs[0].slug}")
            time.sleep(3)
            result["stop_s"] = suite.stop()
            result["leftovers"] = len(suite.leftovers())
        return result
    finally:
        if suite is not None:
            suite.stop_quietly()
            shutil.rmtree(suite.home.root, ignore_errors=True)
        for sim in sims:
            sim.stop()
        qbt.stop()


# -- import delay -----------------------------------------------------------------------------


def import_delays(completions: int, workdir: Path) -> list[float]:
    """Complete torrents one by one in the simulator; delay until the journal's import is done."""
    qbt = start_qbt("--categories", "radarr", log=workdir / "qbt-import.log")
    arr = start_arr(
        "radarr", qbt, "radarr", workdir, library=max(400, completions * 2), poll_interval=0.25
    )
    suite = None
    try:
        specs = [
            {
                "category": "radarr",
                "state": "downloading",
                "progress": 0.5,
                "dl_speed": 1,
                "added_ago": 3600,
            }
            for _ in range(completions)
        ]
        hashes = [
            t["hash"] if isinstance(t, dict) and "hash" in t else t
            for t in _added(qbt.control("POST", "/sim/torrents", specs))
        ]
        suite = start_suite(
            arrs=[ArrSpec("Radarr-Import", "radarr", url=arr.url, api_key=KEY)],
            qbt_url=qbt.url,
            qbt_password=QBT_PASS,
            settings=DEFAULTS,
        )
        suite.wait_for(
            lambda: (suite.heartbeat("Radarr-Import") or {}).get("torrents", 0) >= completions,
            "the manager sees every torrent",
            timeout=90,
        )
        done_at: dict[str, float] = {}
        for h in hashes:
            done_at[h] = time.time()
            qbt.control("POST", f"/sim/torrents/{h}", {"state": "stalledUP"})
            time.sleep(0.1)
        db = dbmod.connect(suite.home.database)
        try:

            def imported() -> dict[str, float] | None:
                got = {
                    r["hash"]: r["updated_at"]
                    for r in dbmod.rows(
                        db,
                        "SELECT hash, updated_at FROM actions "
                        "WHERE kind = 'import' AND status = 'done'",
                    )
                }
                return got if len(got) >= len(hashes) else None

            got = suite.wait_for(imported, "every import sent", timeout=120)
        finally:
            db.close()
        return [got[h] - done_at[h] for h in hashes]
    finally:
        if suite is not None:
            suite.stop_quietly()
            shutil.rmtree(suite.home.root, ignore_errors=True)
        arr.stop()
        qbt.stop()


def _added(answer: Any) -> list[Any]:
    if isinstance(answer, dict):
        for key in ("added", "torrents", "hashes"):
            if key in answer:
                return list(answer[key])
    return list(answer)


# -- idle CPU and bytes --------------------------------------------------------------------------


def idle_run(torrents: int, window: float, workdir: Path) -> dict[str, float]:
    """One manager (run directly) with ``torrents`` seeding torrents and nothing to decide."""
    qbt = start_qbt(
        "--torrents",
        str(torrents),
        "--seed",
        "5",
        "--categories",
        "bench",
        "--scenario",
        str(_idle_scenario(workdir, torrents)),
        log=workdir / f"qbt-idle{torrents}.log",
    )
    # The Arr watches another category: its queue is empty, as for a library already imported.
    arr = start_arr("radarr", qbt, "elsewhere", workdir, library=100, poll_interval=30)
    home = short_home()
    proc = None
    try:
        home.config.write_text(
            "[Settings]\n"
            + "".join(f"{k} = {v}\n" for k, v in DEFAULTS.items())
            + f"[qBittorrent]\nURL = {qbt.url}\n"
            f"Username = {QBT_USER}\nPassword = {QBT_PASS}\nTimeout = 60s\n"
            + f"[Radarr-Idle]\nURL = {arr.url}\nAPIKey = {KEY}\nCategory = bench\nTimeout = 60s\n"
        )
        with open(workdir / f"arr-idle{torrents}.log", "wb") as out:
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "qbarr-arr"),
                    "--instance",
                    "Radarr-Idle",
                    "--home",
                    str(home.root),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        db = dbmod.connect(home.database) if _wait_file(home.database) else None
        first = _wait_cycles(db, 3, timeout=180)
        cpu0 = sum(psutil.Process(proc.pid).cpu_times()[:2])
        t0 = time.monotonic()
        time.sleep(window)
        cpu = sum(psutil.Process(proc.pid).cpu_times()[:2]) - cpu0
        elapsed = time.monotonic() - t0
        last = _heartbeat(db)
        cycles = max(1, last["cycles"] - first["cycles"])
        wire = (
            last["stats"]["api"]["qbittorrent"]["bytes_in"]
            - first["stats"]["api"]["qbittorrent"]["bytes_in"]
        )
        mem = psutil.Process(proc.pid).memory_full_info()
        return {
            "cpu_s_per_hour": cpu / elapsed * 3600,
            "bytes_per_cycle": wire / cycles,
            "cycles": cycles,
            "median_cycle_s": last["cycle_s"],
            "rss_mb": mem.rss / MIB,
            "pss_mb": mem.pss / MIB,
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        arr.stop()
        qbt.stop()
        shutil.rmtree(home.root, ignore_errors=True)


def _idle_scenario(workdir: Path, torrents: int) -> Path:
    path = workdir / f"idle-{torrents}.json"
    path.write_text(
        json.dumps(
            {
                "torrents": torrents,
                "seed": 5,
                "categories": ["bench"],
                "mix": {"complete": 1.0},
                "added_within": 30 * 86400,
            }
        )
    )
    return path


def _wait_file(path: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    raise SystemExit(f"{path} never appeared")


def _heartbeat(db: Any) -> dict[str, Any]:
    row = dbmod.rows(db, "SELECT cycles, cycle_s, stats FROM instances WHERE name = 'Radarr-Idle'")
    if not row:
        return {"cycles": 0, "cycle_s": None, "stats": {}}
    stats = json.loads(row[0]["stats"] or "{}")
    return {"cycles": row[0]["cycles"], "cycle_s": row[0]["cycle_s"], "stats": stats}


def _wait_cycles(db: Any, cycles: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = _heartbeat(db)
        if beat["cycles"] >= cycles and beat["stats"].get("api", {}).get("qbittorrent"):
            return beat
        time.sleep(0.2)
    raise SystemExit(f"the manager did not reach {cycles} cycles in {timeout:.0f}s")


# -- database writers -----------------------------------------------------------------------------


def _writer(path: str, seconds: float, worker: int, start: Any, out: Any) -> None:
    db = dbmod.connect(path)
    start.wait()
    done = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with dbmod.write_txn(db):
                db.execute(
                    "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE "
                    "SET value = excluded.value, updated_at = excluded.updated_at",
                    (f"w{worker}-{done % 50}", str(done), time.time()),
                )
            done += 1
        except sqlite3.OperationalError:
            errors += 1
    out.put((done, errors))


def db_writers(processes: int, seconds: float, workdir: Path) -> dict[str, float]:
    path = workdir / "writers.db"
    dbmod.open_migrated(path).close()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_writer, args=(str(path), seconds, i, start, out))
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    time.sleep(1.0)
    start.set()
    results = [out.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join(30)
    done = sum(r[0] for r in results)
    return {
        "writes_per_s": done / seconds,
        "lock_errors": sum(r[1] for r in results),
        "writes": done,
    }


# -- the report ------------------------------------------------------------------------------


def machine() -> str:
    mem = psutil.virtual_memory().total / 1024**3
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU, {mem:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(quick: bool) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="qbench-"))
    t0 = time.monotonic()
    try:
        step("memory, restart and stop with 1 instance")
        one = memory_run(1, workdir, restarts=plan["restarts"])
        step("memory with 4 instances")
        four = memory_run(4, workdir)
        step(f"import delay over {plan['completions']} completions")
        delays = import_delays(plan["completions"], workdir)
        step("idle manager with 2,000 torrents")
        idle2k = idle_run(2000, plan["idle_window"], workdir)
        step("idle manager with 20,000 torrents")
        idle20k = idle_run(20000, plan["idle_window"], workdir)
        step("10 database writers")
        writers = db_writers(10, plan["write_seconds"], workdir)
        step(f"a year of churn at 2,000 torrents ({plan['churn']} a day), before/after retention")
        year = db_year.run(plan["churn"], plan["year_cycles"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "pss_total_mb_1": round(one["memory"]["pss"], 1),
        "rss_total_mb_1": round(one["memory"]["rss"], 1),
        "pss_total_mb_4": round(four["memory"]["pss"], 1),
        "rss_total_mb_4": round(four["memory"]["rss"], 1),
        "pss_by_program_1": {k[4:]: v for k, v in one["memory"].items() if k.startswith("pss:")},
        "pss_by_program_4": {k[4:]: v for k, v in four["memory"].items() if k.startswith("pss:")},
        "restart_s_median": round(statistics.median(one["restarts"]), 2),
        "restart_s_all": [round(x, 2) for x in one["restarts"]],
        "stop_s": round(one["stop_s"], 2),
        "stop_leftovers": one["leftovers"],
        "import_delay_s_median": round(statistics.median(delays), 2),
        "import_delay_s_p95": round(pct(delays, 0.95), 2),
        "import_completions": len(delays),
        "idle_cpu_s_per_hour_2000": round(idle2k["cpu_s_per_hour"], 1),
        "idle_cpu_s_per_hour_20000": round(idle20k["cpu_s_per_hour"], 1),
        "idle_cycle_s_2000": idle2k["median_cycle_s"],
        "idle_cycle_s_20000": idle20k["median_cycle_s"],
        "idle_manager_rss_mb_20000": round(idle20k["rss_mb"], 1),
        "idle_manager_pss_mb_20000": round(idle20k["pss_mb"], 1),
        "idle_cycle_bytes": round(idle2k["bytes_per_cycle"]),
        "idle_cycle_bytes_20000": round(idle20k["bytes_per_cycle"]),
        "db_writes_per_s": round(writers["writes_per_s"]),
        "db_lock_errors": writers["lock_errors"],
        **{
            f"db_year_{key}_{when}": year[when][key]
            for when in ("before", "after")
            for key in ("size_mib", "load_memory_s", "first_cycle_s", "cycle_s_median")
        },
        "db_year_rows": {when: year[when]["rows"] for when in ("before", "after")},
        "db_year_churn_per_day": year["churn_per_day"],
        "quick": quick,
        "seconds": round(time.monotonic() - t0, 1),
        "machine": machine(),
        "git_rev": git_rev(),
    }


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text} ...", flush=True)


TABLE = [
    ("PSS total, 1 instance (MiB)", "pss_total_mb_1"),
    ("RSS total, 1 instance (MiB)", "rss_total_mb_1"),
    ("PSS total, 4 instances (MiB)", "pss_total_mb_4"),
    ("RSS total, 4 instances (MiB)", "rss_total_mb_4"),
    ("SIGKILL -> RUNNING again, median (s)", "restart_s_median"),
    ("SIGTERM -> all stopped (s)", "stop_s"),
    ("completion -> scan command, median (s)", "import_delay_s_median"),
    ("completion -> scan command, p95 (s)", "import_delay_s_p95"),
    ("idle CPU s/hour per manager, 2,000 torrents", "idle_cpu_s_per_hour_2000"),
    ("idle CPU s/hour per manager, 20,000 torrents", "idle_cpu_s_per_hour_20000"),
    ("bytes from qBittorrent per idle cycle (2,000)", "idle_cycle_bytes"),
    ("cycle time with 20,000 torrents (s)", "idle_cycle_s_20000"),
    ("DB writes/s, 10 writer processes", "db_writes_per_s"),
    ("DB lock errors", "db_lock_errors"),
    ("a year: qbarr.db, no retention (MiB)", "db_year_size_mib_before"),
    ("a year: qbarr.db, 90-day retention (MiB)", "db_year_size_mib_after"),
    ("a year: load_memory, no retention (s)", "db_year_load_memory_s_before"),
    ("a year: load_memory, 90-day retention (s)", "db_year_load_memory_s_after"),
    ("a year: idle cycle, no retention (s)", "db_year_cycle_s_median_before"),
    ("a year: idle cycle, 90-day retention (s)", "db_year_cycle_s_median_after"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short windows (under 2 minutes; for CI)"
    )
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print(
        f"\nqbarr benchmark ({'quick' if args.quick else 'full'}) on {results['machine']}, "
        f"rev {results['git_rev']}"
    )
    for label, key in TABLE:
        print(f"  {label:<48} {results[key]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"  ({results['seconds']} s; JSON in {args.json})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
