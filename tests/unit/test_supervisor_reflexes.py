"""The reflexes qbarr's plugin gives supervisord (qbarr.supervisor_plugin.Reflexes).

Driven with a stand-in for the supervisord object (the plugin only touches ``options``,
``process_groups`` and supervisor's event bus) and real signals and pipes in this process;
the figures they buy (stop and restart times) are printed by bench/run.py.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from supervisor import events
from supervisor.states import SupervisorStates

from qbarr import supervisor_plugin


class Group:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def stop_all(self) -> None:
        self.calls.append(self.name)


def fake_supervisord(calls: list[str], mood: int = SupervisorStates.SHUTDOWN) -> SimpleNamespace:
    socket_map: dict[int, object] = {}
    options = SimpleNamespace(get_socket_map=lambda: socket_map, mood=mood)
    groups = {name: Group(name, calls) for name in ("webui", "arr", "search", "watchdog")}
    return SimpleNamespace(options=options, process_groups=groups)


@pytest.fixture
def installed() -> Iterator[tuple[SimpleNamespace, list[str]]]:
    calls: list[str] = []
    sup = fake_supervisord(calls)
    previous = signal.getsignal(signal.SIGUSR2)
    signal.signal(signal.SIGUSR2, lambda signum, frame: None)  # supervisord's receiver
    supervisor_plugin.make_rpcinterface(sup)
    try:
        yield sup, calls
    finally:
        supervisor_plugin.REFLEXES.uninstall()
        events.clear()
        signal.signal(signal.SIGUSR2, previous)


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_the_stopping_event_stops_every_group_at_once(installed) -> None:
    sup, calls = installed
    events.notify(events.SupervisorStoppingEvent())
    assert sorted(calls) == sorted(sup.process_groups)


def test_a_signal_wakes_the_loop_and_one_more_pass_follows(installed) -> None:
    sup, _ = installed
    wakeup = supervisor_plugin.REFLEXES.wakeup
    assert wakeup is not None
    assert sup.options.get_socket_map()[wakeup.read_fd] is wakeup and wakeup.readable()
    assert not readable(wakeup.read_fd)
    os.kill(os.getpid(), signal.SIGUSR2)
    assert readable(wakeup.read_fd), "the signal must make supervisord's poll return"
    wakeup.handle_read_event()
    assert readable(wakeup.read_fd), "one more pass, at once"
    wakeup.handle_read_event()
    assert not readable(wakeup.read_fd), "and then the loop sleeps again"


def test_reinstalling_replaces_the_pipe_and_restart_unhooks_the_signals(installed) -> None:
    sup, calls = installed
    first = supervisor_plugin.REFLEXES.wakeup
    assert first is not None
    sup.options.mood = SupervisorStates.RESTARTING
    events.notify(events.SupervisorStoppingEvent())
    assert sorted(calls) == sorted(sup.process_groups)
    assert signal.set_wakeup_fd(-1) == -1, "no signal byte may go to a closed descriptor"
    events.clear()  # what supervisord does before it starts again
    supervisor_plugin.make_rpcinterface(sup)
    second = supervisor_plugin.REFLEXES.wakeup
    assert second is not None and second is not first and first.closed
    assert list(sup.options.get_socket_map()) == [second.read_fd]
    assert signal.set_wakeup_fd(second.write_fd) == second.write_fd
