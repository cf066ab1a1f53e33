"""Exclusive file locks in the data dir's ``run/`` directory: one holder per name.

A :class:`FileLock` is an ``fcntl.flock`` on ``run/<name>.lock``; the holder writes its pid
into the file so that whoever finds the lock taken can name it. The kernel releases the lock
when the last process holding the open file goes away (a crash or SIGKILL included), so a
stale lock file never blocks anybody. A lock is inherited by ``fork`` (the gunicorn worker
shares its master's) and, when asked, across ``exec`` (``qbarr run`` hands its lock to
supervisord).

Names in use:

- ``supervisord``: ``qbarr run`` and then supervisord itself (one suite per data dir);
- ``arr-<slug>``, ``search-<slug>``, ``webui``, ``watchdog``: one copy of each program
  (:func:`qbarr.lifeline.claim`);
- ``apply``: rendering ``programs.d`` and applying it to supervisord (``qbarr render`` and
  the web UI's Apply), so that two of them never interleave.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from qbarr.paths import Home

SUFFIX = ".lock"
RUN_LOCK = "supervisord"
APPLY_LOCK = "apply"
POLL = 0.05


class LockHeld(Exception):
    """The lock is taken by another process (``pid`` when it could be read)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"{path} is held by {holder}")


class FileLock:
    """``run/<name>.lock``: :meth:`acquire` it, :meth:`release` it (or just exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    @classmethod
    def named(cls, home: Home, name: str) -> FileLock:
        return cls(home.run / f"{name}{SUFFIX}")

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self, wait: float = 0.0, inheritable: bool = False) -> FileLock:
        """Take the lock, waiting up to ``wait`` seconds; write our pid into the file.

        Raises:
            LockHeld: another process still holds it after ``wait``.
        """
        if self.fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockHeld(self.path, holder_pid(self.path))
            time.sleep(POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.set_inheritable(fd, inheritable)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing our descriptor drops our share of the lock
            self.fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_pid(path: Path) -> int | None:
    """The pid written into a lock file (None when empty or unreadable)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def is_held(path: Path) -> bool:
    """True when some process holds the lock at ``path`` (probing never keeps it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # also drops the probe's lock if it got one
    return False


def held_locks(home: Home, exclude: tuple[str, ...] = ()) -> dict[str, int | None]:
    """``name -> holder pid`` for every lock in ``run/`` that is taken right now."""
    found: dict[str, int | None] = {}
    if not home.run.is_dir():
        return found
    for path in sorted(home.run.glob(f"*{SUFFIX}")):
        name = path.name[: -len(SUFFIX)]
        if name not in exclude and is_held(path):
            found[name] = holder_pid(path)
    return found
