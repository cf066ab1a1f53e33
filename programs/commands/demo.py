"""`qbarr demo`: the whole suite under supervisord against built-in simulators.

Writes a demo data dir (a temporary one unless ``--home`` names one), starts ``qbarr run``
in its own session (so Ctrl-C reaches only this command, which then stops supervisord in
order), shows progress until every program is RUNNING, prints the web UI address and token,
then a short summary of the decisions every few seconds until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qbarr import demo
from qbarr.db import connect, rows
from qbarr.paths import Home
from qbarr.supervision import SupervisionError, Supervisor, full_name

from .common import EX_FAIL, find_tool

NAME = "demo"
HELP = "run the whole suite against built-in simulators (Ctrl-C stops it)"
START_TIMEOUT = 120.0
SUMMARY_EVERY = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--real-qbittorrent",
        action="store_true",
        help="use a local qbittorrent-nox instead of the qBittorrent simulator",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep a temporary data dir after the demo"
    )
    parser.add_argument(
        "--for",
        dest="duration",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="stop by itself after this long (0 = run until Ctrl-C)",
    )


def _explicit_home(args: argparse.Namespace) -> bool:
    return any(a == "--home" or a.startswith("--home=") for a in sys.argv[1:]) or bool(
        getattr(args, "home", None)
    )


def choose_home(args: argparse.Namespace, home: Home) -> tuple[Home, bool]:
    """The demo's data dir and whether it is temporary. Never a user's real data dir."""
    if _explicit_home(args):
        if home.config.exists() and not demo.is_demo_home(home):
            raise SystemExit(
                f"qbarr demo: {home.config} exists and is not a demo config; "
                "pick an empty --home (the demo never touches a real setup)"
            )
        return home, False
    # Short path: supervisord's unix socket path must stay under ~100 bytes.
    return Home(Path(tempfile.mkdtemp(prefix="qbarr-demo-", dir="/tmp"))), True


def run(args: argparse.Namespace, home: Home) -> int:
    if args.real_qbittorrent and not demo.real_qbittorrent_available():
        print(
            "qbarr demo: --real-qbittorrent needs qbittorrent-nox "
            "(apt-get install qbittorrent-nox)",
            file=sys.stderr,
        )
        return EX_FAIL
    home, temporary = choose_home(args, home)
    plan = demo.DemoPlan(home=home, real_qbittorrent=args.real_qbittorrent)
    demo.write(plan)
    print(f"qbarr demo: data dir {home.root}", flush=True)
    stop_requested: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop_requested.append(signum))
    proc = _start(home)
    try:
        if not _wait_running(home, proc, stop_requested):
            return EX_FAIL
        if args.real_qbittorrent:
            _seed_real_torrents(plan)
        _announce(plan)
        _watch(home, proc, stop_requested, args.duration)
        return 0 if proc.poll() is None or proc.returncode == 0 else EX_FAIL
    finally:
        _stop(proc)
        if temporary and not args.keep:
            shutil.rmtree(home.root, ignore_errors=True)
        elif temporary:
            print(f"qbarr demo: kept {home.root}")


def _start(home: Home) -> subprocess.Popen[bytes]:
    qbarr = find_tool("qbarr") or "qbarr"
    with open(home.logs / "demo-run.log", "ab") as out:
        return subprocess.Popen(
            [qbarr, "run", "--home", str(home.root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _states(home: Home) -> dict[str, str]:
    try:
        return {full_name(i): i["statename"] for i in Supervisor(home.supervisor_url).processes()}
    except SupervisionError:
        return {}


def _wait_running(home: Home, proc: subprocess.Popen[bytes], stop: list[int]) -> bool:
    """Show each program's state changes until all are RUNNING; False on failure or Ctrl-C."""
    print("qbarr demo: starting supervisord and the programs ...", flush=True)
    deadline = time.monotonic() + START_TIMEOUT
    seen: dict[str, str] = {}
    while time.monotonic() < deadline and not stop:
        if proc.poll() is not None:
            log = (home.logs / "demo-run.log").read_text(errors="replace")[-2000:]
            print(f"qbarr demo: the suite exited ({proc.returncode}):\n{log}", file=sys.stderr)
            return False
        states = _states(home)
        for name, state in sorted(states.items()):
            if seen.get(name) != state:
                print(f"  {name:<28} {state}", flush=True)
        seen = states
        if states and all(s == "RUNNING" for s in states.values()):
            print(f"qbarr demo: all {len(states)} programs RUNNING", flush=True)
            return True
        time.sleep(0.3)
    if not stop:
        print(
            f"qbarr demo: not every program RUNNING after {START_TIMEOUT:.0f}s: {seen}",
            file=sys.stderr,
        )
    return False


def _announce(plan: demo.DemoPlan) -> None:
    home = plan.home.root
    print(
        f"""
qbarr demo is running.
  web UI    {plan.webui_url}   (log in with the token: {plan.token})
  programs  qbarr --home {home} ctl status
  decisions qbarr --home {home} status      qbarr --home {home} why HASH
  logs      {plan.home.logs}/
Press Ctrl-C to stop.
""",
        flush=True,
    )


def _summary(home: Home) -> str:
    try:
        db = connect(home.database)
        try:
            by_rule = rows(
                db, "SELECT rule, COUNT(*) AS n FROM decisions GROUP BY rule ORDER BY n DESC"
            )
            by_kind = rows(
                db, "SELECT kind, COUNT(*) AS n FROM actions WHERE status = 'done' GROUP BY kind"
            )
        finally:
            db.close()
    except Exception as exc:  # the summary is a nicety: never stop the demo for it
        return f"(no summary: {exc})"
    rules = ", ".join(f"{r['rule']} {r['n']}" for r in by_rule) or "none yet"
    acts = ", ".join(f"{r['kind']} {r['n']}" for r in by_kind) or "none yet"
    return f"decisions: {rules} | actions done: {acts}"


def _watch(home: Home, proc: subprocess.Popen[bytes], stop: list[int], duration: float) -> None:
    started = time.monotonic()
    next_summary = started
    while not stop and proc.poll() is None:
        if duration and time.monotonic() - started >= duration:
            break
        if time.monotonic() >= next_summary:
            print(f"[{time.strftime('%H:%M:%S')}] {_summary(home)}", flush=True)
            next_summary += SUMMARY_EVERY
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGTERM to supervisord (an orderly stop of every program), then wait."""
    if proc.poll() is not None:
        return
    print("qbarr demo: stopping ...", flush=True)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    print(f"qbarr demo: stopped in {time.monotonic() - began:.1f}s", flush=True)


def _seed_real_torrents(plan: demo.DemoPlan) -> None:
    """Give the real qbittorrent-nox two complete torrents made from local data (they get
    imported)."""
    from qbarr.qbittorrent import QbtClient, QbtConflict, QbtError
    from qbarr.torrentfile import make_torrent, write_payload

    downloads = plan.demo_dir / "downloads"
    try:
        with QbtClient(plan.url(plan.qbt_port), "admin", plan.qbt_password) as qbt:
            for category, name in (
                ("radarr", "Demo.Movie.2024.1080p.WEB"),
                ("sonarr", "Demo.Show.S01E01.720p.WEB"),
            ):
                payload = write_payload(downloads / name, [4 * 2**20, 64 * 2**10], seed=len(name))
                with contextlib.suppress(QbtConflict):  # the Arr simulator made it already
                    qbt.create_category(category)
                qbt.add(
                    torrent_files=[make_torrent(payload)],
                    category=category,
                    save_path=str(downloads),
                )
    except QbtError as exc:
        print(f"qbarr demo: could not add the demo torrents: {exc}", file=sys.stderr)
