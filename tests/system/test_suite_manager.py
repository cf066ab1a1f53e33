"""The manager's program contract, run directly (no supervisord): TERM, forced stop, USR1."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.paths import Home
from tests.support.waiting import wait_for
from tests.system.conftest import ArrSpec, config_text, short_home

pytestmark = pytest.mark.system
ARR = str(Path(sys.executable).parent / "qbarr-arr")


@pytest.fixture
def home() -> Iterator[Home]:
    home = short_home()
    home.config.write_text(config_text([ArrSpec("Radarr-A", "movies")]))
    try:
        yield home
    finally:
        shutil.rmtree(home.root, ignore_errors=True)


def start(home: Home, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [ARR, "--instance", "Radarr-A", "--home", str(home.root)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def heartbeats(home: Home) -> int:
    if not home.database.exists():
        return 0
    db = dbmod.connect(home.database)
    try:
        found = dbmod.rows(db, "SELECT cycles FROM instances WHERE name = 'Radarr-A'")
    except sqlite3.OperationalError:  # the file exists a moment before the manager's migration ran
        return 0
    finally:
        db.close()
    return found[0]["cycles"] if found else 0


def test_sigterm_exits_zero_promptly(home: Home, tmp_path: Path) -> None:
    proc = start(home, tmp_path / "arr.log")
    try:
        wait_for(lambda: heartbeats(home) >= 2, what="two heartbeats")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "arr.log").read_text()
    assert "stopping on request" in log
    db = dbmod.connect(home.database)
    assert dbmod.rows(db, "SELECT status FROM instances")[0]["status"] == "stopped"
    db.close()


def test_stuck_step_still_stops_with_exit_zero_and_usr1_dumps_stacks(
    home: Home, tmp_path: Path
) -> None:
    log = tmp_path / "arr.log"
    proc = start(home, log)
    try:
        wait_for(lambda: heartbeats(home) >= 1, what="a heartbeat")
        (home.root / "debug").mkdir()
        (home.root / "debug" / "hang-radarr-a").touch()
        wait_for(
            lambda: "hanging on purpose" in log.read_text(),
            what="the hang",
        )
        proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "SIGUSR1" in log.read_text(), what="the dump note")
        proc.send_signal(signal.SIGTERM)  # the step never ends: StopNow after the grace
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "most recent call first" in text and "hang_forever" in text
    assert "stopping now" in text
