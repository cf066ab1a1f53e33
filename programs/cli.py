"""qbarr: the operator's command line (``qbarr --help``).

Every subcommand takes ``--home DIR`` (else ``$QBARR_HOME``, else ``/config`` when it exists,
else ``~/.config/qbarr``), before or after the subcommand name. The subcommands live in
:mod:`qbarr_programs.commands` (one module each; see there how to add one).
"""

from __future__ import annotations

import argparse
import os
import sys

from qbarr import __version__
from qbarr.config import EX_CONFIG
from qbarr.paths import private_umask, resolve_home
from qbarr.store import BadLocation

from .commands import COMMANDS

HOME_HELP = "data dir (default: $QBARR_HOME, else /config if it exists, else ~/.config/qbarr)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbarr",
        description="qbarr keeps the qBittorrent downloads of Radarr, Sonarr and Lidarr healthy.",
    )
    parser.add_argument("--version", action="version", version=f"qbarr {__version__}")
    parser.add_argument("--home", help=HOME_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        cmd.add_argument("--home", default=argparse.SUPPRESS, help=HOME_HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    private_umask()  # qbarr run passes it on to supervisord and every program
    home = resolve_home(args.home)
    try:
        return int(args.handler(args, home))
    except BadLocation as exc:  # [Settings] Database unusable: one line, for every command
        print(f"qbarr {args.command}: {exc}", file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `qbarr why X | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
