"""`qbarr run-program PROGRAM`: one program in the foreground, without supervisord.

The entry point when an orchestrator (Kubernetes, Docker Compose or Swarm) is the supervisor:
one container runs one program, ``arr-<slug>``, ``search-<slug>`` or ``webui``, with the
names ``qbarr render`` gives them. Before anything starts it does what ``qbarr run`` does for
the whole suite, for this one program: config.ini is validated (exit 78 naming file, section
and key), the database is checked and migrated (exit 78 with one line when it is unusable),
and the program must exist in config.ini (exit 78 listing the ones that do). Then it
*execs* the program: the program keeps this process's pid (PID 1 in a container), so the
orchestrator's SIGTERM reaches it directly; the program stops after its current step (at
most ``STOP_GRACE`` seconds later, exit 0), and a crash exits non-zero, so the orchestrator
restarts it. A second copy on the same data dir waits for the first (naming it: pid, host,
since when) and takes over when it is gone, instead of exiting into a restart loop
(:func:`qbarr.lifeline.wait_for_lock`); copies on other hosts wait on the lease.

There is no ``watchdog`` here: it is supervisord's event listener. Under an orchestrator the
liveness probe (``qbarr health PROGRAM``, which reads the heartbeat) takes its place, and the
orchestrator's restart policy replaces supervisord's.
"""

from __future__ import annotations

import argparse
import os
import sys

from qbarr import db as dbmod
from qbarr import lifeline, privileges, store
from qbarr.config import Config
from qbarr.paths import Home
from qbarr.render import arr_programs, search_programs

from .common import EX_CONFIG, find_tool, load_or_report

NAME = "run-program"
HELP = "run one program (arr-<slug>, search-<slug>, webui) in the foreground, without supervisord"
PROG = "qbarr run-program"
MODULES = {"qbarr-arr": "arr", "qbarr-search": "search", "qbarr-webui": "webui"}


class UnknownProgram(Exception):
    """The name is not a program of this config.ini (the message lists those that are)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", help="arr-<slug>, search-<slug> or webui (`qbarr ctl status`)")
    parser.add_argument(
        "--dry-run", action="store_true", help="check and migrate, print the command, run nothing"
    )


def program_argv(cfg: Config, program: str) -> list[str]:
    """The command line of ``program`` (the one ``qbarr render`` gives supervisord)."""
    if program == "webui":
        return ["qbarr-webui"]
    known = {p.name: list(p.argv) for p in (*arr_programs(cfg), *search_programs(cfg))}
    if program in known:
        return known[program]
    if program == "watchdog":
        raise UnknownProgram(
            "watchdog is supervisord's event listener and has no use without it: under an "
            "orchestrator, give each manager a liveness probe (`qbarr health arr-<slug>`) instead"
        )
    names = ", ".join(["webui", *sorted(known)])
    raise UnknownProgram(f"{program!r} is not a program of {cfg.path}; its programs: {names}")


def resolved(argv: list[str]) -> list[str]:
    """Our own console script when it can be found, else ``python -m`` its module."""
    tool = find_tool(argv[0])
    if tool is not None:
        return [tool, *argv[1:]]
    return [sys.executable, "-m", f"qbarr_programs.{MODULES[argv[0]]}", *argv[1:]]


def fail(message: str, code: int = EX_CONFIG) -> int:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return code


def run(args: argparse.Namespace, home: Home) -> int:
    cfg = load_or_report(home.config, PROG)
    if cfg is None:
        return fail(f"{args.program} not started")
    try:
        argv = resolved(program_argv(cfg, args.program))
    except UnknownProgram as exc:
        return fail(str(exc))
    home.ensure()
    try:
        where = store.location(home)
        dbmod.check_file(where)
        dbmod.open_migrated(where).close()
    except (dbmod.DatabaseUnusable, store.BadLocation, ConnectionError) as exc:
        return fail(str(exc))
    if args.dry_run:
        print(" ".join(argv))
        return 0
    privileges.maybe_drop(home.root)
    # a second copy waits for the first instead of exiting (qbarr.lifeline.wait_for_lock)
    env = dict(os.environ, QBARR_HOME=str(home.root), PYTHONUNBUFFERED="1")
    env[lifeline.WAIT_ENV] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)
    return 1  # not reached
