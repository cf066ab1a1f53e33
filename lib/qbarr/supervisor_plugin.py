"""qbarr's XML-RPC extension for supervisord: change one program of a group at a time.

Why it exists. The Arr managers live in one ``[group:arr]`` so that supervisord stops them
all at once on shutdown (it stops groups one after another: 8 managers as one group stop in
~0.6 s, as 8 groups in 6-9 s). But supervisor's own ``update`` works per *group*: adding a
third ``[program:arr-x]`` to the group marks the whole group "changed", and ``update`` stops
and restarts every manager in it. Supervisor's XML-RPC API has no per-process add/remove.

This plugin, loaded inside supervisord by ``[rpcinterface:qbarr]`` in supervisord.conf, adds
the missing primitives (namespace ``qbarr``):

- ``qbarr.getPluginVersion()``
- ``qbarr.diffGroup(group)``: after ``supervisor.reloadConfig()``, which programs of an
  active group were added, removed or changed in the files, and whether a per-process update
  is possible at all (plain ``[group:x]`` or ``[program:x]`` groups whose priority did not
  change).
- ``qbarr.applyGroup(group)``: make the active group match the re-read config: drop the
  removed and changed processes (they must be stopped first, with
  ``supervisor.stopProcess``), create the added and changed ones (supervisord's main loop
  autostarts them), and adopt the new group config so that a later ``reloadConfig`` reports
  the group unchanged.

:func:`qbarr.supervision.update` drives it like ``supervisorctl update``; it falls back to
supervisor's whole-group update when the plugin is not loaded.

Loading it also gives supervisord two reflexes (:class:`Reflexes`), because supervisord's
main loop only looks around once per second (``poll()`` with a 1 s timeout; a signal does
not cut the wait short, Python resumes the call after the handler):

- **Signals wake the loop.** ``signal.set_wakeup_fd`` makes every signal supervisord handles
  (SIGTERM, SIGCHLD, ...) write a byte into a pipe that the loop polls, plus one more byte so
  that the pass after it (which starts or stops what the signal changed) also runs at once.
  Measured: SIGKILL of a manager -> new process 1-2 s before, a few ms after; SIGTERM ->
  shutdown begins at once instead of within a second.
- **Everything stops at once.** On shutdown supervisord stops the groups one after another
  (each waits for the previous one to be reaped); on ``SupervisorStoppingEvent`` every
  process of every group gets its stop signal at the same moment. Stop order does not
  matter to qbarr: every program finishes its own step and the database keeps the rest.

This module runs inside supervisord: it imports only supervisor and the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from supervisor import events
from supervisor.options import ProcessConfig, ProcessGroupConfig
from supervisor.process import ProcessGroup
from supervisor.states import STOPPED_STATES, SupervisorStates
from supervisor.xmlrpc import Faults, RPCError

PLUGIN_VERSION = "1"


class QbarrNamespaceRPCInterface:
    """The ``qbarr`` XML-RPC namespace (see the module docstring)."""

    def __init__(self, supervisord: Any) -> None:
        self.supervisord = supervisord

    # -- helpers -------------------------------------------------------------------------

    def _check_mood(self) -> None:
        mood = self.supervisord.options.mood
        if isinstance(mood, int) and mood < SupervisorStates.RUNNING:
            raise RPCError(Faults.SHUTDOWN_STATE)

    def _active(self, name: str) -> Any:
        group = self.supervisord.process_groups.get(name)
        if group is None:
            raise RPCError(Faults.BAD_NAME, f"no active group {name}")
        return group

    def _configured(self, name: str) -> Any:
        for config in self.supervisord.options.process_group_configs:
            if config.name == name:
                return config
        raise RPCError(
            Faults.BAD_NAME, f"no group {name} in the configuration (reloadConfig first?)"
        )

    @staticmethod
    def _per_process_possible(group: Any, old: Any, new: Any) -> bool:
        """Only plain program groups, same type on both sides, same priority."""
        return (
            type(group) is ProcessGroup
            and type(old) is ProcessGroupConfig
            and type(new) is ProcessGroupConfig
            and old.priority == new.priority
            and all(
                type(p) is ProcessConfig
                for p in list(old.process_configs) + list(new.process_configs)
            )
        )

    @staticmethod
    def _diff(old: Any, new: Any) -> dict[str, list[str]]:
        before = {p.name: p for p in old.process_configs}
        after = {p.name: p for p in new.process_configs}
        return {
            "added": sorted(n for n in after if n not in before),
            "removed": sorted(n for n in before if n not in after),
            "changed": sorted(n for n in after if n in before and after[n] != before[n]),
        }

    # -- RPC methods ---------------------------------------------------------------------

    def getPluginVersion(self) -> str:  # noqa: N802 (XML-RPC names are camelCase)
        """Version of this plugin's API.

        @return string version
        """
        return PLUGIN_VERSION

    def diffGroup(self, name: str) -> dict[str, Any]:  # noqa: N802
        """Per-process difference between an active group and the re-read config.

        @param string name  group name
        @return struct {added, removed, changed: [names], per_process: bool}
        """
        self._check_mood()
        group = self._active(name)
        new = self._configured(name)
        result: dict[str, Any] = dict(self._diff(group.config, new))
        result["per_process"] = self._per_process_possible(group, group.config, new)
        return result

    def applyGroup(self, name: str) -> dict[str, list[str]]:  # noqa: N802
        """Drop removed/changed processes (already stopped), add new ones, adopt the config.

        @param string name  group name
        @return struct {added, removed: [names]}
        """
        self._check_mood()
        group = self._active(name)
        new = self._configured(name)
        if not self._per_process_possible(group, group.config, new):
            raise RPCError(Faults.FAILED, f"group {name} needs a whole-group update")
        diff = self._diff(group.config, new)
        leaving = diff["removed"] + diff["changed"]
        running = [n for n in leaving if group.processes[n].get_state() not in STOPPED_STATES]
        if running:
            raise RPCError(Faults.STILL_RUNNING, ", ".join(running))
        for pname in leaving:
            del group.processes[pname]
        configs = {p.name: p for p in new.process_configs}
        for pname in diff["added"] + diff["changed"]:
            pconfig = configs[pname]
            pconfig.create_autochildlogs()
            group.processes[pname] = pconfig.make_process(group)
        group.config = new
        return {"added": diff["added"] + diff["changed"], "removed": leaving}


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

    def install(self, supervisord: Any) -> None:
        """Called at every (re)start of supervisord's main loop, in its main thread."""
        self.uninstall()
        self.wakeup = WakeupPipe()
        self.socket_map = supervisord.options.get_socket_map()
        self.socket_map[self.wakeup.read_fd] = self.wakeup
        signal.set_wakeup_fd(self.wakeup.write_fd, warn_on_full_buffer=False)
        # events.clear() runs at each start of supervisord's loop: subscribe every time.
        events.subscribe(events.SupervisorStoppingEvent, lambda event: self.stopping(supervisord))

    def uninstall(self) -> None:
        wakeup = self.wakeup
        if wakeup is None:
            return
        self.wakeup = None
        signal.set_wakeup_fd(-1)
        fd = wakeup.read_fd
        wakeup.close()
        if self.socket_map is not None and self.socket_map.get(fd) is wakeup:
            del self.socket_map[fd]

    def stopping(self, supervisord: Any) -> None:
        """Shutdown or restart: send every process its stop signal now, all at once."""
        for group in list(supervisord.process_groups.values()):
            group.stop_all()
        if supervisord.options.mood == SupervisorStates.RESTARTING:
            # supervisord closes every inherited fd before it starts again: stop writing
            # signal bytes into a descriptor number that will be reused. install() rearms.
            signal.set_wakeup_fd(-1)


REFLEXES = Reflexes()


def make_rpcinterface(supervisord: Any, **config: Any) -> QbarrNamespaceRPCInterface:
    """The ``supervisor.rpcinterface_factory`` named in supervisord.conf."""
    REFLEXES.install(supervisord)
    return QbarrNamespaceRPCInterface(supervisord)
