"""`qbarr ctl ARGS`: supervisorctl against this data dir's control socket.

``qbarr ctl status``, ``qbarr ctl restart arr:arr-radarr-4k``, ``qbarr ctl tail -f arr:arr-x``
and every other supervisorctl command; it execs ``supervisorctl -c <data dir>/supervisord.conf``.
Two additions: ``qbarr ctl update`` (no argument) applies programs.d under the lock that
``qbarr render`` and the web UI's Apply take (they never interleave), and ``qbarr ctl tail
[-f] watchdog`` shows the watchdog's log, which is its stderr (its stdout is the event
protocol, so plain supervisorctl says "no log file" unless told ``stderr``).
"""

from __future__ import annotations

import argparse
import os
import sys

from qbarr.paths import Home
from qbarr.render import install_supervisord_conf

from .common import EX_FAIL, find_tool

NAME = "ctl"
LISTENERS = ("watchdog",)  # event listeners: their log is their stderr
HELP = "run supervisorctl for this data dir (e.g. `qbarr ctl status`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help="supervisorctl arguments")


def listener_tail(ctl_args: list[str]) -> list[str]:
    """``tail [-f] [-N] watchdog`` -> ``... watchdog stderr`` (an event listener logs there)."""
    if ctl_args[:1] != ["tail"]:
        return ctl_args
    names = [a for a in ctl_args[1:] if not a.startswith("-")]
    if len(names) == 1 and names[0].split(":")[-1] in LISTENERS:
        return [*ctl_args, "stderr"]
    return ctl_args


def run(args: argparse.Namespace, home: Home) -> int:
    ctl_args = [a for a in args.args if a != "--"] if args.args[:1] == ["--"] else list(args.args)
    ctl_args = listener_tail(ctl_args)
    if ctl_args == ["update"]:
        from .render import apply

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
