"""Never two copies of one program: die with the supervisor, hold a lock per identity.

Every long-running program (managers, search, watchdog, web UI and its gunicorn worker)
calls :func:`bind_to_parent` first and :func:`claim` right after, before it opens the
database for writing:

- **Die with the parent.** ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` makes the kernel send SIGTERM
  the moment the parent (supervisord; for a gunicorn worker, its master) dies, even by
  SIGKILL, so no program outlives its supervisor as an orphan. The kernel ties the signal
  to the parent *thread* that forked us; supervisord and gunicorn fork from their only
  thread. A parent that died before the prctl is caught by comparing ``getppid()`` before
  and after it, and, under supervisord, with the pid supervisord wrote into
  ``run/supervisord.pid`` before it spawned anything (a stale or newer pid there means our
  supervisord is gone).
- **One copy per identity.** :func:`claim` takes ``run/<identity>.lock``
  (:mod:`qbarr.locks`). When another copy holds it: if we are supervisord's child and the
  holder is not (an orphan of a killed supervisord), the holder gets SIGTERM and we wait a
  moment for it; otherwise this copy exits 75 (EX_TEMPFAIL) with a line naming the holder's
  pid. Under supervisord an early exit means BACKOFF (retried after 1, 2, 3 s) and FATAL
  (retried by the watchdog with backoff), so once the other copy is gone the right one
  runs, and a copy that should not run never gets past this point (it never writes a row).
  Under ``qbarr run-program`` (an orchestrator is the supervisor, and exiting would only
  be a restart loop) the second copy **waits** instead (:func:`wait_for_lock`): it says who
  holds the lock (pid, host, since when) once and again every ``WAIT_REMIND_EVERY``, takes
  the lock the moment the holder is gone (the kernel drops a dead holder's lock), and stops
  with exit 0 when it is asked to while it waits.

:func:`supervised_processes` finds every process spawned by this data dir's supervisord
(``qbarr run`` refuses to start while any of them is alive).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qbarr.locks import FileLock, LockHeld
from qbarr.paths import Home
from qbarr.units import format_duration

PR_SET_PDEATHSIG = 1
EX_TEMPFAIL = 75
TAKEOVER_WAIT = 1.5
"""Seconds to wait for an orphaned holder after SIGTERM: below the programs' startsecs (2 s),
so a copy that still cannot start exits early (BACKOFF) instead of counting as RUNNING."""
PIDFILE = "supervisord.pid"
WAIT_ENV = "QBARR_RUN_PROGRAM"
"""Set (``1``) by ``qbarr run-program`` for the program it execs: a second copy waits."""
WAIT_POLL = 0.5  # seconds between two tries of a waiting copy
WAIT_REMIND_EVERY = 300.0  # a waiting copy names the holder again this often


def set_pdeathsig(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``sig`` when our parent dies (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def recorded_supervisord(home: Home) -> int | None:
    """The pid supervisord wrote into ``run/supervisord.pid`` (it may be gone since)."""
    try:
        return int((home.run / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None


def supervisord_pid(home: Home) -> int | None:
    """The pid in ``run/supervisord.pid`` if that process is alive, else None."""
    pid = recorded_supervisord(home)
    return pid if pid is not None and pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) not in ("Z", "X", "")


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (from /proc), or None when it cannot be read."""
    stat = _stat(pid)
    return int(stat[1]) if stat else None


def _stat(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rfind(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces


def _state(pid: int) -> str:
    stat = _stat(pid)
    return stat[0] if stat else ""


def under_supervisord() -> bool:
    return os.environ.get("SUPERVISOR_ENABLED") == "1"


def die_with_parent(parent: int | None = None) -> bool:
    """SIGTERM when the parent dies; True while our parent is still ``parent`` (default: the
    parent we have now), False when it died before the kernel could be told."""
    parent = os.getppid() if parent is None else parent
    set_pdeathsig(signal.SIGTERM)
    return os.getppid() == parent


def orphaned(home: Home, parent: int) -> str | None:
    """Why a program started by ``parent`` has lost its supervisor (None: it has not)."""
    if os.getppid() != parent:
        return f"its parent (pid {parent}) died while it started"
    recorded = recorded_supervisord(home) if under_supervisord() else None
    if recorded is not None and recorded != parent:
        return (
            f"it was started by supervisord pid {parent}, but {home.run / PIDFILE} "
            f"names pid {recorded}: that supervisord is gone"
        )
    return None


def bind_to_parent(home: Home, prog: str) -> None:
    """Die with the parent; exit now if it is gone already (see the module docstring)."""
    parent = os.getppid()
    die_with_parent(parent)
    why = orphaned(home, parent)
    if why is not None:
        print(f"{prog}: not starting: {why}", file=sys.stderr, flush=True)
        raise SystemExit(0)


def claim(home: Home, identity: str, prog: str) -> FileLock:
    """Take ``run/<identity>.lock``, or exit 75 naming the holder, or (under ``qbarr
    run-program``) wait for it (see the module doc)."""
    lock = FileLock.named(home, identity)
    try:
        return lock.acquire(wait=0.2)
    except LockHeld as held:
        if under_run_program():
            got = _wait_until_stopped(lock, identity, prog)
            if got is None:
                print(f"{prog}: stopped while waiting for {identity}", file=sys.stderr, flush=True)
                raise SystemExit(0) from None
            return got
        if held.pid and _may_take_over(home, held.pid):
            print(
                f"{prog}: {identity}: pid {held.pid} is an orphaned copy (its supervisord is "
                "gone); asking it to stop",
                file=sys.stderr,
                flush=True,
            )
            _terminate(held.pid)
            try:
                return lock.acquire(wait=TAKEOVER_WAIT)
            except LockHeld as still:
                held = still
        holder = f"pid {held.pid}" if held.pid else "another process"
        print(
            f"{prog}: {identity} already runs as {holder} (it holds {held.path}); this copy exits",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EX_TEMPFAIL) from None


def under_run_program() -> bool:
    """Started by ``qbarr run-program``: an orchestrator supervises, no supervisord and no
    watchdog. There a second copy waits; under supervisord (which retries an early exit)
    and by hand (whoever started it learns it at once) it exits 75."""
    return os.environ.get(WAIT_ENV) == "1" and not under_supervisord()


def wait_for_lock(
    lock: FileLock,
    identity: str,
    prog: str,
    stop: Callable[[], bool],
    clock: Callable[[], float] = time.monotonic,
    between: Callable[[], None] = lambda: time.sleep(WAIT_POLL),
    say: Callable[[str], None] | None = None,
) -> FileLock | None:
    """Try ``lock`` until it is ours (returned) or ``stop()`` says to give up (None). Names
    the holder at the first try, when it changes, and every ``WAIT_REMIND_EVERY`` seconds."""
    say = say or _to_stderr
    told: tuple[int | None, float] | None = None  # (holder, when said)
    while not stop():
        try:
            lock.acquire()
        except LockHeld as held:
            now = clock()
            if told is None or told[0] != held.pid or now - told[1] >= WAIT_REMIND_EVERY:
                say(f"{prog}: {identity} runs as {_holder(held)}: waiting for it to stop")
                told = (held.pid, now)
            between()
            continue
        if told is not None:
            say(f"{prog}: {identity}: the other copy is gone; this copy takes over")
        return lock
    return None


def _holder(held: LockHeld) -> str:
    """pid, host and since when (the holder wrote its pid into the file when it took it)."""
    who = f"pid {held.pid}" if held.pid else "another process"
    try:
        since = f", since {format_duration(max(0.0, time.time() - held.path.stat().st_mtime))} ago"
    except OSError:
        since = ""
    return f"{who} on host {socket.gethostname()}{since} (it holds {held.path})"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _wait_until_stopped(lock: FileLock, identity: str, prog: str) -> FileLock | None:
    """:func:`wait_for_lock` until SIGTERM or SIGINT (the program's own handlers come later)."""
    asked: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, frame: asked.append(signum))
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        return wait_for_lock(lock, identity, prog, stop=lambda: bool(asked))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _may_take_over(home: Home, holder: int) -> bool:
    """We are the live supervisord's child and the holder is not: the holder is an orphan."""
    if not under_supervisord():
        return False
    ours = supervisord_pid(home)
    if ours is None or ours != os.getppid():
        return False
    theirs = parent_of(holder)
    mine = _env(holder).get("SUPERVISOR_SERVER_URL") == home.supervisor_url
    return mine and theirs is not None and theirs != ours


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


# -- finding the processes of a data dir ----------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """A live process spawned by a data dir's supervisord (or by one of its programs)."""

    pid: int
    ppid: int | None
    program: str
    command: str

    def describe(self) -> str:
        return f"{self.program or self.command} (pid {self.pid})"


def _env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def supervised_processes(home: Home) -> list[Proc]:
    """Live processes whose environment says this data dir's supervisord spawned them.

    supervisord gives every child ``SUPERVISOR_SERVER_URL`` (our control socket); their own
    children (the gunicorn worker) inherit it. Processes of other users may be unreadable
    and are not seen; qbarr's run as one user.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        env = _env(pid)
        if env.get("SUPERVISOR_SERVER_URL") != home.supervisor_url:
            continue
        if _state(pid) in ("Z", "X", ""):
            continue
        name = env.get("SUPERVISOR_PROCESS_NAME", "")
        found.append(Proc(pid, parent_of(pid), name, _command(pid)))
    return sorted(found, key=lambda p: p.pid)


def wait_gone(home: Home, timeout: float, poll: float = 0.2) -> list[Proc]:
    """Wait up to ``timeout`` seconds until no process of this data dir is left; returns the
    ones still alive (empty when all are gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = supervised_processes(home)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll)
