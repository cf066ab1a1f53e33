"""`qbarr ctl ARGS`: supervisorctl against this data dir's control socket.

``qbarr ctl status``, ``qbarr ctl restart arr:arr-radarr-4k``, ``qbarr ctl tail -f arr:arr-x``
and every other supervisorctl command; it execs ``supervisorctl -c <data dir>/supervisord.conf``.
One exception: ``qbarr ctl update`` (no argument) applies programs.d the qbarr way, where
only the Arr managers that were added, removed or changed stop or start (supervisorctl's
own update restarts the whole ``arr`` group when one of its programs changes).
"""

from __future__ import annotations

import argparse
import os
import sys

from qbarr.paths import Home
from qbarr.render import install_supervisord_conf
from qbarr_programs.commands.common import EX_FAIL, find_tool

NAME = "ctl"
HELP = "run supervisorctl for this data dir (e.g. `qbarr ctl status`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help="supervisorctl arguments")


def run(args: argparse.Namespace, home: Home) -> int:
    ctl_args = [a for a in args.args if a != "--"] if args.args[:1] == ["--"] else list(args.args)
    if ctl_args == ["update"]:
        from qbarr_programs.commands.render import apply

        return apply(home)
    if not home.supervisord_conf.exists():
        home.root.mkdir(parents=True, exist_ok=True)
        install_supervisord_conf(home)
    supervisorctl = find_tool("supervisorctl")
    if supervisorctl is None:
        print("qbarr ctl: supervisorctl not found (pip install supervisor)", file=sys.stderr)
        return EX_FAIL
    sys.stdout.flush()
    os.execv(supervisorctl, [supervisorctl, "-c", str(home.supervisord_conf), *ctl_args])
    return EX_FAIL  # not reached
