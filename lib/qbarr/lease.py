"""One owner per instance, wherever it runs: a lease row in the database.

The file lock (:mod:`qbarr.lifeline`) keeps a second copy of a program from starting on the
same machine. Copies on other machines (two containers of one Deployment, two hosts sharing
one database) never see that file, so before a manager or a search program acts it holds the
instance's **lease**: a row of the ``leases`` table naming the holder (host, pid, a random
token), since when it holds it, and when it expires.

- **Taking it**: in one write transaction, a copy takes the row when there is none, when it
  is its own, or when it has expired; otherwise it learns who holds it (:class:`Holder`) and
  waits, polling every :func:`poll_interval`, logging the holder once per change and
  again every ``REMIND_EVERY``.
- **Keeping it**: a thread (:class:`LeaseKeeper`) renews it every ``timeout / 4`` through its
  own connection, so a long step does not lose it.
- **Fencing**: the holder trusts its lease only until ``timeout - timeout / 4`` after the
  start of its last successful renewal (:meth:`Lease.valid`, on the monotonic clock), well
  before anybody else may take it (``timeout`` after the renewal was written). A holder that
  cannot renew (the database is gone, the row was taken) stops acting when that runs out.
  On top of that, every action is marked ``sending`` in the same transaction that checks the
  row still names this holder and has not expired (:meth:`Lease.check`, called by
  :class:`qbarr.journal.Journal`): no action is sent under a lease that is gone. An action a
  dead holder had marked ``sending`` is looked up by the next holder before any resend
  (docs/manager.md, "lost answers"), so nothing is lost or sent twice.
- **Letting go**: a stopping holder deletes its row, so a waiting copy takes over at its next
  poll instead of after the timeout.
- **A dead holder next door**: the token names the holder's pid namespace (the boot id and
  the namespace's inode). A copy in the same namespace can see whether that pid still runs;
  when it does not, the lease is taken at once instead of after the timeout. This is the
  common case on one machine (supervisord restarting a manager that crashed), which must
  not wait ``LeaseTimeout`` to resume. A pid that was reused only makes it wait.

Times in the row are Unix seconds of the writer's clock (on one machine, one clock).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qbarr import db as dbmod
from qbarr.db import Database, rows, write_txn
from qbarr.lifeline import pid_alive
from qbarr.units import format_duration

log = logging.getLogger("qbarr.lease")

RENEWALS_PER_TIMEOUT = 4
"""The keeper renews every timeout / 4; the holder trusts the lease for 3/4 of the timeout
after the start of its last renewal (one missed renewal is survived)."""
MAX_POLL = 1.0
REMIND_EVERY = 300.0
"""A waiting copy names the holder when it changes and again this often (monotonic s)."""

_READ = "SELECT holder, host, pid, since, expires_at, fence FROM leases WHERE name = ?"
_TAKE = """
INSERT INTO leases (name, holder, host, pid, since, renewed_at, expires_at, fence)
VALUES (:name, :holder, :host, :pid, :now, :now, :expires, 1)
ON CONFLICT(name) DO UPDATE SET
    holder = excluded.holder, host = excluded.host, pid = excluded.pid,
    since = CASE WHEN leases.holder = excluded.holder THEN leases.since ELSE excluded.since END,
    renewed_at = excluded.renewed_at, expires_at = excluded.expires_at,
    fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence ELSE leases.fence + 1 END
"""
_RENEW = (
    "UPDATE leases SET renewed_at = :now, expires_at = :expires "
    "WHERE name = :name AND holder = :holder AND expires_at >= :now"
)
_CHECK = "SELECT 1 FROM leases WHERE name = ? AND holder = ? AND expires_at >= ?"
_RELEASE = "DELETE FROM leases WHERE name = ? AND holder = ?"


def namespace_id() -> str:
    """This machine's boot and this process's pid namespace: where a pid means the same."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        return f"{boot}.{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return f"{socket.gethostname()}.unknown"


class LeaseLost(Exception):
    """This copy no longer holds the lease: it must stop acting (fencing)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease (as read from its row)."""

    host: str
    pid: int
    since: float
    expires_at: float
    token: str

    def describe(self, now: float) -> str:
        left = self.expires_at - now
        return (
            f"host {self.host}, pid {self.pid}, since {format_duration(max(0.0, now - self.since))}"
            f" ago (its lease expires in {format_duration(max(0.0, left))} unless renewed)"
        )


def poll_interval(timeout: float, loop_interval: float) -> float:
    """How often a waiting copy tries: often enough to take over well within ``timeout``."""
    return max(0.05, min(loop_interval, timeout / 10, MAX_POLL))


class Lease:
    """The lease ``name`` as seen by this process (``token`` tells it from other copies)."""

    def __init__(
        self,
        name: str,
        timeout: float,
        host: str | None = None,
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        namespace: str | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.namespace = namespace or namespace_id()
        self.token = f"{self.namespace}/{self.pid}/{secrets.token_hex(4)}"
        self.clock = clock
        self.monotonic = monotonic
        self._valid_until = 0.0
        self._lock = threading.Lock()

    # -- holding ---------------------------------------------------------------------------

    @property
    def trust(self) -> float:
        """Seconds after a renewal's start during which the holder may act on it."""
        return self.timeout - self.timeout / RENEWALS_PER_TIMEOUT

    def valid(self) -> bool:
        """True while this copy holds the lease and may act (see the module docstring)."""
        with self._lock:
            return self.monotonic() < self._valid_until

    def _trusted_from(self, started: float) -> None:
        with self._lock:
            self._valid_until = started + self.trust

    def forget(self) -> None:
        """Stop trusting the lease (it was lost, or let go)."""
        with self._lock:
            self._valid_until = 0.0

    def try_acquire(self, db: Database) -> Holder | None:
        """Take the lease if it is free, expired or ours: None when this copy holds it now,
        else who holds it."""
        started = self.monotonic()
        with write_txn(db):
            now = self.clock()
            found = rows(db, _READ, (self.name,))
            if found:
                row = found[0]
                theirs = row["holder"] != self.token and float(row["expires_at"]) >= now
                if theirs and not self._dead_next_door(row["holder"], int(row["pid"])):
                    return Holder(
                        row["host"],
                        int(row["pid"]),
                        float(row["since"]),
                        float(row["expires_at"]),
                        row["holder"],
                    )
            db.execute(_TAKE, self._params(now))
        self._trusted_from(started)
        return None

    def _dead_next_door(self, token: str, pid: int) -> bool:
        """The holder ran in our pid namespace and that pid is gone (see the docstring)."""
        return token.startswith(f"{self.namespace}/{pid}/") and not pid_alive(pid)

    def renew(self, db: Database) -> bool:
        """Extend the lease; False when it is no longer ours (taken, expired or deleted)."""
        started = self.monotonic()
        with write_txn(db):
            renewed = db.execute(_RENEW, self._params(self.clock())).rowcount == 1
        if renewed:
            self._trusted_from(started)
        else:
            self.forget()
        return renewed

    def check(self, db: Database) -> None:
        """The fence, inside the caller's write transaction: raise :class:`LeaseLost` unless
        the row still names this copy and has not expired, and the copy still trusts it."""
        if not self.valid():
            raise LeaseLost(f"{self.name}: this copy's lease ran out (not renewed in time)")
        if not rows(db, _CHECK, (self.name, self.token, self.clock())):
            self.forget()
            raise LeaseLost(f"{self.name}: the lease is no longer this copy's")

    def release(self, db: Database) -> None:
        """Let the lease go (a waiting copy takes over at its next poll)."""
        self.forget()
        with write_txn(db):
            db.execute(_RELEASE, (self.name, self.token))

    def _params(self, now: float) -> dict[str, object]:
        return {
            "name": self.name,
            "holder": self.token,
            "host": self.host,
            "pid": self.pid,
            "now": now,
            "expires": now + self.timeout,
        }


class LeaseKeeper:
    """Renews a held lease from a thread, through its own database connection."""

    def __init__(self, lease: Lease, connect: Callable[[], Database]) -> None:
        self.lease = lease
        self.connect = connect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def period(self) -> float:
        return self.lease.timeout / RENEWALS_PER_TIMEOUT

    def start(self) -> None:
        if self._thread is None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        db: Database | None = None
        try:
            while not self._stop.wait(self.period):
                try:
                    if db is None:
                        db = self.connect()
                    if not self.lease.renew(db):
                        log.error("%s: the lease was lost (taken or expired)", self.lease.name)
                        return
                except Exception as exc:  # noqa: BLE001 - the holder's fence sees the lapse
                    log.warning("%s: could not renew the lease: %s", self.lease.name, exc)
        finally:
            if db is not None:
                db.close()


def connector(path: str | Path) -> Callable[[], Database]:
    return lambda: dbmod.connect(path)


class Ownership:
    """A program's side of its lease: act only while holding it, else wait and say who does.

    :meth:`ensure` is called at the start of every step; ``taken`` is set on the step that
    (re)took the lease (the program then (re)writes its heartbeat row, which a waiting copy
    never touches: the row belongs to the holder).
    """

    def __init__(self, lease: Lease, db: Database, connect: Callable[[], Database]) -> None:
        self.lease = lease
        self.db = db
        self.keeper = LeaseKeeper(lease, connect)
        self.holding = False
        self.taken = False
        self._shown: str | None = None
        self._shown_at = 0.0

    def ensure(self) -> bool:
        """True when this copy holds the lease and may act now."""
        self.taken = False
        if self.holding:
            if self.lease.valid():
                return True
            log.error(
                "%s: the lease could not be renewed in time: this copy stops acting (another "
                "copy may take over); it tries to take it back",
                self.lease.name,
            )
            self._drop()
        holder = self.lease.try_acquire(self.db)
        if holder is None:
            self.holding = self.taken = True
            self._shown = None
            self.keeper.start()
            log.info(
                "%s: this copy holds the lease (host %s, pid %d)",
                self.lease.name,
                self.lease.host,
                self.lease.pid,
            )
            return True
        now = self.lease.monotonic()
        if holder.token != self._shown or now - self._shown_at >= REMIND_EVERY:
            log.warning(
                "%s runs elsewhere: waiting for its lease, held by %s",
                self.lease.name,
                holder.describe(self.lease.clock()),
            )
            self._shown, self._shown_at = holder.token, now
        return False

    def lost(self) -> None:
        """The fence found the lease gone: stop renewing; the next :meth:`ensure` tries again."""
        log.error("%s: lease lost: this copy stops acting", self.lease.name)
        self._drop()

    def _drop(self) -> None:
        self.holding = False
        self.keeper.stop()
        self.lease.forget()

    def release(self) -> None:
        """Stop renewing and let the lease go (a stopping program)."""
        was_holding = self.holding
        self._drop()
        if was_holding:
            try:
                self.lease.release(self.db)
            except Exception as exc:  # noqa: BLE001 - it expires on its own
                log.warning("%s: could not let the lease go (%s): it expires", self.lease.name, exc)
