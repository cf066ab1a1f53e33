"""qbarr-arr: the manager of one Arr instance (supervisord program ``arr-<slug>``).

    qbarr-arr --instance NAME [--home DIR]

The entry point only: parse the command line, start the runtime (logging, signals,
process title), open the database, and run :class:`qbarr.arrmanager.ArrManager`'s step in
the program loop (qbarr.runtime.run_loop).

Signals: TERM = stop after the current step (exit 0), HUP = reload config.ini (new
LoopInterval, new URLs or keys reconnect), USR1 = stack dump into the log.
Debug triggers: ``<data dir>/debug/crash-<slug>`` (crash at start), ``hang-<slug>`` (hang).
"""

from __future__ import annotations

import argparse
import logging
import os

from qbarr import config as configmod
from qbarr.paths import DEBUG_DIR, debug_trigger, resolve_home

COMMAND = "qbarr-arr"
log = logging.getLogger(COMMAND)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=COMMAND, description="qbarr manager of one Arr instance")
    parser.add_argument(
        "--instance", required=True, help="the Arr section name in config.ini (or its slug)"
    )
    parser.add_argument("--home", help="data dir (default: $QBARR_HOME, /config, ~/.config/qbarr)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = resolve_home(args.home)
    slug = configmod.slugify(args.instance)
    # The crash trigger is looked at before the heavy imports (a second or more on a loaded
    # machine): a crash at start must come within supervisord's startsecs, or supervisord
    # sees a RUNNING program exit and restarts it for ever instead of going FATAL.
    if debug_trigger(home, "crash", slug):
        raise SystemExit(f"debug: {home.root}/{DEBUG_DIR}/crash-{slug} exists: crashing on purpose")
    from qbarr import runtime
    from qbarr.arrmanager import ArrManager

    ctx = runtime.start(COMMAND, label=f"arr-{slug}", home=home, title=args.instance)
    db = runtime.open_database(ctx)
    manager = ArrManager(ctx, home, args.instance, db)
    # The heartbeat row is written once this copy holds the instance's lease (its first step).
    runtime.tolerate_storage(ctx, manager.load_config)
    if manager.instance is not None:
        runtime.set_title(f"{COMMAND} {manager.instance.name}")
    log.info("started (pid %d)", os.getpid())
    # After a write lost to a full disk, drop the cycle's in-memory state (clients, journal
    # caches): the next step reconnects and reads the journal afresh (reset=).
    return runtime.run_loop(
        ctx, manager.step, manager.interval, manager.reload, manager.close, reset=manager.disconnect
    )


if __name__ == "__main__":
    raise SystemExit(main())
