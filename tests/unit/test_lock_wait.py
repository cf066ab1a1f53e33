"""A second copy under `qbarr run-program` waits for the program's lock instead of exiting:
it says who holds it (pid, host, since when) once, again at a bounded interval, takes the
lock when the holder goes, and stops at once (exit 0) when asked to while it waits."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from qbarr import lifeline
from qbarr.locks import FileLock
from qbarr.paths import Home


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_waiting_copy_names_the_holder_again_at_an_interval_then_takes_the_lock(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path)
    home.ensure()
    holder = FileLock.named(home, "arr-radarr-main").acquire()  # the copy that runs: this test
    clock, said, polls = Clock(), [], []

    def poll() -> None:  # what the wait does between tries: time passes; the holder dies late
        polls.append(clock.now)
        clock.now += 10.0
        if clock.now >= 1000.0 + 2.5 * lifeline.WAIT_REMIND_EVERY:
            holder.release()

    try:
        lock = lifeline.wait_for_lock(
            FileLock.named(home, "arr-radarr-main"),
            "arr-radarr-main",
            "qbarr-arr",
            stop=lambda: False,
            clock=clock,
            between=poll,
            say=said.append,
        )
    finally:
        holder.release()
    assert lock is not None and lock.held
    try:
        assert len(said) == 3 + 1, said  # at 0, 1x, 2x the interval; then "took it"
        assert all(
            f"pid {os.getpid()}" in line and socket.gethostname() in line for line in said[:3]
        )
        assert "since" in said[0] and "waiting" in said[0]
        assert "takes over" in said[-1] or "took" in said[-1]
        assert len(polls) < 1000
    finally:
        lock.release()


def test_asked_to_stop_while_waiting_it_returns_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ensure()
    holder = FileLock.named(home, "webui").acquire()
    asked = iter([False, False, True])
    try:
        got = lifeline.wait_for_lock(
            FileLock.named(home, "webui"),
            "webui",
            "qbarr-webui",
            stop=lambda: next(asked),
            clock=Clock(),
            between=lambda: None,
            say=lambda line: None,
        )
    finally:
        holder.release()
    assert got is None


@pytest.mark.parametrize("run_program", [True, False])
def test_only_under_run_program_does_a_second_copy_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_program: bool
) -> None:
    """By hand or under supervisord a second copy still exits 75 (supervisord retries it)."""
    home = Home(tmp_path)
    home.ensure()
    monkeypatch.delenv("SUPERVISOR_ENABLED", raising=False)
    if run_program:
        monkeypatch.setenv(lifeline.WAIT_ENV, "1")
    else:
        monkeypatch.delenv(lifeline.WAIT_ENV, raising=False)
    assert lifeline.under_run_program() is run_program
    monkeypatch.setenv("SUPERVISOR_ENABLED", "1")
    assert lifeline.under_run_program() is False
