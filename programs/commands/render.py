"""`qbarr render`: write programs.d from config.ini and apply it to a running supervisord."""

from __future__ import annotations

import argparse
import sys

from qbarr.paths import Home
from qbarr.render import RenderError, install_supervisord_conf, write_programs
from qbarr.supervision import SupervisionError, Supervisor, SupervisorUnreachable, update
from qbarr_programs.commands.common import EX_CONFIG, EX_FAIL, load_or_report

NAME = "render"
HELP = "write programs.d/arr.conf and search.conf from config.ini; apply them if supervisord runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-update", action="store_true", help="only write the files")


def apply(home: Home) -> int:
    """`supervisorctl update`, qbarr-style: only the changed programs stop or start."""
    try:
        result = update(home.supervisor_url)
    except SupervisorUnreachable:
        print("supervisord is not running: the files apply at the next `qbarr run`")
        return 0
    except SupervisionError as exc:
        print(f"qbarr render: update failed: {exc}", file=sys.stderr)
        return EX_FAIL
    for line in result.lines():
        print(line)
    return 0


def run(args: argparse.Namespace, home: Home) -> int:
    cfg = load_or_report(home.config, "qbarr render")
    if cfg is None:
        return EX_CONFIG
    try:
        home.ensure()
        changed = write_programs(cfg, home)
    except RenderError as exc:
        print(f"qbarr render: {exc}", file=sys.stderr)
        return EX_CONFIG
    install_supervisord_conf(home)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"{home.programs_dir}: unchanged")
    if args.no_update:
        return 0
    if not Supervisor(home.supervisor_url).is_running():
        print("supervisord is not running: the files apply at the next `qbarr run`")
        return 0
    return apply(home)
