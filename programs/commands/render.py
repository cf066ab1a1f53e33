"""`qbarr render`: write programs.d from config.ini and apply it to a running supervisord.

Render and apply happen under ``run/apply.lock`` (shared with the web UI's Apply): a second
one waits for the first. Exit 0 when the files are written and applied (or supervisord is
not running: they apply at the next ``qbarr run``), 1 when supervisord does not answer or an
update fails (the lines say what had already been done), 78 when config.ini is unusable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from qbarr import locks, supervision
from qbarr.paths import Home
from qbarr.render import RenderError

from .common import EX_CONFIG, EX_FAIL, load_or_report

NAME = "render"
HELP = "write programs.d/arr.conf and search.conf from config.ini; apply them if supervisord runs"
NOT_RUNNING = "supervisord is not running: the files apply at the next `qbarr run`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-update", action="store_true", help="only write the files")


def announce_wait(prog: str) -> Callable[[int | None], None]:
    def waiting(pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        print(
            f"{prog}: waiting for {who} (another `qbarr render` or the web UI's Apply) to finish",
            file=sys.stderr,
            flush=True,
        )

    return waiting


def report(update: supervision.UpdateResult | None) -> None:
    if update is None:
        print(NOT_RUNNING)
        return
    for line in update.lines():
        print(line)


def failed(prog: str, exc: Exception) -> int:
    if isinstance(exc, locks.LockHeld):
        print(f"{prog}: gave up waiting: {exc}", file=sys.stderr)
    elif isinstance(exc, supervision.UpdateFailed):
        print(f"{prog}: update failed: {exc}", file=sys.stderr)
    else:
        print(f"{prog}: {exc}", file=sys.stderr)
    return EX_FAIL


def apply(home: Home) -> int:
    """`qbarr ctl update`: apply programs.d as it is (no render)."""
    try:
        update = supervision.update_locked(home, waiting=announce_wait("qbarr ctl update"))
    except (locks.LockHeld, supervision.SupervisionError) as exc:
        return failed("qbarr ctl update", exc)
    report(update)
    return 0


def run(args: argparse.Namespace, home: Home) -> int:
    cfg = load_or_report(home.config, "qbarr render")
    if cfg is None:
        return EX_CONFIG
    try:
        home.ensure()
        applied = supervision.render_and_update(
            home,
            cfg,
            apply=not args.no_update,
            waiting=announce_wait("qbarr render"),
            install_conf=True,
        )
    except RenderError as exc:
        print(f"qbarr render: {exc}", file=sys.stderr)
        return EX_CONFIG
    except locks.LockHeld as exc:
        return failed("qbarr render", exc)
    for path in applied.written:
        print(f"wrote {path}")
    if not applied.written:
        print(f"{home.programs_dir}: unchanged")
    if applied.error is not None:
        return failed("qbarr render", applied.error)
    if not args.no_update:
        report(applied.update if applied.running else None)
    return 0
