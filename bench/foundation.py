"""Foundation figures: recovery after SIGKILL, shutdown on SIGTERM, memory of each program.

    python bench/foundation.py [--trials 5] [--shutdowns 3]

Starts the real suite (``qbarr run`` = supervisord) in a temp dir with two Arr sections
whose services are unreachable (the managers idle: connect, fail, back off, heartbeat),
using the system-test fixture code (tests/system/conftest.py; needs the test extras).

- SIGKILL -> RUNNING: one manager is SIGKILLed; the time until supervisord logs
  ``success: arr-... entered RUNNING`` is read from supervisord's own log (millisecond
  timestamps), so no XML-RPC polling wakes supervisord during the wait (that would change
  what is measured). The kills are spread over supervisord's 1 s loop.
- SIGTERM -> all stopped: SIGTERM to supervisord until the process has exited, on a fresh
  suite each time; every former child is checked dead.
- Memory: psutil ``memory_full_info`` (RSS, PSS from /proc/<pid>/smaps_rollup, USS) of
  supervisord, one idle manager, the web UI (gunicorn master + worker) and the watchdog.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.system.conftest import Suite, start_suite  # noqa: E402

MIB = 1024 * 1024
_SUCCESS = re.compile(r"^(\S+ \S+) INFO success: (\S+) entered RUNNING")


def log_times(suite: Suite, program: str) -> list[float]:
    """Epoch times of supervisord's ``success: <program> entered RUNNING`` lines."""
    text = (suite.home.logs / "supervisord.log").read_text()
    times = []
    for line in text.splitlines():
        match = _SUCCESS.match(line)
        if match and match.group(2) == program:
            times.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return times


def kill_to_running(suite: Suite, trials: int, program: str = "arr-radarr-a") -> list[float]:
    """SIGKILL ``program`` ``trials`` times; seconds until supervisord logs it RUNNING again."""
    results = []
    for trial in range(trials):
        time.sleep(1.0 + (trial % 3) * 0.33)  # de-phase from supervisord's 1 s loop
        seen = len(log_times(suite, program))
        pid = suite.pid(f"arr:{program}")
        killed_at = time.time()
        psutil.Process(pid).kill()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # watch the log file only, never the RPC socket
            times = log_times(suite, program)
            if len(times) > seen:
                results.append(times[-1] - killed_at)
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"{program} did not come back within 60 s")
    return results


def memory(suite: Suite) -> list[tuple[str, float, float, float]]:
    states = suite.states()
    sup = suite.supervisord
    rows = [("supervisord", sup)]
    rows.append(("manager (idle)", psutil.Process(states["arr:arr-radarr-a"]["pid"])))
    webui = psutil.Process(states["webui"]["pid"])
    rows.append(("webui master", webui))
    rows += [("webui worker", child) for child in webui.children()]
    rows.append(("watchdog", psutil.Process(states["watchdog"]["pid"])))
    out = []
    for name, proc in rows:
        info = proc.memory_full_info()
        out.append((name, info.rss / MIB, info.pss / MIB, info.uss / MIB))
    return out


def shutdown_times(count: int) -> list[float]:
    results = []
    for _ in range(count):
        suite = start_suite(arrs=2)
        try:
            time.sleep(2)
            children = suite.descendants()
            t0 = time.monotonic()
            suite.stop()  # returns when `qbarr run` has exited
            results.append(time.monotonic() - t0)
            alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            if alive or suite.leftovers():
                raise SystemExit(f"processes left after SIGTERM: {alive or suite.leftovers()}")
        finally:
            suite.stop_quietly()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--shutdowns", type=int, default=3)
    args = parser.parse_args()

    started = time.monotonic()
    suite = start_suite(arrs=2)
    startup = time.monotonic() - started
    try:
        time.sleep(5)  # let the idle managers settle
        mem = memory(suite)
        kills = kill_to_running(suite, args.trials)
    finally:
        suite.stop_quietly()
    shutdowns = shutdown_times(args.shutdowns)

    print(f"qbarr run -> all RUNNING (2 managers, webui, watchdog): {startup:.2f} s")
    print(
        "SIGKILL manager -> RUNNING again (supervisord log, startsecs=2): "
        f"median {statistics.median(kills):.2f} s "
        f"over {len(kills)} [{', '.join(f'{k:.2f}' for k in kills)}]"
    )
    print(
        f"SIGTERM supervisord -> all stopped: median {statistics.median(shutdowns):.2f} s "
        f"over {len(shutdowns)} [{', '.join(f'{s:.2f}' for s in shutdowns)}]"
    )
    print(f"{'process':<16} {'RSS MiB':>8} {'PSS MiB':>8} {'USS MiB':>8}")
    for name, rss, pss, uss in mem:
        print(f"{name:<16} {rss:8.1f} {pss:8.1f} {uss:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
