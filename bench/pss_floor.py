"""The memory floor of the suite's shape, with none of qbarr's code: what issue 11's PSS goal
is measured against (figures printed, nothing asserted).

    python bench/pss_floor.py [--instances 2] [--settle 5]

Starts, under a stock supervisord (no qbarr rpcinterface), the skeleton of the suite built
only from its required dependencies and the standard library:

- ``--instances`` "managers", each of which only imports httpx, configobj and sqlite3, opens
  an httpx.Client and an SQLite connection, then sleeps (a manager talks HTTP to qBittorrent
  and its Arr with httpx, reads config.ini with configobj and journals in SQLite);
- a "watchdog" that only imports sqlite3 and sleeps;
- the web UI: gunicorn (one worker, ``--preload``) serving a bottle app with one route.

Then it prints the PSS of every process (/proc/PID/smaps_rollup) and the total, and stops
supervisord by pid. Run it with the Python of the install to measure: each Python process
pays for what that install's site-packages import at start-up (a development venv's
editable-install finder costs about 1 MiB more per process).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20

MANAGER = """
import json, sqlite3, sys, time
import configobj, httpx
client = httpx.Client(base_url="http://127.0.0.1:9", timeout=5)
db = sqlite3.connect(sys.argv[1])
time.sleep(3600)
"""
WATCHDOG = """
import sqlite3, time
time.sleep(3600)
"""
APP = """
import bottle
app = bottle.Bottle()

@app.get("/")
def index():
    return "ok"
"""


def pss(pid: int) -> float:
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024 / MIB
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def tree(root: int) -> list[int]:
    out, todo = [root], [root]
    while todo:
        for kid in children(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def conf(work: Path, instances: int) -> str:
    python = sys.executable
    gunicorn = Path(python).with_name("gunicorn")
    lines = [
        "[unix_http_server]",
        f"file={work}/supervisor.sock",
        "[supervisord]",
        f"logfile={work}/supervisord.log",
        f"pidfile={work}/supervisord.pid",
        f"directory={work}",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for n in range(instances):
        lines += [f"[program:manager-{n}]", f"command={python} manager.py {work}/db-{n}.sqlite"]
    lines += ["[program:watchdog]", f"command={python} watchdog.py"]
    lines += [
        "[program:webui]",
        f"command={gunicorn} --chdir {work} -w 1 --preload -b 127.0.0.1:0 app:app",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qbarr-floor-") as tmp:
        work = Path(tmp)
        (work / "manager.py").write_text(MANAGER)
        (work / "watchdog.py").write_text(WATCHDOG)
        (work / "app.py").write_text(APP)
        (work / "supervisord.conf").write_text(conf(work, args.instances))
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(work / "supervisord.conf")],
            check=True,
            timeout=30,
        )
        pid = int((work / "supervisord.pid").read_text())
        try:
            expected = 1 + args.instances + 1 + 2  # supervisord, managers, watchdog, gunicorn x2
            deadline = time.monotonic() + 60
            while len(tree(pid)) < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(args.settle)  # imports done, the worker forked
            rows = []
            for p in tree(pid):
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                rows.append((pss(p), cmd))
        finally:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
    print(f"the shape's floor, {args.instances} instance(s), Python {sys.version.split()[0]}:")
    for value, cmd in rows:
        print(f"  {value:6.1f} MiB  {cmd[:90]}")
    print(f"  {sum(v for v, _ in rows):6.1f} MiB  total, {len(rows)} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
