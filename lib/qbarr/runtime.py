"""The contract every long-running qbarr program keeps (managers, search, watchdog, web UI).

A program's ``main()`` does, in this order::

    ctx = runtime.start("qbarr-arr", label="arr-radarr-4k", title="Radarr-4K", home=home)
    ...load config, ctx.use_config(cfg) ...
    return runtime.run_loop(ctx, step=manager.step, interval=manager.interval,
                            reload=manager.reload, close=manager.close)

What that gives:

- **One copy, bound to its supervisor** (:mod:`qbarr.lifeline`): the program gets SIGTERM
  when its parent (supervisord) dies, exits at once if it is gone already, and holds
  ``run/<label>.lock`` for its whole life; a second copy exits 75 naming the holder's pid
  before it sets its title, logs or touches the database.
- **Logging**: one line per record on stdout (supervisord writes it to
  ``logs/<program>.log`` and rotates it): ``2024-05-01 12:00:00.123 INFO arr-radarr-4k:
  message``. Every secret of config.ini (:func:`qbarr.config.secrets_of`) is replaced by
  ``********`` in the formatted line, whatever logged it. httpx/httpcore are kept at WARNING.
- **Signals**: TERM (or INT) asks for a stop: the loop finishes its current step and
  returns 0. If the step does not finish within ``STOP_GRACE`` seconds (or a second TERM
  comes), :class:`StopNow` is raised in the main thread, which unwinds the step (transactions
  roll back) and the program still exits 0, well within supervisord's ``stopwaitsecs``.
  HUP asks for a config reload at the next step, without a restart. USR1 makes
  :mod:`faulthandler` write every thread's stack into the log (the watchdog sends it to a
  hung program before restarting it).
- **A full disk is a state, not a crash**: a step whose write to qbarr.db fails for lack
  of space is rolled back and retried with backoff (:class:`StorageWait`), logged once.
- **Process title**: ``qbarr-arr Radarr-4K`` in ``ps`` (setproctitle).
- **CPU niceness**: ``[Settings] Nice`` or the instance's own ``Nice``, applied with the
  config (:mod:`qbarr.niceness`); ``ps -o ni`` shows it.
- **Debug triggers** (a debugging aid, also used by the system tests): an empty file
  ``<data dir>/debug/<what>-<slug>`` makes a program misbehave on purpose:
  ``crash-<slug>`` = crash at start (exit 1), ``hang-<slug>`` = block forever in a sleep loop
  at the next step (the heartbeat stops; the watchdog must notice).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from qbarr import db as dbmod
from qbarr import lifeline, niceness, storage, store
from qbarr.backoff import Backoff, RetryTimer
from qbarr.config import EX_CONFIG, MASK, Config, secrets_of
from qbarr.locks import FileLock
from qbarr.paths import DEBUG_DIR as DEBUG_DIR  # the debug triggers live in qbarr.paths
from qbarr.paths import Home, private_umask
from qbarr.paths import debug_trigger as debug_trigger
from qbarr.units import format_duration, format_size

log = logging.getLogger("qbarr.runtime")

STOP_GRACE = 5.0
"""Seconds a requested stop may wait for the current step before StopNow is raised."""
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MIN_SECRET_LEN = 3
"""Shorter secrets are not scrubbed (they would mangle every line); don't use them."""


class StopNow(BaseException):
    """Raised in the main thread when a requested stop cannot wait any longer.

    A BaseException so that ``except Exception`` in client code does not swallow it.
    """


# -- logging -----------------------------------------------------------------------------


class ScrubbingFormatter(logging.Formatter):
    """Formats ``time level label: message`` and masks every known secret."""

    def __init__(self, label: str) -> None:
        label = label.replace("%", "%%")
        super().__init__(f"%(asctime)s.%(msecs)03d %(levelname)s {label}: %(message)s", DATE_FORMAT)
        self._secrets: tuple[str, ...] = ()

    def set_secrets(self, secrets: Iterable[str]) -> None:
        found = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        self._secrets = tuple(sorted(found, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


def setup_logging(
    label: str, level: str | int = "INFO", stream: TextIO | None = None
) -> ScrubbingFormatter:
    """Send every log record to ``stream`` (stdout by default) in the qbarr line format."""
    formatter = ScrubbingFormatter(label)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return formatter


# -- signals -----------------------------------------------------------------------------


class Signals:
    """TERM/INT = stop, HUP = reload, USR1 = stack dump; :meth:`wait` wakes on any of them."""

    def __init__(self, grace: float = STOP_GRACE) -> None:
        self.grace = grace
        self.stop_requested = False
        self._reload = False
        self._wake = threading.Event()

    def install(self, dump_to: TextIO | None = None) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.signal(signal.SIGUSR1, self._on_dump)
        # faulthandler writes from C, at once, even when the main thread is stuck; then it
        # chains to _on_dump, which logs a line saying what the dump above it was.
        faulthandler.register(
            signal.SIGUSR1, file=dump_to or sys.stdout, all_threads=True, chain=True
        )

    def _on_stop(self, signum: int, frame: Any) -> None:
        if self.stop_requested:
            raise StopNow(f"second {signal.Signals(signum).name}")
        self.stop_requested = True
        self._wake.set()
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.grace))

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self.stop_requested:
            raise StopNow(
                f"the current step did not finish within {self.grace:g} s of the stop request"
            )

    def _on_reload(self, signum: int, frame: Any) -> None:
        self._reload = True
        self._wake.set()

    @staticmethod
    def _on_dump(signum: int, frame: Any) -> None:
        log.warning("SIGUSR1: the stacks of all threads were dumped above this line")

    def request_stop(self) -> None:
        """Ask for a stop from inside the program (same as TERM, without the alarm)."""
        self.stop_requested = True
        self._wake.set()

    def take_reload(self) -> bool:
        """True once after each HUP."""
        wanted, self._reload = self._reload, False
        return wanted

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds; return early on TERM or HUP."""
        if self.stop_requested or self._reload:
            return
        self._wake.wait(max(0.0, timeout))
        self._wake.clear()


# -- process title -----------------------------------------------------------------------


def set_title(title: str) -> None:
    """Show ``title`` in ps/top (no-op when setproctitle is missing).

    ``SPT_NOENV``: setproctitle must not reuse the environment's memory for the title (it
    may, and /proc/PID/environ then reads blank): qbarr.lifeline finds a data dir's programs,
    orphans included, by their SUPERVISOR_SERVER_URL there. The title is then limited to the
    length of the command line, which ``qbarr-arr NAME`` never exceeds. supervisord.conf
    sets it too, for what imports setproctitle before us (gunicorn)."""
    os.environ.setdefault("SPT_NOENV", "1")
    try:
        import setproctitle
    except ImportError:  # pragma: no cover - a declared dependency
        return
    setproctitle.setproctitle(title)


# -- debug triggers ----------------------------------------------------------------------


def hang_forever(reason: str) -> None:
    """Block in a sleep loop that ignores stop requests (the debug ``hang-`` trigger)."""
    log.warning("debug: hanging on purpose (%s); only SIGKILL or StopNow ends this", reason)
    while True:
        time.sleep(0.5)


# -- the program context and loop ----------------------------------------------------------


@dataclass
class Context:
    """What every program sets up first: identity, data dir, logging, signals."""

    command: str
    label: str
    home: Home
    signals: Signals
    formatter: ScrubbingFormatter
    log: logging.Logger
    lock: FileLock | None = None
    database: store.Location | None = None  # where open_database() found it

    def use_config(self, config: Config, instance: Any = None) -> None:
        """Apply the parts of config.ini every program honours: log level, secrets to scrub,
        CPU niceness (``instance``: the Arr section whose own ``Nice`` counts)."""
        self.formatter.set_secrets(secrets_of(config.data))
        logging.getLogger().setLevel(str(config.settings["LogLevel"]))
        niceness.apply(niceness.wanted(config, instance))

    def scrub(self, text: str) -> str:
        return self.formatter.scrub(text)


def start(
    command: str,
    label: str,
    home: Home,
    title: str = "",
    stream: TextIO | None = None,
    grace: float = STOP_GRACE,
) -> Context:
    """Private files (umask 077), bind to the parent, take the identity lock (``label``), then
    process title, logging and signal handlers: the first thing a program's main() does."""
    private_umask()
    lifeline.bind_to_parent(home, command)
    lock = lifeline.claim(home, label, command)
    set_title(f"{command} {title}".strip())
    formatter = setup_logging(label, stream=stream)
    signals = Signals(grace)
    signals.install(dump_to=stream or sys.stdout)
    return Context(command, label, home, signals, formatter, logging.getLogger(command), lock)


def open_database(ctx: Context) -> dbmod.Database:
    """The database, migrated; a file this program must not use (damaged, not a database,
    from a newer qbarr) ends the program with one clear line and exit 78."""
    try:
        where = store.location(ctx.home)
        ctx.database = where
        return dbmod.open_migrated(where)
    except (dbmod.DatabaseUnusable, store.BadLocation) as exc:
        problem = str(exc)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise  # busy, or the disk: not the file's fault
        problem = (
            f"{ctx.home.database} is not usable ({exc}); `qbarr db check` says more, "
            "`qbarr db recover` saves what can be read"
        )
    ctx.log.error("%s", problem)
    print(f"{ctx.command}: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG)


class StorageWait:
    """The program's state while qbarr.db cannot be written (a full disk): logged once when
    it begins, reminded every few minutes, logged when it ends; retried with backoff."""

    REMIND_EVERY = 300.0
    RETRY = (1.0, 10.0)  # first and longest wait between two tries, in seconds

    def __init__(self, ctx: Context, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.clock = clock
        self.since: float | None = None
        self.reminded = 0.0
        self.backoff = RetryTimer(Backoff(base=self.RETRY[0], cap=self.RETRY[1]), clock=clock)

    def failed(self, exc: BaseException) -> float:
        """Record a failed write; returns the seconds to wait before the next try."""
        now = self.clock()
        if dbmod.is_server_error(exc):
            if self.since is None or now - self.reminded >= self.REMIND_EVERY:
                self.ctx.log.error(
                    "the database cannot be reached: %s; waiting, nothing is lost: the cycle is "
                    "retried when it answers",
                    self.ctx.scrub(str(exc)),
                )
                self.since = self.since if self.since is not None else now
                self.reminded = now
            return self.backoff.failed()
        if self.since is None or now - self.reminded >= self.REMIND_EVERY:
            where = self.ctx.home.root
            found = storage.space(where)
            free = f"{format_size(found.free)} free" if found else "free space unknown"
            verb = "still cannot" if self.since is not None else "cannot"
            self.ctx.log.error(
                "qbarr.db %s be written: %s (%s: %s); waiting, nothing is lost: "
                "the cycle is retried when space returns",
                verb,
                exc,
                where,
                free,
            )
            self.since = self.since if self.since is not None else now
            self.reminded = now
        return self.backoff.failed()

    def succeeded(self) -> None:
        if self.since is not None:
            self.ctx.log.warning(
                "qbarr.db is writable again (after %s)", format_duration(self.clock() - self.since)
            )
            self.since = None
            self.backoff.succeeded()


def tolerate_storage(ctx: Context, write: Callable[[], object]) -> bool:
    """Run a start-up write (a heartbeat row); a full disk is logged, not a crash at start."""
    try:
        write()
    except dbmod.unavailable_errors() as exc:
        if not dbmod.is_storage_error(exc):
            raise
        ctx.log.error("qbarr.db cannot be written (%s): going on, the loop will retry", exc)
        return False
    return True


def run_loop(
    ctx: Context,
    step: Callable[[], None],
    interval: Callable[[], float],
    reload: Callable[[], None] | None = None,
    close: Callable[[], None] | None = None,
    reset: Callable[[], None] | None = None,
) -> int:
    """``while not stopping: [reload on HUP]; step(); wait(interval())``, then close().

    Returns 0 after a requested stop (also a forced one). A step that cannot write qbarr.db
    (the disk is full: :func:`qbarr.db.is_storage_error`) is not a crash: ``reset()`` drops
    whatever the step kept in memory that the rolled-back write was meant to persist, and the
    step is tried again after a backoff (:class:`StorageWait`). Any other exception escaping
    ``step`` is a real crash: it is logged and re-raised so that supervisord restarts the
    program.
    """
    waiting = StorageWait(ctx)
    try:
        while not ctx.signals.stop_requested:
            try:
                if ctx.signals.take_reload() and reload is not None:
                    ctx.log.info("SIGHUP: reloading config.ini")
                    reload()
                step()
            except dbmod.unavailable_errors() as exc:
                if not dbmod.is_storage_error(exc):
                    raise
                delay = waiting.failed(exc)
                if reset is not None:
                    reset()
                ctx.signals.wait(delay)
                continue
            waiting.succeeded()
            ctx.signals.wait(interval())
        ctx.log.info("stopping on request")
    except StopNow as exc:
        ctx.log.warning("stopping now: %s", exc)
    except Exception:
        ctx.log.exception("crashed")
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if close is not None:
            try:
                close()
            except StopNow:
                pass
            except Exception:
                ctx.log.exception("error while closing")
    return 0
