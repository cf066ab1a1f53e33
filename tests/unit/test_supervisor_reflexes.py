"""The reflexes qbarr gives supervisord (qbarr.supervisor_reflexes), and their guard.

Driven with a stand-in for the supervisord object (the module only touches ``options``,
``process_groups`` and supervisor's event bus) and real signals and pipes in this process;
the figures they buy (stop and restart times) are printed by bench/run.py. That supervisord
really starts with them, and stops with them, is what every system test does.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from supervisor import events
from supervisor.options import VERSION
from supervisor.states import SupervisorStates

from qbarr import supervisor_reflexes as reflexes


class Group:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def stop_all(self) -> None:
        self.calls.append(self.name)


class Logger:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def fake_supervisord(calls: list[str], mood: int = SupervisorStates.SHUTDOWN) -> SimpleNamespace:
    socket_map: dict[int, object] = {}
    options = SimpleNamespace(get_socket_map=lambda: socket_map, mood=mood, logger=Logger())
    groups = {name: Group(name, calls) for name in ("webui", "arr", "search", "watchdog")}
    return SimpleNamespace(options=options, process_groups=groups)


@pytest.fixture
def installed() -> Iterator[tuple[SimpleNamespace, list[str]]]:
    calls: list[str] = []
    sup = fake_supervisord(calls)
    previous = signal.getsignal(signal.SIGUSR2)
    signal.signal(signal.SIGUSR2, lambda signum, frame: None)  # supervisord's receiver
    rpc = reflexes.make_rpcinterface(sup)
    assert rpc.reflexes() == {"on": True, "off_because": ""}
    try:
        yield sup, calls
    finally:
        reflexes.REFLEXES.uninstall()
        events.clear()
        signal.signal(signal.SIGUSR2, previous)


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_this_supervisor_is_a_supported_one() -> None:
    assert str(VERSION).startswith(reflexes.SUPPORTED), VERSION


def test_the_stopping_event_stops_every_group_at_once(installed) -> None:
    sup, calls = installed
    events.notify(events.SupervisorStoppingEvent())
    assert sorted(calls) == sorted(sup.process_groups)


def test_a_signal_wakes_the_loop_and_one_more_pass_follows(installed) -> None:
    sup, _ = installed
    wakeup = reflexes.REFLEXES.wakeup
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
    first = reflexes.REFLEXES.wakeup
    assert first is not None
    sup.options.mood = SupervisorStates.RESTARTING
    events.notify(events.SupervisorStoppingEvent())
    assert sorted(calls) == sorted(sup.process_groups)
    assert signal.set_wakeup_fd(-1) == -1, "no signal byte may go to a closed descriptor"
    events.clear()  # what supervisord does before it starts again
    reflexes.make_rpcinterface(sup)
    second = reflexes.REFLEXES.wakeup
    assert second is not None and second is not first and first.closed
    assert list(sup.options.get_socket_map()) == [second.read_fd]
    assert signal.set_wakeup_fd(second.write_fd) == second.write_fd
    reflexes.REFLEXES.uninstall()


def test_an_unknown_supervisor_version_leaves_supervisord_as_shipped() -> None:
    calls: list[str] = []
    sup = fake_supervisord(calls)
    try:
        reflexes.REFLEXES.install(sup, "5.0.0")
        assert reflexes.REFLEXES.wakeup is None and sup.options.get_socket_map() == {}
        assert signal.set_wakeup_fd(-1) == -1, "no wakeup fd was set"
        events.notify(events.SupervisorStoppingEvent())
        assert calls == [], "no stopping subscriber either"
        assert reflexes.ReflexesRPC().reflexes() == {
            "on": False,
            "off_because": "supervisor 5.0.0 is not one of 4.x",
        }
        assert sup.options.logger.warnings == [
            "qbarr reflexes off (supervisor 5.0.0 is not one of 4.x): supervisord runs as shipped"
        ]
    finally:
        reflexes.REFLEXES.uninstall()
        events.clear()


def test_a_failure_while_installing_never_stops_supervisord() -> None:
    """supervisor's internals changed (here: no socket map): the factory still returns, with
    nothing left behind, and the log says why."""
    sup = fake_supervisord([])
    del sup.options.get_socket_map
    try:
        rpc = reflexes.make_rpcinterface(sup)
        assert rpc.reflexes()["on"] is False
        assert "get_socket_map" in rpc.reflexes()["off_because"]
        assert reflexes.REFLEXES.wakeup is None
        assert signal.set_wakeup_fd(-1) == -1
        assert "supervisord runs as shipped" in sup.options.logger.warnings[0]
    finally:
        reflexes.REFLEXES.uninstall()
        events.clear()
