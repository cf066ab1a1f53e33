"""qbarr.db after a year: size, manager start-up and cycle time, before and after retention.

    python bench/db_year.py [--quick] [--churn 100] [--cycles 15] [--out bench/results/db_year.json]

A qBittorrent simulator holds 2,000 torrents (the live set, all imported) and a Radarr
simulator adopts them. The database gets a simulated year of churn written straight into
its tables with the shapes the manager writes: every day ``--churn`` torrents arrive, live
about three weeks (download, import, seeding) and leave; each leaves ~8 decisions, an import,
a seeding-done delete (15 % failed instead: blocklist, delete, search) and its memory row;
the supervisor records a few crashes a day. The file is made the way a year-old install has
it (no auto_vacuum) and switched the way ``qbarr run`` does it (one VACUUM).

Figures, each before and after retention (``JournalRetention`` 90 days, pruned and the pages
given back exactly as the watchdog does it, only all at once):

- ``size_mib``: qbarr.db (+ WAL, after a checkpoint);
- ``load_memory_s``: the manager's start-up read of its per-torrent memory
  (``Journal.load_memory``, median of 5, in this process);
- ``first_cycle_s``: ``qbarr-arr`` started -> its first heartbeat (a real process);
- ``cycle_s_median`` / ``cycle_s_p95``: its idle cycle time over ``--cycles`` cycles
  (LoopInterval 2 s), from its heartbeats.

Also: rows per table, ``vacuum_switch_s`` (the one-time VACUUM) and ``prune_s`` (retention's
work for a year's backlog). Figures only; nothing is asserted. Everything started here is
stopped by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.manager import INSTANCE, KEY, PASSWORD, USER, pct, wait  # noqa: E402
from qbarr import db as dbmod  # noqa: E402
from qbarr import retention  # noqa: E402
from qbarr.journal import Journal  # noqa: E402
from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.sim.arr.launch import start_sim  # noqa: E402
from qbarr.sim.qbittorrent import spawn  # noqa: E402
from tests.conftest import free_port  # noqa: E402

BIN = Path(sys.executable).parent
ARR = str(BIN / "qbarr-arr") if (BIN / "qbarr-arr").exists() else "qbarr-arr"
LIVE = 2000
DAY = 86400.0
MIB = 1024 * 1024
TABLES = ("decisions", "actions", "torrents", "crashes")


# -- the simulated year ------------------------------------------------------------------------


def _inputs(rnd: random.Random, state: str) -> str:
    return json.dumps(
        {
            "state": state,
            "progress": round(rnd.random(), 3),
            "ratio": round(rnd.uniform(0, 3), 3),
            "seeding_time": rnd.randint(0, 30 * 86400),
            "category": "radarr",
            "eta": rnd.randint(0, 8640000),
            "availability": round(rnd.uniform(0, 5), 2),
            "code": "ok",
        },
        sort_keys=True,
    )


def _memory(rnd: random.Random) -> str:
    return json.dumps({"last_progress": round(rnd.random(), 4), "last_seen": 1.7e9})


def _torrent_life(
    db: Any, rnd: random.Random, h: str, added: float, gone: float | None, failed: bool
) -> None:
    name = f"Some.Movie.{h[:6]}.2023.1080p.WEB-DL.DDP5.1.H.264-GROUP"
    end = gone if gone is not None else time.time()
    times = sorted(rnd.uniform(added, end) for _ in range(8))
    rules = ["wait", "ok", "ok", "import", "ok", "ok", "ok", "seeding-done"]
    if failed:
        rules = ["wait", "ok", "ok", "stalled", "stalled", "stalled", "stalled", "stalled"]
    ids = []
    for at, rule in zip(times, rules, strict=True):
        cur = db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                INSTANCE,
                h,
                name,
                rule,
                f"{rule}: a reason of typical length",
                _inputs(rnd, rule),
                at,
            ),
        )
        ids.append((cur.lastrowid, at))
    kinds = ["blocklist", "delete", "search"] if failed else ["import", "delete"]
    if gone is None:
        kinds = ["import"]  # live torrents are imported and seeding
    for kind in kinds:
        did, at = ids[3] if kind == "import" or failed else ids[-1]
        db.execute(
            "INSERT INTO actions (decision_id, instance, hash, kind, key, params, destructive, "
            "status, attempts, result, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'done', 1, 'ok', ?, ?)",
            (did, INSTANCE, h, kind, f"{kind}:{h}", '{"path": "/data/x"}', 0, at, at + 1),
        )
    db.execute(
        "INSERT INTO torrents (instance, hash, name, first_seen, import_sent_at, memory, "
        "last_rule, last_reason, last_decided_at, state, progress, ratio, seeding_time, size, "
        "category, tags, added_on, gone_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'a reason', ?, 'stalledUP', 1.0, 1.2, 86400, ?, "
        "'radarr', '', ?, ?)",
        (INSTANCE, h, name, added, ids[3][1], _memory(rnd), rules[-1], end, 2 * 10**9, added, gone),
    )


def simulate_year(path: Path, live: list[str], churn: int, seed: int = 11) -> dict[str, int]:
    """Write a year of history into a new file made as a year-old install has it."""
    with sqlite3.connect(path) as conn:  # no auto_vacuum, like files from before it was set
        conn.execute("CREATE TABLE early (x)")
        conn.execute("DROP TABLE early")
    rnd = random.Random(seed)
    now = time.time()
    db = dbmod.open_migrated(path)
    try:
        for day in range(365):
            with dbmod.write_txn(db):
                for i in range(churn):
                    added = now - (365 - day) * DAY + rnd.uniform(0, DAY)
                    gone = min(added + rnd.uniform(10, 30) * DAY, now - DAY)
                    h = f"{day:04x}{i:04x}".ljust(40, "0")
                    _torrent_life(db, rnd, h, added, gone, failed=rnd.random() < 0.15)
                for _ in range(rnd.randint(0, 8)):
                    db.execute(
                        "INSERT INTO crashes (program, event, pid, detail, at) VALUES "
                        "('arr-radarr-bench', 'exited', 1234, 'exited unexpectedly', ?)",
                        (now - (365 - day) * DAY,),
                    )
        with dbmod.write_txn(db):
            for h in live:
                _torrent_life(db, rnd, h, now - rnd.uniform(1, 60) * DAY, None, failed=False)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    finally:
        db.close()


# -- measuring ---------------------------------------------------------------------------------


def size_mib(path: Path) -> float:
    db = dbmod.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    files = [path, Path(f"{path}-wal")]
    return round(sum(p.stat().st_size for p in files if p.exists()) / MIB, 1)


def load_memory_s(path: Path) -> float:
    times = []
    for _ in range(5):
        db = dbmod.connect(path)
        try:
            t0 = time.perf_counter()
            Journal(db, INSTANCE).load_memory()
            times.append(time.perf_counter() - t0)
        finally:
            db.close()
    return round(statistics.median(times), 3)


def heartbeat(path: Path) -> dict[str, Any]:
    db = dbmod.connect(path)
    try:
        found = dbmod.rows(db, "SELECT cycles, cycle_s FROM instances WHERE name = ?", (INSTANCE,))
    finally:
        db.close()
    return found[0] if found else {}


def manager_run(home: Path, cycles: int) -> dict[str, Any]:
    """Start qbarr-arr on the file; first heartbeat, then ``cycles`` idle cycles."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBARR", "SUPERVISOR"))}
    db = dbmod.connect(home / "qbarr.db")
    with dbmod.write_txn(db):
        db.execute("DELETE FROM instances WHERE name = ?", (INSTANCE,))
    db.close()
    t0 = time.monotonic()
    with open(home / "arr.log", "ab") as out:
        proc = subprocess.Popen(
            [ARR, "--instance", INSTANCE, "--home", str(home)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait(lambda: heartbeat(home / "qbarr.db").get("cycles", 0) >= 1, "a first cycle", 600)
        first = time.monotonic() - t0
        start = heartbeat(home / "qbarr.db")["cycles"] + 2  # past the start-up cycles
        seen: dict[int, float] = {}
        deadline = time.monotonic() + cycles * 10 + 120
        while time.monotonic() < deadline and len(seen) < cycles:
            beat = heartbeat(home / "qbarr.db")
            if beat["cycles"] >= start and beat["cycle_s"] is not None:
                seen[beat["cycles"]] = beat["cycle_s"]
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    values = list(seen.values())
    return {
        "first_cycle_s": round(first, 2),
        "cycle_s_median": round(statistics.median(values), 4) if values else None,
        "cycle_s_p95": round(pct(values, 0.95) or 0, 4) if values else None,
        "cycles_measured": len(values),
    }


def measure(home: Path, cycles: int) -> dict[str, Any]:
    path = home / "qbarr.db"
    db = dbmod.connect(path)
    try:
        rows = {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    finally:
        db.close()
    return {
        "size_mib": size_mib(path),
        "rows": rows,
        "load_memory_s": load_memory_s(path),
        **manager_run(home, cycles),
    }


def apply_retention(path: Path) -> float:
    """What the watchdog does over its ticks, all at once: prune, then give pages back."""
    db = dbmod.connect(path)
    t0 = time.perf_counter()
    try:
        while not retention.prune(db, time.time(), retention.DEFAULT_KEEP, budget=60).done:
            pass
        while retention.give_back(db, pages=4096):
            pass
    finally:
        db.close()
    return round(time.perf_counter() - t0, 2)


# -- the run -----------------------------------------------------------------------------------


def start_simulators(workdir: Path) -> tuple[Any, Any, list[str]]:
    qbt = spawn(
        free_port(),
        "--username",
        USER,
        "--torrents",
        "0",
        log_path=str(workdir / "qbt.log"),
        env={"QBARR_SIM_QBT_PASSWORD": PASSWORD},
        timeout=120,
    )
    qbt.control(
        "POST",
        "/sim/scenario",
        {
            "torrents": LIVE,
            "seed": 7,
            "categories": {"radarr": ""},
            "mix": {"complete": 1.0},
            "added_within": 30 * 86400,
        },
    )
    qbt.control("POST", "/sim/clock", {"time_scale": 0.0})  # idle: nothing changes
    arr = start_sim(
        "radarr",
        api_key=KEY,
        qbt_url=qbt.url,
        qbt_username=USER,
        qbt_password=PASSWORD,
        category="radarr",
        library=LIVE + 200,
        missing_fraction=0.95,
        poll_interval=2.0,
        grab_probability=0.0,
        log_dir=workdir,
        ready_timeout=120,
    )
    arr.control("POST", "/sim/poll")
    with QbtClient(qbt.url, USER, PASSWORD, timeout=60) as client:
        client.login()
        live = [t["hash"] for t in client.torrents_info(category="radarr")]
    return qbt, arr, live


def run(churn: int, cycles: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="qbyear-", dir="/tmp"))
    home = workdir / "home"
    home.mkdir()
    qbt = arr = None
    try:
        qbt, arr, live = start_simulators(workdir)
        (home / "config.ini").write_text(
            f"[Settings]\nLoopInterval = 2s\n"
            f"[qBittorrent]\nURL = {qbt.url}\nUsername = {USER}\n"
            f"Password = {PASSWORD}\nTimeout = 60s\n[WebUI]\nToken = bench-token-abcdefgh\n"
            f"[{INSTANCE}]\nURL = {arr.url}\nAPIKey = {KEY}\nCategory = radarr\nTimeout = 60s\n"
        )
        path = home / "qbarr.db"
        t0 = time.perf_counter()
        simulate_year(path, live, churn)
        built = round(time.perf_counter() - t0, 1)
        raw = size_mib(path)
        t0 = time.perf_counter()
        dbmod.ensure_incremental_vacuum(path)
        switch = round(time.perf_counter() - t0, 2)
        before = measure(home, cycles)
        prune_s = apply_retention(path)
        after = measure(home, cycles)
    finally:
        for sim in (arr, qbt):
            if sim is not None:
                try:
                    sim.stop()
                except Exception as exc:  # noqa: BLE001 - keep stopping the others
                    print(f"stopping a simulator: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "live_torrents": LIVE,
        "churn_per_day": churn,
        "build_s": built,
        "size_mib_before_switch": raw,
        "vacuum_switch_s": switch,
        "prune_s": prune_s,
        "before": before,
        "after": after,
    }


def table(result: dict[str, Any]) -> str:
    b, a = result["before"], result["after"]
    lines = [
        f"a year of churn at {result['live_torrents']:,} torrents "
        f"({result['churn_per_day']} arrive and leave per day)",
        f"{'figure':<40} {'before':>12} {'after':>12}",
    ]
    for label, key in (
        ("qbarr.db size (MiB)", "size_mib"),
        ("start-up: load_memory (s)", "load_memory_s"),
        ("start-up: process -> first cycle (s)", "first_cycle_s"),
        ("idle cycle time, median (s)", "cycle_s_median"),
        ("idle cycle time, p95 (s)", "cycle_s_p95"),
    ):
        lines.append(f"{label:<40} {b[key]!s:>12} {a[key]!s:>12}")
    for t in TABLES:
        lines.append(f"{'rows: ' + t:<40} {b['rows'][t]:>12,} {a['rows'][t]:>12,}")
    lines.append(
        f"one-time switch to incremental vacuum: {result['vacuum_switch_s']} s "
        f"({result['size_mib_before_switch']} MiB); pruning a year's backlog: "
        f"{result['prune_s']} s"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 torrents a day, 5 cycles")
    parser.add_argument("--churn", type=int, default=None, help="torrents per day (default 100)")
    parser.add_argument("--cycles", type=int, default=None, help="idle cycles measured (15)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "db_year.json")
    args = parser.parse_args(argv)
    churn = args.churn or (20 if args.quick else 100)
    cycles = args.cycles or (5 if args.quick else 15)
    result = run(churn, cycles)
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
