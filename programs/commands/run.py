"""`qbarr run`: validate, migrate, render, then become supervisord (exec).

This is what Docker's ENTRYPOINT and the systemd unit start. After the exec, supervisord
has this process's pid (PID 1 in a container): it reaps orphans and turns SIGTERM into an
orderly stop of every program. Nothing is started when config.ini is unusable (exit 78).
"""

from __future__ import annotations

import argparse
import os
import sys

from qbarr import db as dbmod
from qbarr import privileges
from qbarr.paths import Home
from qbarr.render import RenderError, check_home, install_supervisord_conf, write_programs
from qbarr.supervision import Supervisor
from qbarr_programs.commands.common import (
    EX_CONFIG,
    EX_FAIL,
    find_tool,
    load_or_report,
    scripts_dir,
)
from qbarr_programs.commands.init import announce, write_starter

NAME = "run"
HELP = "validate config.ini, migrate the database, render, then exec supervisord -n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="do everything but the exec; print the command"
    )


def prepare(home: Home) -> int:
    """Everything before the exec; returns 0 or an exit code."""
    try:
        check_home(home)
    except RenderError as exc:
        print(f"qbarr run: {exc}", file=sys.stderr)
        return EX_CONFIG
    if not home.config.exists():
        token = write_starter(home)
        if token is not None:
            announce(home, token)
    cfg = load_or_report(home.config, "qbarr run")
    if cfg is None:
        print("qbarr run: nothing started", file=sys.stderr)
        return EX_CONFIG
    if Supervisor(home.supervisor_url).is_running():
        print(
            f"qbarr run: supervisord already runs for {home.root}; use `qbarr ctl ...`",
            file=sys.stderr,
        )
        return EX_FAIL
    home.ensure()
    dbmod.open_migrated(home.database).close()
    install_supervisord_conf(home)
    write_programs(cfg, home)
    return 0


def exec_env(home: Home) -> dict[str, str]:
    env = dict(os.environ, QBARR_HOME=str(home.root), PYTHONUNBUFFERED="1")
    bindir = scripts_dir()
    if bindir is not None:  # programs are found even when the venv is not activated
        env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", os.defpath)])
    return env


def run(args: argparse.Namespace, home: Home) -> int:
    code = prepare(home)
    if code:
        return code
    supervisord = find_tool("supervisord")
    if supervisord is None:
        print("qbarr run: supervisord not found (pip install supervisor)", file=sys.stderr)
        return EX_FAIL
    argv = [supervisord, "-n", "-c", str(home.supervisord_conf)]
    if args.dry_run:
        print(" ".join(argv))
        return 0
    privileges.maybe_drop(home.root)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(supervisord, argv, exec_env(home))
    return EX_FAIL  # not reached
