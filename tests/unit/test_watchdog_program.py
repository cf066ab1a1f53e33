"""The watchdog program against a supervisord that is stopping: quiet, and it leaves."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervisor.xmlrpc import Faults

from qbarr import runtime
from qbarr.paths import Home
from qbarr.supervision import SupervisorFault
from qbarr.watchdog import Action
from qbarr_programs.watchdog import Watchdog
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


class StoppingSupervisor:
    """supervisord in its shutdown: every call is refused with SHUTDOWN_STATE."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _refuse(self, name: str) -> None:
        self.calls.append(name)
        raise SupervisorFault(Faults.SHUTDOWN_STATE, "SHUTDOWN_STATE")

    def processes(self) -> list[dict]:
        self._refuse("processes")
        return []

    def start(self, name: str, wait: bool = False) -> None:
        self._refuse(f"start {name}")


@pytest.fixture(autouse=True)
def captured() -> Iterator[io.StringIO]:
    """The watchdog's log lines (INFO and up)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("qbarr-watchdog")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


def make(tmp_path: Path, stream: io.StringIO) -> tuple[Watchdog, StoppingSupervisor, io.StringIO]:
    home = Home(tmp_path)
    formatter = runtime.ScrubbingFormatter("watchdog")
    ctx = runtime.Context(
        "qbarr-watchdog", "watchdog", home, runtime.Signals(), formatter, logging.getLogger()
    )
    sup = StoppingSupervisor()
    db = open_db(tmp_path / "qbarr.db")
    return Watchdog(ctx, home, sup, db), sup, stream  # type: ignore[arg-type]


def test_a_tick_during_shutdown_is_no_traceback_and_the_watchdog_leaves(
    tmp_path: Path, captured: io.StringIO
) -> None:
    watchdog, sup, log = make(tmp_path, captured)
    watchdog.handle({"eventname": "TICK_5"}, "")  # raised SupervisorFault before
    assert sup.calls == ["processes"]
    assert watchdog.ctx.signals.stop_requested
    assert "Traceback" not in log.getvalue() and "SHUTDOWN_STATE" not in log.getvalue()


def test_supervisord_stopping_makes_the_watchdog_leave_without_acting(
    tmp_path: Path, captured: io.StringIO
) -> None:
    watchdog, sup, log = make(tmp_path, captured)
    watchdog.handle({"eventname": "SUPERVISOR_STATE_CHANGE_STOPPING"}, "")
    assert watchdog.ctx.signals.stop_requested
    watchdog.perform([Action("start", "arr:arr-x")])
    assert sup.calls == []  # nothing is attempted once it knows


def test_a_record_without_pid_says_no_pid(tmp_path: Path, captured: io.StringIO) -> None:
    watchdog, _, log = make(tmp_path, captured)
    watchdog.perform([Action("record", "arr:arr-x", event="restart", detail="watchdog restart #1")])
    assert "restart arr:arr-x: watchdog restart #1" in log.getvalue()
    assert "pid None" not in log.getvalue()
