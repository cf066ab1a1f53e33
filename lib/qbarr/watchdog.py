"""The watchdog's restart policy: pure decisions, no I/O (the program is programs/watchdog.py).

Inputs are supervisord events (:class:`StateEvent`) and, on every ``TICK_5``, the process
list from ``getAllProcessInfo`` plus the heartbeat rows of the ``instances`` table. Outputs
are :class:`Action` values the program carries out: start a program, signal it, record a
row in the ``crashes`` table.

Rules:

- **Crashes are recorded**: ``exited`` (EXITED with ``expected:0``; supervisord restarts it
  itself, ``autorestart=unexpected``), ``backoff`` (died before ``startsecs``; supervisord
  retries ``startretries`` times), ``fatal`` (supervisord gave up).
- **FATAL is not the end**: supervisord never retries a FATAL program. The watchdog starts
  it again after ``5 s x 2^(n-1)`` (n = consecutive FATALs of that program), capped at
  ``[Settings] RestartBackoffMax``, at the first tick after that delay; the count resets
  when the program reaches RUNNING. A ``restart`` row records each attempt.
- **Hung programs are restarted**: a RUNNING program that writes heartbeats (a row in
  ``instances`` with its program name) whose last sign of life (its heartbeat if written by
  the current pid, else the process start time) is older than ``[Settings]
  HeartbeatTimeout`` gets SIGUSR1 (faulthandler writes its stacks into its log) then
  SIGTERM (``hung`` row). If the same pid still runs ``KILL_GRACE`` seconds later it gets
  SIGKILL (``killed`` row). When it exits, the watchdog starts it again if supervisord
  will not (an exit 0 after TERM is "expected"): ``restart`` row.
- **Not while the disk is full**: when qbarr.db cannot be written, no program can write its
  heartbeat; the hang checks pause (the program tells the policy) until it can again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qbarr.backoff import Backoff

BACKOFF_BASE = 5.0
KILL_GRACE = 10.0


@dataclass(frozen=True)
class StateEvent:
    """A ``PROCESS_STATE_*`` event."""

    state: str  # EXITED, FATAL, BACKOFF, RUNNING, STOPPED, ...
    name: str  # process name
    group: str
    from_state: str = ""
    pid: int | None = None
    expected: bool | None = None

    @property
    def full_name(self) -> str:
        return self.name if self.group == self.name else f"{self.group}:{self.name}"

    @classmethod
    def parse(cls, eventname: str, payload: str) -> StateEvent:
        """From the event name (``PROCESS_STATE_FATAL``) and its one-line payload."""
        fields = dict(token.split(":", 1) for token in payload.split() if ":" in token)
        pid = fields.get("pid")
        expected = fields.get("expected")
        return cls(
            state=eventname.removeprefix("PROCESS_STATE_"),
            name=fields.get("processname", ""),
            group=fields.get("groupname", ""),
            from_state=fields.get("from_state", ""),
            pid=int(pid) if pid and pid.isdigit() else None,
            expected=None if expected is None else expected == "1",
        )


@dataclass(frozen=True)
class Action:
    """``kind`` is ``start``, ``signal`` or ``record``; ``target`` is ``group:name``."""

    kind: str
    target: str
    signal: str = ""
    event: str = ""
    pid: int | None = None
    from_state: str = ""
    detail: str = ""


def record(
    target: str, event: str, detail: str, pid: int | None = None, from_state: str = ""
) -> Action:
    return Action("record", target, event=event, pid=pid, from_state=from_state, detail=detail)


@dataclass
class _Fatal:
    count: int
    due: float | None  # None: a start was sent, waiting for its outcome


@dataclass
class _Hung:
    pid: int
    since: float
    killed: bool = False


@dataclass
class Policy:
    """The watchdog's memory and rules (see the module docstring)."""

    heartbeat_timeout: float = 120.0
    backoff_max: float = 300.0
    base: float = BACKOFF_BASE
    kill_grace: float = KILL_GRACE
    fatal: dict[str, _Fatal] = field(default_factory=dict)
    hung: dict[str, _Hung] = field(default_factory=dict)

    def delay(self, count: int) -> float:
        return Backoff(self.base, self.backoff_max).delay(max(1, count))

    # -- events ------------------------------------------------------------------------------

    def on_state(self, ev: StateEvent, now: float) -> list[Action]:
        name = ev.full_name
        if ev.state == "RUNNING":
            self.fatal.pop(name, None)
            self._forget_hung(name, keep_pid=ev.pid)
            return []
        if ev.state == "STOPPED":
            self.fatal.pop(name, None)
            self.hung.pop(name, None)
            return []
        if ev.state == "BACKOFF":
            return [
                record(
                    name,
                    "backoff",
                    "exited before startsecs; supervisord retries it",
                    ev.pid,
                    ev.from_state,
                )
            ]
        if ev.state == "FATAL":
            return self._on_fatal(name, ev, now)
        if ev.state == "EXITED":
            return self._on_exited(name, ev)
        return []

    def _on_fatal(self, name: str, ev: StateEvent, now: float) -> list[Action]:
        previous = self.fatal.get(name)
        count = previous.count + 1 if previous else 1
        delay = self.delay(count)
        self.fatal[name] = _Fatal(count, now + delay)
        detail = f"supervisord gave up (startretries); watchdog restart #{count} in {delay:g} s"
        return [record(name, "fatal", detail, ev.pid, ev.from_state)]

    def _on_exited(self, name: str, ev: StateEvent) -> list[Action]:
        hung = self.hung.get(name)
        if hung is not None and (ev.pid is None or ev.pid == hung.pid):
            del self.hung[name]
            if ev.expected:
                return [
                    Action("start", name),
                    record(
                        name, "restart", "hung program exited after TERM; started again", ev.pid
                    ),
                ]
            return [record(name, "restart", "hung program ended; supervisord restarts it", ev.pid)]
        if ev.expected:
            return []
        return [
            record(
                name,
                "exited",
                "exited unexpectedly; supervisord restarts it",
                ev.pid,
                ev.from_state,
            )
        ]

    def _forget_hung(self, name: str, keep_pid: int | None) -> None:
        hung = self.hung.get(name)
        if hung is not None and hung.pid != keep_pid:
            del self.hung[name]

    # -- ticks -------------------------------------------------------------------------------

    def on_tick(
        self,
        now: float,
        processes: Sequence[Mapping[str, Any]],
        heartbeats: Mapping[str, Mapping[str, Any]],
        check_hangs: bool = True,
    ) -> list[Action]:
        """FATAL restarts that are due, and hang checks unless ``check_hangs`` is False
        (qbarr.db cannot be written: stale heartbeats then say nothing about a hang)."""
        actions: list[Action] = []
        by_name = {_full(p): p for p in processes}
        actions += self._fatal_restarts(now, by_name)
        if check_hangs:
            actions += self._hang_checks(now, by_name, heartbeats)
        return actions

    def _fatal_restarts(self, now: float, by_name: Mapping[str, Mapping[str, Any]]) -> list[Action]:
        actions: list[Action] = []
        for name, info in by_name.items():  # FATAL before the watchdog (re)started
            if info["statename"] == "FATAL" and name not in self.fatal:
                self.fatal[name] = _Fatal(1, now + self.delay(1))
        for name, state in list(self.fatal.items()):
            current = by_name.get(name)
            if current is None:
                del self.fatal[name]  # removed from the configuration
                continue
            if state.due is None or now < state.due or current["statename"] != "FATAL":
                continue
            state.due = None
            actions.append(Action("start", name))
            actions.append(record(name, "restart", f"watchdog restart #{state.count} after FATAL"))
        return actions

    def _hang_checks(
        self,
        now: float,
        by_name: Mapping[str, Mapping[str, Any]],
        heartbeats: Mapping[str, Mapping[str, Any]],
    ) -> list[Action]:
        actions: list[Action] = []
        for name, info in by_name.items():
            row = heartbeats.get(info["name"])
            if info["statename"] != "RUNNING" or row is None:
                continue
            pid = int(info["pid"])
            hung = self.hung.get(name)
            if hung is not None and hung.pid == pid:
                if not hung.killed and now - hung.since >= self.kill_grace:
                    hung.killed = True
                    actions.append(Action("signal", name, signal="KILL"))
                    detail = f"still running {self.kill_grace:g} s after TERM: SIGKILL"
                    actions.append(record(name, "killed", detail, pid))
                continue
            age = now - last_sign_of_life(info, row)
            if age > self.heartbeat_timeout:
                self.hung[name] = _Hung(pid, now)
                actions.append(Action("signal", name, signal="USR1"))
                actions.append(Action("signal", name, signal="TERM"))
                detail = (
                    f"heartbeat {age:.0f} s old (limit {self.heartbeat_timeout:g} s): "
                    "sent USR1 (thread stacks in its log) and TERM"
                )
                actions.append(record(name, "hung", detail, pid))
        return actions


def last_sign_of_life(info: Mapping[str, Any], row: Mapping[str, Any]) -> float:
    """The heartbeat if the running pid wrote it, else when the process started."""
    started = float(info.get("start") or 0)
    beat = float(row.get("heartbeat_at") or 0) if row.get("pid") == info.get("pid") else 0.0
    return max(started, beat)


def _full(info: Mapping[str, Any]) -> str:
    return info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
