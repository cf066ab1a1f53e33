"""The benchmark runner: what qbarr costs the whole system, one table of figures.

    python bench/run.py [--quick] [--json PATH]

Against a real **qbittorrent-nox** (the Debian package, 4.5.2 here) loaded with 2,000 real
small torrents by bench/qbt_load.py (70 % seeding with data, 20 % stalled without data or
peers, 10 % paused), one fresh qbittorrent-nox per scenario, 2 and 4 Arr instances sharing
it (the torrents spread over their categories), the whole suite run by ``qbarr run``
(supervisord, web UI, watchdog, managers), default settings:

- the idle floor first: qbittorrent-nox's CPU with no client at all, over the window;
- then qbarr starts; after the warm-up, over the window: CPU of qbittorrent-nox (minus the
  floor: what qbarr causes), CPU of every qbarr process (supervisord and its descendants),
  requests and bytes per minute from qbarr to qBittorrent (the reader's and the managers'
  client counters);
- PSS of every program (psutil ``memory_full_info``), for 1, 2 and 4 instances;
- SIGKILL of a manager -> its first qBittorrent request (the first "logged in" line of its
  log after the kill) and -> RUNNING again (supervisord's log, includes ``startsecs``);
  SIGTERM -> every process gone, with 4 instances.

Against the **simulator** with 20,000 torrents (same mix, 4.5 behaviour, ``--serialize-us
150``: each torrent serialized costs the CPU it costs qbittorrent-nox 4.5.2): the same CPU
and request figures for 2 instances, plus the torrents serialized per minute.

Completion -> scan: downloads in the simulator (4.5 behaviour) complete one by one while
downloads are active; the delay until the manager's import command was accepted by the Arr
(the journal's ``done`` time), median and p95, LoopInterval 2 s.

Database: 10 writer processes doing short ``BEGIN IMMEDIATE`` upserts for a few seconds; and
qbarr.db after a simulated year of churn at 2,000 torrents, before and after retention: size,
the manager's ``load_memory``, process start -> first cycle, idle cycle time
(``bench/db_year.py``; ``--quick`` churns 20 torrents a day instead of 100).

The Arr simulators watch other categories: their queues are empty, as for a library imported
long ago, so the steady state is measured, not a first start's 1,400 imports. CPU is CPU
*time* of the processes (psutil, user + system) over the window, as % of one core; other
work on the machine slows things down but is not counted (docs/performance.md: noise).
``--quick`` (CI) shortens every window and runs 2 instances only, with ``IgnoreYoungerThan =
0`` (the library is seconds old; the full run waits until it is not). Nothing is asserted;
everything started is stopped by pid.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import db_year  # noqa: E402
from bench.foundation import log_times  # noqa: E402
from bench.qbt_load import load, mix  # noqa: E402
from qbarr import db as dbmod  # noqa: E402
from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.qbittorrent.nox import Nox  # noqa: E402
from qbarr.sim.arr.launch import start_sim  # noqa: E402
from qbarr.sim.qbittorrent.server import SimProcess as QbtSim  # noqa: E402
from qbarr.sim.qbittorrent.server import spawn  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.system.conftest import Suite, short_home, start_suite  # noqa: E402
from tests.system.manager_helpers import ARR_KEY, Inst, manager_config  # noqa: E402

MIB = 1024 * 1024
USER, PASSWORD = "bench", "bench-pass-0123"

KINDS = ["radarr", "sonarr", "radarr", "sonarr"]  # video releases (lidarr wants audio)
DEFAULTS = {  # config.ini defaults, written out (the test helper's are short for tests)
    "LoopInterval": "2s",
    "QueueRefresh": "60s",
    "HeartbeatTimeout": "120s",
    "RestartBackoffMax": "300s",
    "RetryBackoffMax": "60s",
    "IdlePollInterval": "15s",
}


@dataclass(frozen=True)
class Plan:
    torrents: int = 2000
    sim_torrents: int = 20000
    settle: float = 60.0  # after loading, before the floor: qBittorrent writes its resume data
    floor: float = 300.0
    warmup: float = 120.0
    window: float = 300.0
    young: float = 180.0  # the full run starts measuring once the library is older than this
    instances: tuple[int, ...] = (2, 4)
    restarts: int = 5
    settle_limit: float = 180.0  # wait at most this long for the managers' first-start work
    one_instance: bool = True  # also the memory of a single instance
    completions: int = 200
    write_seconds: float = 10.0
    churn: int = 100  # torrents a day in the simulated year (bench/db_year.py)
    year_cycles: int = 15
    quick: bool = False


FULL = Plan()
QUICK = Plan(
    settle=15.0,
    floor=10.0,
    warmup=10.0,
    window=20.0,
    young=0.0,
    instances=(2,),
    restarts=2,
    settle_limit=20.0,
    one_instance=False,
    completions=20,
    write_seconds=3.0,
    churn=20,
    year_cycles=5,
    quick=True,
)


def spawn_qbt_sim(log_path: Path, *args: str, timeout: float = 30.0) -> QbtSim:
    """The qBittorrent simulator on a free port, with the bench's credentials."""
    return spawn(
        free_port(),
        "--username",
        USER,
        *args,
        timeout=timeout,
        log_path=str(log_path),
        env={"QBARR_SIM_QBT_PASSWORD": PASSWORD},
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text} ...", flush=True)


# -- processes: CPU and memory --------------------------------------------------------------------


def cpu_of(procs: list[psutil.Process]) -> float:
    """CPU seconds (user + system) of the processes still alive."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def suite_processes(suite: Suite) -> list[tuple[str, psutil.Process]]:
    """supervisord and every program of the suite, with the program's name."""
    found = [("supervisord", suite.supervisord)]
    for name, info in suite.states().items():
        if info["pid"]:
            proc = psutil.Process(info["pid"])
            found.append((name, proc))
            found += [(f"{name} (child)", c) for c in proc.children(recursive=True)]
    return found


def suite_memory(suite: Suite) -> dict[str, Any]:
    per: dict[str, float] = {}
    rss = pss = 0.0
    for name, proc in suite_processes(suite):
        mem = proc.memory_full_info()
        rss, pss = rss + mem.rss / MIB, pss + mem.pss / MIB
        per[name] = round(per.get(name, 0.0) + mem.pss / MIB, 1)
    return {"pss_total_mb": round(pss, 1), "rss_total_mb": round(rss, 1), "pss_by_program": per}


def api_totals(suite: Suite) -> dict[str, float]:
    """Requests and bytes from qbarr to qBittorrent so far: the reader's client and each
    manager's (from the feed row and the heartbeats)."""
    calls = wire = 0.0
    try:
        feed = suite.query("SELECT stats FROM qbt_feed")
    except sqlite3.OperationalError:  # a qbarr from before the shared reader: no feed
        feed = []
    for row in feed:
        stats = json.loads(row["stats"] or "{}")
        calls, wire = calls + stats.get("calls", 0), wire + stats.get("bytes_in", 0)
    for row in suite.query("SELECT stats FROM instances WHERE program LIKE 'arr-%'"):
        api = json.loads(row["stats"] or "{}").get("api", {}).get("qbittorrent", {})
        calls, wire = calls + api.get("calls", 0), wire + api.get("bytes_in", 0)
    return {"calls": calls, "bytes": wire}


def measure_window(
    suite: Suite, target: psutil.Process, seconds: float, extra: Callable[[], dict] | None = None
) -> dict[str, Any]:
    """CPU of the target (qBittorrent) and of qbarr, requests and bytes, over ``seconds``."""
    named = suite_processes(suite)
    procs = [p for _, p in named]
    before_api, before_extra = api_totals(suite), extra() if extra else {}
    each0 = {name: cpu_of([p]) for name, p in named}
    t0, q0, s0 = time.monotonic(), cpu_of([target]), cpu_of(procs)
    time.sleep(seconds)
    q1, s1, elapsed = cpu_of([target]), cpu_of(procs), time.monotonic() - t0
    each = {name: round(100 * (cpu_of([p]) - each0[name]) / elapsed, 2) for name, p in named}
    after_api, after_extra = api_totals(suite), extra() if extra else {}
    per_min = 60.0 / elapsed
    out = {
        "target_pct": round(100 * (q1 - q0) / elapsed, 2),
        "qbarr_pct": round(100 * (s1 - s0) / elapsed, 2),
        "qbarr_pct_by_program": each,
        "requests_per_min": round((after_api["calls"] - before_api["calls"]) * per_min, 1),
        "bytes_per_min": round((after_api["bytes"] - before_api["bytes"]) * per_min),
        "window_s": round(elapsed, 1),
    }
    for key, value in after_extra.items():
        out[f"{key}_per_min"] = round((value - before_extra.get(key, 0)) * per_min)
    return out


def settled(suite: Suite, limit: float = 180.0) -> float:
    """Wait until no manager makes qBittorrent calls of its own any more (the first start
    fetches the file lists of every unfinished torrent, 25 per cycle); returns the wait."""
    t0 = time.monotonic()
    names = [
        r["name"] for r in suite.query("SELECT name FROM instances WHERE program LIKE 'arr-%'")
    ]

    def calls() -> dict[str, tuple[int, int]]:
        out = {}
        for name in names:
            beat = suite.heartbeat(name) or {}
            api = json.loads(beat.get("stats") or "{}").get("api", {}).get("qbittorrent", {})
            out[name] = (int(beat.get("cycles") or 0), int(api.get("calls", 0)))
        return out

    last = calls()
    while time.monotonic() - t0 < limit:
        time.sleep(5.0)
        now = calls()
        if all(now[n][1] == last[n][1] and now[n][0] > last[n][0] for n in names):
            break
        last = now
    return time.monotonic() - t0


def floor_pct(proc: psutil.Process, seconds: float) -> float:
    c0, t0 = cpu_of([proc]), time.monotonic()
    time.sleep(seconds)
    return round(100 * (cpu_of([proc]) - c0) / (time.monotonic() - t0), 2)


# -- the suite ---------------------------------------------------------------------------------


def start_bench_suite(
    qbt_url: str, count: int, workdir: Path, plan: Plan, arrs: list[Any]
) -> Suite:
    """qbarr run with ``count`` Arr instances (categories cat-0 ...) against ``qbt_url``; the
    Arr simulators watch other categories (empty queues, no polling of qBittorrent)."""
    start = len(arrs)
    for i in range(count):
        arrs.append(
            start_sim(
                KINDS[i], api_key=ARR_KEY, category=f"elsewhere-{i}", log_dir=workdir, library=100
            )
        )
    torrent = {"IgnoreYoungerThan": "0s"} if plan.quick else {}
    instances = [
        Inst(f"{KINDS[i].title()}-B{i}", f"cat-{i}", arrs[start + i].url, torrent=dict(torrent))
        for i in range(count)
    ]
    return start_configured(qbt_url, instances)


def start_configured(qbt_url: str, instances: list[Inst]) -> Suite:
    home = short_home()
    home.root.mkdir(parents=True, exist_ok=True)
    text = manager_config(qbt_url, instances, DEFAULTS, qbt_user=USER, qbt_password=PASSWORD)
    home.config.write_text(text.replace("Timeout = 10s", "Timeout = 60s"))
    suite = start_suite(home=home, arrs=[i.spec for i in instances])
    try:
        suite.wait_for(
            lambda: all((suite.heartbeat(i.name) or {}).get("status") == "ok" for i in instances),
            "every manager deciding",
            timeout=180,
        )
    except BaseException:
        print(json.dumps([suite.heartbeat(i.name) for i in instances], indent=1, default=str))
        stop_everything(suite, [])
        raise
    return suite


def stop_everything(suite: Suite | None, arrs: list[Any]) -> None:
    if suite is not None:
        suite.stop_quietly()
        shutil.rmtree(suite.home.root, ignore_errors=True)
    for arr in arrs:
        arr.stop()


# -- restart and stop --------------------------------------------------------------------------

_LOGIN = re.compile(r"^(\S+ \S+) INFO \S+: logged in to qBittorrent")


def first_login_after(suite: Suite, program: str, after: float) -> float | None:
    for line in suite.log(program).splitlines():
        match = _LOGIN.match(line)
        if match:
            at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            if at > after:
                return at
    return None


def restarts(suite: Suite, program: str, trials: int) -> dict[str, Any]:
    """SIGKILL ``program`` ``trials`` times: seconds to its first qBittorrent request and to
    RUNNING (both read from logs afterwards: no XML-RPC polling wakes supervisord meanwhile)."""
    to_request, to_running = [], []
    for trial in range(trials):
        time.sleep(2.0 + (trial % 3) * 0.37)  # de-phase from any 1 s rhythm
        seen = len(log_times(suite, program))
        pid = suite.pid(f"arr:{program}")
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            login = first_login_after(suite, program, killed_at)
            running = log_times(suite, program)
            if login and len(running) > seen:
                to_request.append(round(login - killed_at, 3))
                to_running.append(round(running[-1] - killed_at, 3))
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"{program} did not come back within 60 s")
    return {
        "kill_to_first_request_s": to_request,
        "kill_to_first_request_s_median": statistics.median(to_request),
        "kill_to_running_s": to_running,
        "kill_to_running_s_median": statistics.median(to_running),
    }


def stop_time(suite: Suite) -> dict[str, Any]:
    children = suite.descendants()
    t0 = time.monotonic()
    suite.stop()  # SIGTERM to supervisord, returns when `qbarr run` has exited
    seconds = time.monotonic() - t0
    alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    return {"stop_s": round(seconds, 3), "stop_leftovers": len(alive) + len(suite.leftovers())}


# -- scenarios ---------------------------------------------------------------------------------


def nox_scenario(count: int, plan: Plan, workdir: Path) -> dict[str, Any]:
    """A fresh qbittorrent-nox with the library; floor; qbarr with ``count`` instances."""
    where = workdir / f"nox-{count}"
    nox = Nox(where / "profile", USER, PASSWORD).start()
    arrs: list[Any] = []
    suite = None
    result: dict[str, Any] = {"version": nox.version, "instances": count}
    try:
        with QbtClient(nox.url, USER, PASSWORD, timeout=60) as client:
            result["states"] = load(
                client, plan.torrents, where, [f"cat-{i}" for i in range(count)]
            )
        loaded = time.monotonic()
        proc = psutil.Process(nox.pid)
        step(f"  {count} instances: settle {plan.settle:.0f} s, idle floor ({plan.floor:.0f} s)")
        time.sleep(plan.settle)
        result["floor_pct"] = floor_pct(proc, plan.floor)
        suite = start_bench_suite(nox.url, count, where, plan, arrs)
        rest = max(plan.warmup, plan.young + 5 - (time.monotonic() - loaded))
        step(f"  {count} instances: warm-up {rest:.0f} s, window {plan.window:.0f} s")
        time.sleep(rest)
        result["settled_after_s"] = round(rest + settled(suite, plan.settle_limit), 1)
        window = measure_window(suite, proc, plan.window)
        result.update(window)
        result["caused_by_qbarr_pct"] = round(window["target_pct"] - result["floor_pct"], 2)
        result["feed"] = feed_row(suite)
        result.update(suite_memory(suite))
        if count == 2:
            result["restart"] = restarts(suite, f"arr-{_slug(1)}", plan.restarts)
        if count == max(plan.instances):
            result.update(stop_time(suite))
        if count == max(plan.instances) and plan.one_instance:
            one = start_bench_suite(nox.url, 1, where, plan, arrs)
            try:
                time.sleep(5)
                result["one_instance"] = suite_memory(one)
            finally:
                one.stop_quietly()
                shutil.rmtree(one.home.root, ignore_errors=True)
    finally:
        stop_everything(suite, arrs)
        nox.stop()
        shutil.rmtree(where, ignore_errors=True)
    return result


def _slug(i: int) -> str:
    return f"{KINDS[i]}-b{i}"


def feed_row(suite: Suite) -> dict[str, Any]:
    try:
        rows = suite.query("SELECT pace, polls, reader, version FROM qbt_feed")
    except sqlite3.OperationalError:  # a qbarr from before the shared reader
        return {}
    return rows[0] if rows else {}


def sim_scenario(plan: Plan, workdir: Path) -> dict[str, Any]:
    """The simulator at 20,000 torrents (4.5 behaviour, CPU charged per torrent serialized)."""
    scenario = workdir / "sim20k.json"
    fates = mix(10)
    share = {f: fates.count(f) / 10 for f in set(fates)}
    scenario.write_text(
        json.dumps(
            {
                "torrents": plan.sim_torrents,
                "seed": 5,
                "categories": ["cat-0", "cat-1"],
                "mix": {
                    "complete": share["seed"],
                    "stalled": share["stalled"],
                    "paused": share["paused"],
                },
                "added_within": 30 * 86400,
            }
        )
    )
    sim = spawn_qbt_sim(
        workdir / "sim20k.log",
        "--scenario",
        str(scenario),
        "--serialize-us",
        "150",
        timeout=300,
    )
    arrs: list[Any] = []
    suite = None
    try:
        proc = psutil.Process(sim.pid)
        result: dict[str, Any] = {"torrents": plan.sim_torrents, "instances": 2}
        result["floor_pct"] = floor_pct(proc, min(plan.floor, 30.0))
        suite = start_bench_suite(sim.url, 2, workdir, FULL, arrs)
        time.sleep(plan.warmup)
        result["settled_after_s"] = round(plan.warmup + settled(suite, plan.settle_limit), 1)

        def serialized() -> dict[str, float]:
            return {"serialized": sim.control("GET", "/sim/state")["serialized"]}

        window = measure_window(suite, proc, plan.window, serialized)
        result.update(window)
        result["caused_by_qbarr_pct"] = round(window["target_pct"] - result["floor_pct"], 2)
        result["feed"] = feed_row(suite)
        result.update(suite_memory(suite))
        return result
    finally:
        stop_everything(suite, arrs)
        sim.stop()


def completion_delays(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Downloads complete one by one (others still downloading); delay to the import done."""
    qbt = spawn_qbt_sim(
        workdir / "qbt-import.log", "--categories", "cat-0", "--serialize-us", "150"
    )
    arr = start_sim(
        "radarr",
        api_key=ARR_KEY,
        qbt_url=qbt.url,
        qbt_username=USER,
        qbt_password=PASSWORD,
        category="cat-0",
        log_dir=workdir,
        library=max(400, plan.completions * 2),
        poll_interval=0.25,
    )
    suite = None
    try:
        specs = [
            {
                "category": "cat-0",
                "state": "downloading",
                "progress": 0.5,
                "dl_speed": 1,
                "added_ago": 3600,
            }
            for _ in range(plan.completions + 5)
        ]
        hashes = qbt.control("POST", "/sim/torrents", specs)["hashes"]
        arr.control("POST", "/sim/poll")
        suite = start_configured(qbt.url, [Inst("Radarr-Import", "cat-0", arr.url)])
        suite.wait_for(
            lambda: (suite.heartbeat("Radarr-Import") or {}).get("torrents", 0) >= len(hashes),
            "the manager sees every torrent",
            timeout=120,
        )
        done_at: dict[str, float] = {}
        for h in hashes[: plan.completions]:  # the last 5 keep downloading: the pace stays fast
            done_at[h] = time.time()
            qbt.control("POST", f"/sim/torrents/{h}", {"state": "stalledUP"})
            time.sleep(0.37)
        keys = tuple(f"import:{h}" for h in done_at)
        marks = ",".join("?" * len(keys))

        def imported() -> dict[str, float] | None:
            got = {
                r["hash"]: r["updated_at"]
                for r in suite.query(
                    "SELECT hash, updated_at FROM actions "
                    f"WHERE status = 'done' AND key IN ({marks})",
                    keys,
                )
            }
            return got if len(got) == len(keys) else None

        got = suite.wait_for(imported, "every import sent", timeout=180)
        delays = [got[h] - done_at[h] for h in done_at]
        return {
            "completions": len(delays),
            "median_s": round(statistics.median(delays), 2),
            "p95_s": round(pct(delays, 0.95), 2),
            "max_s": round(max(delays), 2),
            "loop_interval_s": 2.0,
        }
    finally:
        if suite is not None:
            suite.stop_quietly()
            shutil.rmtree(suite.home.root, ignore_errors=True)
        arr.stop()
        qbt.stop()


# -- database writers --------------------------------------------------------------------------


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
    return {"writes_per_s": round(done / seconds), "lock_errors": sum(r[1] for r in results)}


# -- the report --------------------------------------------------------------------------------


def machine() -> str:
    mem = psutil.virtual_memory().total / 1024**3
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU, {mem:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def git_rev() -> str:
    """The checkout's revision; a copy without .git (CI's isolated copy) gets $QBARR_REV."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("QBARR_REV") or "unknown"


def run(plan: Plan) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="qbench-"))
    t0, load_before = time.monotonic(), os.getloadavg()
    results: dict[str, Any] = {"nox": {}}
    try:
        for count in plan.instances:
            step(f"qbittorrent-nox with {plan.torrents} torrents, {count} instances")
            results["nox"][str(count)] = nox_scenario(count, plan, workdir)
        step(f"simulator with {plan.sim_torrents} torrents, 2 instances")
        results["sim"] = sim_scenario(plan, workdir)
        step(f"completion -> scan over {plan.completions} completions")
        results["completion"] = completion_delays(plan, workdir)
        step("10 database writers")
        results["db"] = db_writers(10, plan.write_seconds, workdir)
        step(f"a year of churn at 2,000 torrents ({plan.churn} a day), before/after retention")
        results["db_year"] = db_year.run(plan.churn, plan.year_cycles)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results.update(
        quick=plan.quick,
        seconds=round(time.monotonic() - t0, 1),
        machine=machine(),
        load_average=[round(x, 2) for x in (*load_before, *os.getloadavg())],
        git_rev=git_rev(),
        when=datetime.now().isoformat(timespec="seconds"),
    )
    results["goals"] = goals(results)
    return results


def goals(r: dict[str, Any]) -> dict[str, Any]:
    nox = r["nox"]
    out: dict[str, Any] = {}
    if "2" in nox:
        out["qbittorrent CPU caused by qbarr, 2 instances <= 3 %"] = nox["2"]["caused_by_qbarr_pct"]
        out["qbarr CPU, 2 instances <= 2.5 %"] = nox["2"]["qbarr_pct"]
        out["PSS, 2 instances + webui + watchdog + supervisord <= 80 MB"] = round(
            nox["2"]["pss_total_mb"] * MIB / 1e6, 1
        )
    if "4" in nox:
        out["qbittorrent CPU caused by qbarr, 4 instances <= 4 %"] = nox["4"]["caused_by_qbarr_pct"]
        out["PSS, 4 instances <= 125 MB"] = round(nox["4"]["pss_total_mb"] * MIB / 1e6, 1)
    if "2" in nox:
        out["SIGKILL -> first qBittorrent request <= 1 s (median)"] = round(
            nox["2"]["restart"]["kill_to_first_request_s_median"], 2
        )
    last = nox[str(max(int(k) for k in nox))]
    out[f"SIGTERM -> all gone, {last['instances']} instances <= 1.5 s"] = last.get("stop_s")
    out["completion -> scan p95 <= 4 s (2 x LoopInterval)"] = r["completion"]["p95_s"]
    return out


def table(r: dict[str, Any]) -> list[str]:
    lines = []
    for count, s in r["nox"].items():
        lines += [
            f"qbittorrent-nox {s['version']}, {sum(s['states'].values())} torrents, "
            f"{count} instances:",
            f"  qbittorrent-nox CPU: idle floor {s['floor_pct']} %, with qbarr {s['target_pct']} %"
            f" -> caused by qbarr {s['caused_by_qbarr_pct']} % of a core",
            f"  qbarr CPU (all processes) {s['qbarr_pct']} %; {s['requests_per_min']} requests/min,"
            f" {s['bytes_per_min']:,} bytes/min to qBittorrent; reader: {s['feed'].get('pace')}",
            f"  PSS total {s['pss_total_mb']} MiB: {s['pss_by_program']}",
        ]
        if "restart" in s:
            rs = s["restart"]
            lines.append(
                f"  SIGKILL manager -> first qBittorrent request {rs['kill_to_first_request_s']} s,"
                f" -> RUNNING {rs['kill_to_running_s']} s"
            )
        if "stop_s" in s:
            lines.append(f"  SIGTERM -> all gone {s['stop_s']} s ({s['stop_leftovers']} left)")
        if "one_instance" in s:
            one = s["one_instance"]
            lines.append(
                f"  1 instance: PSS total {one['pss_total_mb']} MiB: {one['pss_by_program']}"
            )
    s = r["sim"]
    lines += [
        f"simulator, {s['torrents']} torrents (4.5 behaviour, 150 us per torrent serialized), "
        "2 instances:",
        f"  simulator CPU: floor {s['floor_pct']} %, with qbarr {s['target_pct']} % "
        "-> caused by qbarr"
        f" {s['caused_by_qbarr_pct']} %; {s.get('serialized_per_min')} torrents serialized/min",
        f"  qbarr CPU {s['qbarr_pct']} %; {s['requests_per_min']} requests/min, "
        f"{s['bytes_per_min']:,} bytes/min; PSS total {s['pss_total_mb']} MiB: "
        f"{s['pss_by_program']}",
    ]
    c = r["completion"]
    lines.append(
        f"completion -> scan ({c['completions']} completions, LoopInterval 2 s): "
        f"median {c['median_s']} s,"
        f" p95 {c['p95_s']} s, max {c['max_s']} s"
    )
    lines.append(
        f"database: {r['db']['writes_per_s']} writes/s, {r['db']['lock_errors']} lock errors"
    )
    y = r["db_year"]
    for when, label in (("before", "no retention"), ("after", "90-day retention")):
        w = y[when]
        lines.append(
            f"a year ({y['churn_per_day']} torrents a day), {label}: qbarr.db {w['size_mib']} MiB,"
            f" load_memory {w['load_memory_s']} s, start -> first cycle {w['first_cycle_s']} s,"
            f" idle cycle {w['cycle_s_median']} s"
        )
    lines.append("goals:")
    lines += [f"  {k}: {v}" for k, v in r["goals"].items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, 2 instances (CI)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    if shutil.which("qbittorrent-nox") is None and not os.environ.get("QBT_NOX"):
        print("bench/run.py needs qbittorrent-nox (Debian: apt-get install qbittorrent-nox)")
        return 2
    results = run(QUICK if args.quick else FULL)
    print(
        f"\nqbarr benchmark ({'quick' if args.quick else 'full'}) on {results['machine']}, "
        f"rev {results['git_rev']}, load average {results['load_average']}"
    )
    for line in table(results):
        print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"({results['seconds']} s; JSON in {args.json})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
