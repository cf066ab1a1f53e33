"""Two reflexes for supervisord, loaded by ``[rpcinterface:qbarr]`` in supervisord.conf.

supervisord's main loop looks around once a second (a ``poll()`` with a 1 s timeout that a
signal does not cut short), and on shutdown it stops its groups one after another, each after
the previous one is reaped. So a killed manager waited up to a second to be reaped and up to
another to be started again, and SIGTERM to supervisord took 2.5-4 s with four groups. This
module changes two things, and nothing else:

- **Signals wake the loop.** ``signal.set_wakeup_fd`` makes every signal supervisord handles
  (SIGCHLD, SIGTERM, ...) write a byte into a pipe that the loop polls, plus one more byte so
  that the pass after it (which starts or stops what the signal changed) also runs at once.
- **Everything stops at once.** On ``SupervisorStoppingEvent`` every process of every group
  gets its stop signal at the same moment. Stop order does not matter to qbarr: every program
  finishes its own step and the database keeps the rest.

It never changes which programs run (no group updates: ``qbarr render`` restarts a changed
group with supervisor's own API). It runs inside supervisord, so it must never stop
supervisord from starting: it imports only the standard library at module level, it checks
supervisor's version (:data:`SUPPORTED`) before it touches anything, and any failure while
installing leaves supervisord exactly as shipped, with one warning in its log. The
``qbarr.reflexes()`` XML-RPC call says whether the reflexes are on and, if not, why.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

SUPPORTED = ("4.",)  # supervisor versions whose loop, socket map and events this was made for


class WakeupPipe:
    """The read end of ``signal.set_wakeup_fd``'s pipe, as a dispatcher of supervisord's loop.

    supervisord polls every object of its socket map that is ``readable()`` and calls
    ``handle_read_event()`` when it has data. Each batch of signal bytes re-arms the pipe
    with one :data:`AGAIN` byte, so the loop makes one more pass at once (a reap in one pass,
    the restart or the next stop step in the following one); an :data:`AGAIN` alone does
    not re-arm, so the loop never spins.
    """

    AGAIN = b"\xff"  # never a signal number

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            os.set_blocking(fd, False)
        self.closed = False

    def readable(self) -> bool:
        return not self.closed

    def writable(self) -> bool:
        return False

    def handle_read_event(self) -> None:
        try:
            data = os.read(self.read_fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        if data.replace(self.AGAIN, b""):
            self.poke()

    def handle_write_event(self) -> None:  # pragma: no cover - never writable
        pass

    def handle_error(self) -> None:  # pragma: no cover - os.read cannot raise anything else
        pass

    def poke(self) -> None:
        """Make the next poll return at once."""
        with contextlib.suppress(BlockingIOError, InterruptedError):  # full: it wakes anyway
            os.write(self.write_fd, self.AGAIN)

    def close(self) -> None:
        self.closed = True
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Reflexes:
    """What this module adds to supervisord's behaviour (see the module docstring)."""

    def __init__(self) -> None:
        self.wakeup: WakeupPipe | None = None
        self.socket_map: dict[int, Any] | None = None
        self.off_because: str | None = "not installed"

    def install(self, supervisord: Any, version: str) -> None:
        """Called at every (re)start of supervisord's main loop, in its main thread. Never
        raises: on any trouble supervisord runs as shipped and its log says why."""
        self.uninstall()
        if not version.startswith(SUPPORTED):
            self.off_because = f"supervisor {version} is not one of {', '.join(SUPPORTED)}x"
        else:
            try:
                self._install(supervisord)
                self.off_because = None
            except Exception as exc:  # noqa: BLE001 - supervisord must start regardless
                self.uninstall()
                self.off_because = f"{type(exc).__name__}: {exc}"
        if self.off_because is not None:
            with contextlib.suppress(Exception):
                supervisord.options.logger.warn(
                    f"qbarr reflexes off ({self.off_because}): supervisord runs as shipped"
                )

    def _install(self, supervisord: Any) -> None:
        from supervisor import events  # inside supervisord: supervisor is importable

        wakeup = WakeupPipe()
        self.wakeup = wakeup
        self.socket_map = supervisord.options.get_socket_map()
        self.socket_map[wakeup.read_fd] = wakeup
        signal.set_wakeup_fd(wakeup.write_fd, warn_on_full_buffer=False)
        # events.clear() runs at each start of supervisord's loop: subscribe every time.
        events.subscribe(events.SupervisorStoppingEvent, lambda event: self.stopping(supervisord))

    def uninstall(self) -> None:
        wakeup = self.wakeup
        if wakeup is None:
            return
        self.wakeup = None
        with contextlib.suppress(ValueError):  # not the main thread: nothing was set
            signal.set_wakeup_fd(-1)
        fd = wakeup.read_fd
        wakeup.close()
        if self.socket_map is not None and self.socket_map.get(fd) is wakeup:
            del self.socket_map[fd]

    def stopping(self, supervisord: Any) -> None:
        """Shutdown or restart: send every process its stop signal now, all at once."""
        from supervisor.states import SupervisorStates

        for group in list(supervisord.process_groups.values()):
            group.stop_all()
        if supervisord.options.mood == SupervisorStates.RESTARTING:
            # supervisord closes every inherited fd before it starts again: stop writing
            # signal bytes into a descriptor number that will be reused. install() rearms.
            signal.set_wakeup_fd(-1)


REFLEXES = Reflexes()


class ReflexesRPC:
    """The ``qbarr`` XML-RPC namespace: one read-only call."""

    def reflexes(self) -> dict[str, Any]:
        """Whether the reflexes are on, and why not when they are off."""
        return {"on": REFLEXES.off_because is None, "off_because": REFLEXES.off_because or ""}


def supervisor_version() -> str:
    try:
        from supervisor.options import VERSION

        return str(VERSION)
    except Exception:  # noqa: BLE001 - an unknown version is simply not supported
        return "unknown"


def make_rpcinterface(supervisord: Any, **config: Any) -> ReflexesRPC:
    """The ``supervisor.rpcinterface_factory`` named in supervisord.conf."""
    REFLEXES.install(supervisord, supervisor_version())
    return ReflexesRPC()
