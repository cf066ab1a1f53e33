"""`qbarr run`: validate, check and migrate the database, render, then start supervisord.

This is what Docker's ENTRYPOINT and the systemd unit start. In order:

1. The data dir lock (``run/supervisord.lock``): a second ``qbarr run`` for the same data
   dir refuses (exit 1) naming the pid that holds it. The lock passes to supervisord and
   lives as long as it does.
2. No leftover program of this data dir may still run (an orphan of a supervisord that was
   killed): ``qbarr run`` waits a few seconds for them (they stop on their own when their
   supervisord dies), then refuses (exit 1) naming each one with its pid.
3. config.ini (exit 78 naming file, section and key when unusable; a starter file when
   there is none) and qbarr.db (exit 78 with one line when it is unreadable, damaged or
   from a newer qbarr: :func:`qbarr.db.check_file`; the file is left as it is), then
   migrations, the one-time switch to incremental vacuum (:mod:`qbarr.retention`), and the
   rendered ``programs.d``.
4. supervisord, as described in :mod:`qbarr.launcher`: exec'd when there is no terminal
   (systemd, Docker: it keeps the pid, PID 1 in a container), or in its own session behind
   ``qbarr run`` when a terminal could hang up on it (closing the terminal stops the suite
   in order).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from qbarr import db as dbmod
from qbarr import launcher, lifeline, locks, privileges, store, supervision
from qbarr.paths import Home
from qbarr.render import RenderError, check_home, install_supervisord_conf, write_programs
from qbarr.supervision import SupervisionError, Supervisor

from .common import (
    EX_CONFIG,
    EX_FAIL,
    find_tool,
    load_or_report,
    scripts_dir,
)
from .init import announce, write_starter

NAME = "run"
HELP = "validate config.ini, check and migrate the database, render, then start supervisord"
ORPHAN_WAIT = 10.0
"""Seconds to wait for programs of a killed supervisord: they stop within 5 s of its death."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="do everything but starting supervisord"
    )


def fail(message: str, code: int = EX_FAIL) -> int:
    print(f"qbarr run: {message}", file=sys.stderr, flush=True)
    return code


def take_data_dir(home: Home) -> tuple[locks.FileLock | None, int]:
    """The data dir lock, once nothing of an earlier suite runs; (lock, 0) or (None, code)."""
    try:
        lock = locks.FileLock.named(home, locks.RUN_LOCK).acquire(inheritable=True)
    except locks.LockHeld as held:
        who = f"pid {held.pid}" if held.pid else "another process"
        return None, fail(
            f"the suite already runs for {home.root} ({who} holds {held.path}); "
            f"control it with `qbarr --home {home.root} ctl ...`"
        )
    try:
        pid = Supervisor(home.supervisor_url, timeout=5).pid()
    except SupervisionError:
        pid = None
    if pid is not None:  # a supervisord that predates the lock
        lock.release()
        return None, fail(f"the suite already runs for {home.root} (supervisord pid {pid})")
    left = lifeline.supervised_processes(home)
    if left:
        names = ", ".join(p.describe() for p in left)
        print(f"qbarr run: waiting up to {ORPHAN_WAIT:g} s for {names} to exit", flush=True)
        left = lifeline.wait_gone(home, ORPHAN_WAIT)
    holders = locks.held_locks(home, exclude=(locks.RUN_LOCK, locks.APPLY_LOCK))
    if left or holders:
        lock.release()
        found = [p.describe() for p in left]
        seen = {p.pid for p in left}
        found += [f"{n} (pid {pid})" for n, pid in holders.items() if pid not in seen]
        pids = " ".join(str(p.pid) for p in left) or " ".join(str(p) for p in holders.values())
        return None, fail(
            f"programs of {home.root} still run without their supervisord: {', '.join(found)}; "
            f"stop them (kill {pids}) and run again; nothing was started"
        )
    return lock, 0


def prepare(home: Home) -> tuple[locks.FileLock | None, int]:
    """Everything before supervisord starts; returns (the data dir lock, 0) or (None, code).

    A bad config.ini is refused before anything is created in the data dir.
    """
    try:
        check_home(home)
    except RenderError as exc:
        return None, fail(str(exc), EX_CONFIG)
    if not home.config.exists():
        token = write_starter(home)
        if token is not None:
            announce(home, token)
    cfg = load_or_report(home.config, "qbarr run")
    if cfg is None:
        return None, fail("nothing started", EX_CONFIG)
    home.ensure()
    lock, code = take_data_dir(home)
    if lock is None:
        return None, code
    try:
        where = store.location(home)
        dbmod.check_file(where)
        dbmod.open_migrated(where).close()
    except (dbmod.DatabaseUnusable, store.BadLocation, ConnectionError) as exc:
        lock.release()
        return None, fail(str(exc), EX_CONFIG)
    if not store.is_postgresql(where):
        _incremental_vacuum(Path(where))
    install_supervisord_conf(home)
    write_programs(cfg, home)
    supervision.forget_removed(home, cfg)  # nothing runs yet: removed instances leave
    return lock, 0


def _incremental_vacuum(path: Path) -> None:
    """Once per database file; a failure (no room for the copy) is reported, not fatal."""
    try:
        size = path.stat().st_size
        if dbmod.ensure_incremental_vacuum(path):
            print(f"qbarr run: {path} switched to incremental vacuum ({size >> 20} MiB)")
    except Exception as exc:  # noqa: BLE001 - the suite runs fine without it
        print(f"qbarr run: could not switch {path} to incremental vacuum: {exc}", file=sys.stderr)


def exec_env(home: Home) -> dict[str, str]:
    env = dict(os.environ, QBARR_HOME=str(home.root), PYTHONUNBUFFERED="1")
    bindir = scripts_dir()
    if bindir is not None:  # programs are found even when the venv is not activated
        env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", os.defpath)])
    return env


def supervisord_argv(home: Home) -> list[str]:
    """``qbarr-supervisord -n -c <conf>`` (see :mod:`qbarr.launcher`)."""
    tool = find_tool("qbarr-supervisord")
    head = [tool] if tool else [sys.executable, "-m", "qbarr_programs.supervisord"]
    return [*head, "-n", "-c", str(home.supervisord_conf)]


def banner(home: Home, own_session: bool) -> None:
    ctl = find_tool("supervisorctl") or "supervisorctl"
    lines = [
        f"qbarr run: starting supervisord for {home.root} (logs in {home.logs})",
        f"  control it: qbarr --home {home.root} ctl status"
        f"   (or {ctl} -c {home.supervisord_conf} status)",
    ]
    if own_session:
        lines.append(
            "  Ctrl-C or closing this terminal stops the suite; to run it unattended use "
            "systemd, Docker or a tmux session (README: Operating it)"
        )
    print("\n".join(lines), flush=True)


def run(args: argparse.Namespace, home: Home) -> int:
    lock, code = prepare(home)
    if lock is None:
        return code
    argv = supervisord_argv(home)
    if args.dry_run:
        print(" ".join(argv))
        return 0
    privileges.maybe_drop(home.root)
    if os.geteuid() == 0:  # on purpose (no PUID): say so, instead of supervisord's CRIT line
        argv += ["--user", "root"]
    own_session = launcher.needs_own_session()
    banner(home, own_session)
    if own_session:
        return launcher.run_in_own_session(argv, exec_env(home), pass_fds=[lock.fd or 0])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, exec_env(home))
    return EX_FAIL  # not reached
