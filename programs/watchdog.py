"""qbarr-watchdog: supervisord event listener that keeps the suite alive.

Subscribed (supervisord.conf) to ``PROCESS_STATE``, ``TICK_5``, ``TICK_60`` and
``SUPERVISOR_STATE_CHANGE``. The rules are in :mod:`qbarr.watchdog`; this module speaks the
listener protocol, reads state over XML-RPC and the database, and carries the actions out.

On every ``TICK_5`` it also keeps qbarr.db small (:mod:`qbarr.retention`): old journal rows
are pruned in short batches within a fraction of a second while there is a backlog, then
once an hour, and freed pages are given back to the filesystem.

When supervisord starts stopping (``SUPERVISOR_STATE_CHANGE_STOPPING``: a stop or a reload)
the watchdog has nothing left to do: it exits at once, before supervisord would stop it as
the last group, so a shutdown is a step shorter and no restart or record is attempted
against a supervisord that refuses them (``SHUTDOWN_STATE``).

Protocol (supervisor.childutils): write ``READY``; read a header line and ``len`` bytes of
payload; answer ``RESULT 2\\nOK``. **stdout belongs to the protocol**: logs go to stderr
(supervisord writes them to logs/watchdog.log). Every action is non-blocking
(``startProcess(wait=False)``, signals), so an event is answered within milliseconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from collections import Counter
from typing import Any, BinaryIO

from qbarr import config as configmod
from qbarr import heartbeat, retention, runtime, storage
from qbarr.db import is_storage_error, unavailable_errors, write_txn
from qbarr.paths import Home, resolve_home
from qbarr.supervision import SupervisionError, Supervisor, SupervisorFault
from qbarr.watchdog import Action, Policy, StateEvent

COMMAND = "qbarr-watchdog"
log = logging.getLogger(COMMAND)
SIGNAL_PAUSE = 0.3  # between USR1 and TERM, so the stack dump is written first


def read_event(stdin: BinaryIO) -> tuple[dict[str, str], str]:
    """One event: header tokens and the payload text. EOFError when supervisord is gone."""
    line = stdin.readline()
    if not line:
        raise EOFError("supervisord closed the listener's stdin")
    headers = dict(token.split(":", 1) for token in line.decode().split() if ":" in token)
    payload = stdin.read(int(headers.get("len", "0")))
    return headers, payload.decode(errors="replace")


def send(stdout: BinaryIO, text: bytes) -> None:
    stdout.write(text)
    stdout.flush()


class Watchdog:
    """Carries out the policy's actions against supervisord and the database."""

    def __init__(self, ctx: runtime.Context, home: Home, supervisor: Supervisor, db: Any) -> None:
        self.ctx = ctx
        self.home = home
        self.sup = supervisor
        self.db = db
        self.policy = Policy()
        self.own_name = os.environ.get("SUPERVISOR_PROCESS_NAME", "watchdog")
        self.config_mtime: float | None = None
        self.housekeeper = retention.Housekeeper()
        self.storage_full = False
        self.pruned: Counter[str] = Counter()

    def load_config(self) -> None:
        """Take HeartbeatTimeout and RestartBackoffMax from config.ini (keep the old on error)."""
        try:
            self.config_mtime = self.home.config.stat().st_mtime
            cfg = configmod.load(self.home.config)
        except (OSError, configmod.ConfigError) as exc:
            log.error("config.ini unusable, keeping the previous limits: %s", exc)
            return
        self.ctx.use_config(cfg)
        self.policy.heartbeat_timeout = float(cfg.settings["HeartbeatTimeout"])
        self.policy.backoff_max = float(cfg.settings["RestartBackoffMax"])
        self.housekeeper.keep = float(cfg.settings["JournalRetention"])
        log.info(
            "limits: HeartbeatTimeout %gs, RestartBackoffMax %gs, JournalRetention %gd",
            self.policy.heartbeat_timeout,
            self.policy.backoff_max,
            self.housekeeper.keep / 86400,
        )

    def config_changed(self) -> bool:
        try:
            return self.home.config.stat().st_mtime != self.config_mtime
        except OSError:
            return False

    def handle(self, headers: dict[str, str], payload: str) -> None:
        name = headers.get("eventname", "")
        now = time.time()
        if name == "SUPERVISOR_STATE_CHANGE_STOPPING":
            self.stop("supervisord is stopping")
        elif name.startswith("PROCESS_STATE_"):
            event = StateEvent.parse(name, payload)
            if event.name != self.own_name:
                self.perform(self.policy.on_state(event, now))
        elif name.startswith("TICK_"):
            if name == "TICK_60" and self.config_changed():
                self.load_config()
            try:
                processes = self.sup.processes()
            except SupervisionError as exc:
                self._supervisor_error("reading the process list", exc)
                return
            writable = self.database_writable()
            beats = heartbeat.by_program(self.db)
            self.perform(self.policy.on_tick(now, processes, beats, check_hangs=writable))
            if name == "TICK_5":
                self.keep_database_small()

    def database_writable(self) -> bool:
        """Can qbarr.db be written now? (A small write, and the data dir's free space.) A full
        disk is logged once when it starts and once when it ends."""
        why = storage.warning(self.home.root)
        if why is None:
            try:
                with write_txn(self.db) as db:
                    db.execute(
                        "INSERT INTO kv (key, value, updated_at) VALUES ('watchdog', ?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                        "updated_at = excluded.updated_at",
                        (str(os.getpid()), time.time()),
                    )
            except unavailable_errors() as exc:
                if not is_storage_error(exc):
                    raise
                why = f"qbarr.db cannot be written: {exc}"
        if why is not None and not self.storage_full:
            log.error("%s; hang checks paused (programs cannot write heartbeats)", why)
        elif why is None and self.storage_full:
            log.warning("qbarr.db is writable again: hang checks resume")
        self.storage_full = why is not None
        return not self.storage_full

    def keep_database_small(self) -> None:
        """A bounded step of pruning / vacuuming when due; a summary line when caught up."""
        try:
            outcome = self.housekeeper.step(self.db)
        except sqlite3.OperationalError as exc:  # busy for 30 s, or the disk: next time
            log.warning("pruning qbarr.db failed, retrying in a minute: %s", exc)
            self.housekeeper.next_at = time.time() + 60
            return
        if outcome is None:
            return
        pruned, freed = outcome
        self.pruned.update({t: n for t, n in pruned.deleted.items() if n})
        self.pruned["pages given back"] += freed
        if self.housekeeper.next_at > time.time() and any(self.pruned.values()):
            summary = ", ".join(f"{t} {n}" for t, n in sorted(self.pruned.items()) if n)
            log.info("pruned qbarr.db (older than JournalRetention): %s", summary)
            self.pruned.clear()

    def stop(self, why: str) -> None:
        if not self.ctx.signals.stop_requested:
            log.info("%s: the watchdog stops", why)
        self.ctx.signals.request_stop()

    def _supervisor_error(self, doing: str, exc: SupervisionError) -> None:
        if isinstance(exc, SupervisorFault) and exc.name == "SHUTDOWN_STATE":
            self.stop("supervisord is stopping")  # an event may beat STOPPING: no traceback
        else:
            log.warning("%s failed: %s", doing, exc)

    def perform(self, actions: list[Action]) -> None:
        for action in actions:
            if self.ctx.signals.stop_requested:
                return
            try:
                self._perform(action)
            except SupervisionError as exc:
                self._supervisor_error(f"{action.kind} {action.target}", exc)

    def _perform(self, action: Action) -> None:
        if action.kind == "start":
            log.info("starting %s", action.target)
            self.sup.start(action.target, wait=False)
        elif action.kind == "signal":
            log.info("sending SIG%s to %s", action.signal, action.target)
            self.sup.signal(action.target, action.signal)
            if action.signal == "USR1":
                time.sleep(SIGNAL_PAUSE)
        elif action.kind == "record":
            level = logging.INFO if action.event == "restart" else logging.WARNING
            pid = f" (pid {action.pid})" if action.pid else ""
            log.log(level, "%s %s%s: %s", action.event, action.target, pid, action.detail)
            self.record(action)

    def record(self, action: Action) -> None:
        detail = action.detail
        if action.event in ("backoff", "fatal"):
            detail = f"{detail} [{self._description(action.target)}]"
        program = action.target.split(":", 1)[-1]
        try:
            with write_txn(self.db) as db:
                db.execute(
                    "INSERT INTO crashes (program, event, pid, from_state, detail, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (program, action.event, action.pid, action.from_state, detail, time.time()),
                )
        except unavailable_errors() as exc:
            if not is_storage_error(exc):
                raise
            log.error("could not record %s %s in qbarr.db: %s", action.event, action.target, exc)

    def _description(self, target: str) -> str:
        try:
            info = self.sup.process(target)
        except SupervisionError:
            return "no process info"
        return str(info.get("spawnerr") or info.get("description") or "")


def serve(watchdog: Watchdog, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """The listener loop: READY, event, act, OK; until TERM or EOF."""
    signals = watchdog.ctx.signals
    try:
        while not signals.stop_requested:
            if signals.take_reload():
                watchdog.load_config()
            send(stdout, b"READY\n")
            headers, payload = read_event(stdin)
            try:
                watchdog.handle(headers, payload)
            except Exception:
                log.exception("error while handling %s", headers.get("eventname"))
            send(stdout, b"RESULT 2\nOK")
    except EOFError as exc:
        log.info("%s", exc)
    except runtime.StopNow:
        pass
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="qbarr's supervisord event listener")
    parser.add_argument("--home", help="data dir (default: $QBARR_HOME, /config, ~/.config/qbarr)")
    args = parser.parse_args(argv)
    home = resolve_home(args.home)
    # stdout is the event protocol: logs (and USR1 stack dumps) go to stderr. The stop grace is
    # short because the listener idles in a blocking read between events.
    ctx = runtime.start(COMMAND, label="watchdog", home=home, stream=sys.stderr, grace=0.2)
    db = runtime.open_database(ctx)
    watchdog = Watchdog(
        ctx, home, Supervisor(os.environ.get("SUPERVISOR_SERVER_URL", home.supervisor_url)), db
    )
    watchdog.load_config()
    log.info("started (pid %d)", os.getpid())
    return serve(watchdog, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    raise SystemExit(main())
