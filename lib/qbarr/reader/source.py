"""A manager's snapshot source: the one object a manager gets qBittorrent's torrents from.

Every manager of one qBittorrent makes a :class:`FeedSource`. At each step it calls
:meth:`FeedSource.ensure_reader`: the first manager to take the qBittorrent's lock file
(``<data dir>/run/qbt-<client>.lock``, an exclusive ``flock``) runs the reader
(:class:`qbarr.reader.poller.Reader`) in a thread of its own process; the others find the
lock taken and only read. The kernel drops the lock when that process dies, however it
dies, so the next manager to step takes over (it starts from what was published: a
takeover republishes only what changed in qBittorrent meanwhile).

The lock file only sees one machine. When managers of one qBittorrent run on several hosts
(containers, qbarr.lease), the lock holder of each host also needs the qBittorrent's lease
in the database (``qbt-<client>``): one reader in all, the others follow the feed. Every
publication checks that lease in its own transaction (fencing), and a reader whose lease
lapsed stops.

:meth:`FeedSource.snapshot` returns the manager's :class:`~qbarr.qbittorrent.Snapshot`
brought up to the feed. A feed that is missing, or whose reader is late on its own schedule
by more than the grace (``[qBittorrent] Timeout`` + ``LoopInterval``), raises
:class:`FeedStale`: the manager waits ("qBittorrent unreachable") instead of deciding on old
facts. Actions never go through here: each manager still acts on its own torrents with its
own client, and journals them first.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from qbarr import db as dbmod
from qbarr.config import DEFAULT_CLIENT, Config, slugify
from qbarr.lease import Lease, Ownership, connector
from qbarr.qbittorrent import QbtClient, QbtUnavailable, Snapshot
from qbarr.reader.feed import FeedState, Follower
from qbarr.reader.plan import PlanSettings
from qbarr.reader.poller import Reader

log = logging.getLogger("qbarr.reader")

# The default client: the [qBittorrent] section. Every qBittorrent is keyed by its section name
# ([qBittorrent-<name>] sections add more): its feed rows, its lock file, its reader.
CLIENT = DEFAULT_CLIENT
# A stopping manager waits this long for its reader thread, then leaves it (a daemon thread:
# a write it had begun is rolled back); a shutdown must not wait on a slow qBittorrent.
JOIN_TIMEOUT = 1.0


class FeedStale(QbtUnavailable):
    """No usable snapshot: nothing published yet, or the reader is late (a waiting state)."""


def endpoint(cfg: Config, client: str = CLIENT) -> tuple[Any, ...]:
    """The settings that make a different qBittorrent connection."""
    q = cfg.client(client)
    return (q["URL"], q["Username"], q["Password"], q["APIKey"], q["Timeout"])


class FeedSource:
    """One manager's access to the feed of its qBittorrent, and maybe the reader itself."""

    def __init__(
        self,
        db: dbmod.Database,
        db_path: Path | str,  # a SQLite file, or a PostgreSQL URL (qbarr.store)
        run_dir: Path,
        cfg: Config,
        program: str,
        client: str = CLIENT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.db_path = db_path
        self.client = client
        self.program = program
        self.clock = clock
        self.lock_path = run_dir / f"qbt-{slugify(client)}.lock"
        self.follower = Follower(db, client)
        self.lock_fd: int | None = None
        self.reader: Reader | None = None
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        lease = Lease(f"qbt-{slugify(client)}", float(cfg.settings["LeaseTimeout"]))
        self.ownership = Ownership(lease, db, connector(db_path))
        self.configure(cfg)

    # -- configuration -------------------------------------------------------------------

    def configure(self, cfg: Config) -> None:
        """Take (re)loaded settings; a new qBittorrent endpoint restarts the reader."""
        old = getattr(self, "cfg", None)
        self.cfg = cfg
        self.settings = PlanSettings.from_config(cfg, self.client)
        q = cfg.client(self.client)
        self.grace = float(q["Timeout"]) + float(cfg.settings["LoopInterval"])
        self.ownership.lease.timeout = float(cfg.settings["LeaseTimeout"])
        if self.reader is not None:
            if old is not None and endpoint(old, self.client) != endpoint(cfg, self.client):
                log.info("qBittorrent settings changed: restarting the reader")
                self._stop_reader()
            else:
                self.reader.settings = self.settings

    # -- the reader ------------------------------------------------------------------------

    @property
    def is_reader(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def ensure_reader(self) -> bool:
        """Run the reader here if no other process does; True when this process runs it."""
        if self.lock_fd is None and not self._take_lock():
            return False
        if not self.ownership.ensure():  # a reader on another host (or ours lapsed)
            if self.thread is not None:
                self._stop_reader()
            return False
        if self.is_reader:
            return True
        if self.thread is not None:  # it died (a bug: Reader.run catches everything)
            log.error("the reader thread ended unexpectedly; starting it again")
        self._start_reader()
        return True

    def _take_lock(self) -> bool:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.program}\n".encode())
        self.lock_fd = fd
        return True

    def _start_reader(self) -> None:
        q = self.cfg.client(self.client)
        qbt = QbtClient(
            q["URL"],
            q["Username"],
            q["Password"],
            api_key=q["APIKey"],
            timeout=float(q["Timeout"]),
            user_agent=f"qbarr-reader/{self.program}",
        )
        reader_db = dbmod.connect(self.db_path)
        self.reader = Reader(
            reader_db, qbt, self.client, self.settings, self.program, os.getpid(), self.clock
        )
        self.reader.fence = self.ownership.lease.check
        self.stop_event = threading.Event()
        cap = float(self.cfg.settings["RetryBackoffMax"])
        self.thread = threading.Thread(
            target=self._run, args=(self.reader, self.stop_event, cap), name="reader", daemon=True
        )
        self.thread.start()

    @staticmethod
    def _run(reader: Reader, stop: threading.Event, cap: float) -> None:
        try:
            reader.run(stop, backoff_cap=cap)
        finally:
            reader.qbt.close()
            reader.db.close()

    def _stop_reader(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(JOIN_TIMEOUT)
        self.thread = self.reader = None

    def close(self) -> None:
        """Stop the reader (if here) and let the lock go."""
        self._stop_reader()
        self.ownership.release()
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self, categories: Iterable[str]) -> Snapshot:
        """The snapshot brought up to the feed; FeedStale when there is none fit to use."""
        self.ensure_reader()
        feed = self.follower.read(categories)
        if self._stale(feed) and self._wait_for_local_reader():
            feed = self.follower.read(categories)
        if feed is None:
            raise FeedStale("qBittorrent: no snapshot published yet (waiting for the reader)")
        if self._stale(feed):
            raise FeedStale(self._why_stale(feed))
        return self.follower.snapshot

    def _stale(self, feed: FeedState | None) -> bool:
        if feed is None or feed.next_poll_by is None:
            return True
        return self.clock() > feed.next_poll_by + self.grace

    def _wait_for_local_reader(self) -> bool:
        """When this process runs a reader that has not tried yet (it just started), wait for
        its first try, at most one grace period: True when it waited (read the feed again)."""
        reader = self.reader
        if reader is None or not self.is_reader or reader.tried.is_set():
            return False
        reader.tried.wait(self.grace)
        return True

    def _why_stale(self, feed: FeedState) -> str:
        error = f"; last error: {feed.error}" if feed.error else ""
        if feed.polled_at is None:
            return f"qBittorrent: no snapshot yet, waiting for the reader ({feed.reader}){error}"
        age = self.clock() - feed.polled_at
        return (
            f"qBittorrent: the snapshot is {age:.0f} s old, waiting for the reader "
            f"({feed.reader or 'none'}){error}"
        )
