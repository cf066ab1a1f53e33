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

This module runs inside supervisord: it imports only supervisor and the standard library.
"""

from __future__ import annotations

from typing import Any

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


def make_rpcinterface(supervisord: Any, **config: Any) -> QbarrNamespaceRPCInterface:
    """The ``supervisor.rpcinterface_factory`` named in supervisord.conf."""
    return QbarrNamespaceRPCInterface(supervisord)
