"""qbarr-notify: sends qbarr's notifications with Apprise (supervisord program ``notify``).

    qbarr-notify [--home DIR]

Rendered only when ``[Notifications] URLs`` lists a URL. Every second it reads the new events
from qbarr.db (:mod:`qbarr.notify.events`: the decision journal, the instances' brakes and
heartbeats, the watchdog's crash records), gathers them for ``BatchWindow`` into one message
(:mod:`qbarr.notify.compose`), and sends it to each URL within that URL's rate limit, trying a
refused message again a bounded number of times (:mod:`qbarr.notify.outbox`). It also answers
the web UI's "send a test notification" (table ``notify_tests``).

This is the only program that imports Apprise (tests/unit/test_notify.py keeps it so): the
managers never load it, and a slow or dead notification target delays nobody but this
program. The URLs are secrets: a log line names a URL by its number and scheme only, and the
scrubbing formatter masks any URL (or a token or password in it) that a library logs.

Signals: TERM = stop (exit 0), HUP = re-read config.ini, USR1 = stack dump into the log.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any

import apprise

from qbarr import config as configmod
from qbarr import runtime
from qbarr.config import ConfigError
from qbarr.db import Database, rows, write_txn
from qbarr.notify.compose import Message, compose
from qbarr.notify.events import Cursor, Event, read
from qbarr.notify.outbox import Outbox
from qbarr.paths import Home, resolve_home

COMMAND = "qbarr-notify"
log = logging.getLogger(COMMAND)
logging.getLogger("apprise").setLevel(logging.WARNING)  # not a line per message sent
TICK = 1.0  # seconds between looks at the database


class Sender:
    """One Apprise URL (a secret: only its number and scheme are ever shown)."""

    def __init__(self, index: int, url: str) -> None:
        self.index = index
        self.label = f"URL #{index + 1} ({url.split('://', 1)[0]}://...)"
        self.apprise = apprise.Apprise()
        self.valid = bool(self.apprise.add(url))
        if not self.valid:
            log.error("%s is not a URL Apprise understands: it gets nothing", self.label)

    def send(self, message: Message) -> bool:
        if not self.valid:
            return False
        return bool(self.apprise.notify(title=message.title, body=message.body))


class Notifier:
    def __init__(self, ctx: runtime.Context, home: Home, db: Database) -> None:
        self.ctx, self.home, self.db = ctx, home, db
        self.opts: dict[str, Any] | None = None
        self.senders: list[Sender] = []
        self.outbox = Outbox.for_urls(0, 30.0, 3)
        self.cursor: Cursor | None = None
        self.batch: list[Event] = []
        self.batch_started: float | None = None

    def load_config(self) -> None:
        try:
            cfg = configmod.load(self.home.config)
        except ConfigError as exc:
            log.error("%s", self.ctx.scrub("config.ini is invalid: " + "; ".join(exc.problems)))
            return
        self.ctx.use_config(cfg)
        opts = dict(cfg.data["Notifications"])
        urls = [str(u) for u in opts["URLs"]]
        if self.opts is None or list(self.opts["URLs"]) != urls:
            self.senders = [Sender(i, u) for i, u in enumerate(urls)]
            self.outbox = Outbox.for_urls(len(urls), 0.0, 0)
        self.outbox.min_interval = float(opts["MinInterval"])
        self.outbox.retries = int(opts["Retries"])
        self.opts = opts
        log.info("config loaded: %d notification URL(s)", len(urls))

    # -- the step -------------------------------------------------------------------------

    def step(self) -> None:
        if self.opts is None:
            return
        now = time.time()
        if self.cursor is None:
            self.cursor = Cursor.load(self.db) or Cursor.at_present(self.db)
        events = read(self.db, self.cursor, self.opts, now)
        self.cursor.save(self.db, now)
        if events:
            self.batch += events
            self.batch_started = self.batch_started or now
        window = float(self.opts["BatchWindow"])
        if self.batch and self.batch_started is not None and now - self.batch_started >= window:
            message = compose(self.batch)
            self.batch, self.batch_started = [], None
            if message is not None:
                log.info("%s (%d event(s))", message.title, message.events)
                self.outbox.put(message)
        self._answer_tests(now)
        for index, message in self.outbox.due(now):
            self._send(index, message)

    def _send(self, index: int, message: Message) -> None:
        sender = self.senders[index]
        try:
            ok = sender.send(message)
        except Exception as exc:  # a plugin's bug must not stop the others
            log.warning("%s: %s", sender.label, self.ctx.scrub(f"{type(exc).__name__}: {exc}"))
            ok = False
        now = time.time()
        if ok:
            self.outbox.sent(index, now)
            log.info(
                "sent to %s: %s (%.1f s after the first event)",
                sender.label,
                message.title,
                now - message.first_at,
            )
        elif self.outbox.failed(index, now):
            t = self.outbox.targets[index]
            log.warning(
                "%s refused it; try %d again in %.0f s",
                sender.label,
                t.attempts + 1,
                t.next_at - now,
            )
        else:
            log.error(
                "%s refused it %d times: dropped: %s",
                sender.label,
                self.outbox.retries + 1,
                message.title,
            )

    def _answer_tests(self, now: float) -> None:
        pending = rows(self.db, "SELECT id FROM notify_tests WHERE done_at IS NULL ORDER BY id")
        for req in pending:
            message = Message(
                "qbarr: test notification",
                f"A test from qbarr's web UI (request #{req['id']}): this URL works.",
                first_at=now,
            )
            took = [s for s in self.senders if self._try(s, message)]
            result = f"sent to {len(took)} of {len(self.senders)} URL(s)"
            failed = [s.label for s in self.senders if s not in took]
            if failed:
                result += "; failed: " + ", ".join(failed)
            log.info("test notification #%d: %s", req["id"], result)
            with write_txn(self.db):
                self.db.execute(
                    "UPDATE notify_tests SET done_at = ?, result = ? WHERE id = ?",
                    (time.time(), result, req["id"]),
                )

    def _try(self, sender: Sender, message: Message) -> bool:
        try:
            return sender.send(message)
        except Exception:  # noqa: BLE001 - reported as failed
            return False

    def interval(self) -> float:
        return TICK

    def reload(self) -> None:
        self.load_config()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=COMMAND, description="qbarr's notification sender")
    parser.add_argument("--home", help="data dir (default: $QBARR_HOME, /config, ~/.config/qbarr)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = resolve_home(args.home)
    ctx = runtime.start(COMMAND, label="notify", home=home)
    db = runtime.open_database(ctx)
    notifier = Notifier(ctx, home, db)
    runtime.tolerate_storage(ctx, notifier.load_config)
    log.info("started (pid %d)", os.getpid())
    return runtime.run_loop(ctx, notifier.step, notifier.interval, notifier.reload)


if __name__ == "__main__":
    raise SystemExit(main())
