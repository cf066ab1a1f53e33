"""qbarr-search as a program: a bad config.ini is reported (heartbeat, log) while the
program waits for a fix; it never exits into a restart loop."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qbarr import db as qdb
from qbarr.search.status import row_name
from tests.support.engines import location
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine): the program
# reports a bad config.ini in the database [Settings] Database names, from the environment.
pytestmark = pytest.mark.usefixtures("engine")

BIN = Path(sys.executable).parent
SEARCH = str(BIN / "qbarr-search") if (BIN / "qbarr-search").exists() else "qbarr-search"

BASE = """[qBittorrent]
[Radarr-Main]
URL = http://127.0.0.1:1
APIKey = the-arr-secret-key
Category = radarr
    [[Search]]
    Enabled = true
"""


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEARCH, "--home", str(home), *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            "    SearchLimit = -2\n",
            "[Radarr-Main][Search] SearchLimit = '-2' is invalid: "
            "expected a whole number (at least 1",
        ),
        (
            "    MaxSearchesPerDay = -1\n",
            "[Radarr-Main][Search] MaxSearchesPerDay = '-1' is invalid",
        ),
        (
            "    SearchBySeries = sometimes\n",
            "[Radarr-Main][Search] SearchBySeries = 'sometimes' is invalid: "
            "expected one of smart, episode, series",
        ),
        (
            "        [[[Overseerr]]]\n        Enabled = true\n        APIKey = the-overseerr-key\n",
            "[Radarr-Main][Search][Overseerr] URL is empty: Overseerr is enabled",
        ),
    ],
)
def test_bad_settings_wait_and_report_naming_file_section_key(
    tmp_path: Path, extra: str, expected: str
) -> None:
    """Under supervisord an exit would be restarted into a loop (then FATAL): the program
    stays up, reports the problem in its heartbeat and log, and starts once it is fixed."""
    (tmp_path / "config.ini").write_text(BASE + extra)
    with started(tmp_path, "--instance", "Radarr-Main") as proc:
        row = wait_for(
            lambda: heartbeat(tmp_path, "Radarr-Main"),
            what="the search program's heartbeat row",
        )
        assert row["status"] == "config-error", row
        assert f"{tmp_path / 'config.ini'}: {expected}" in row["last_error"]
        assert proc.poll() is None  # still running
        (tmp_path / "config.ini").write_text(BASE)
        proc.send_signal(signal.SIGHUP)
        row = wait_for(
            lambda: (
                (r := heartbeat(tmp_path, "Radarr-Main")) and r["status"] != "config-error" and r
            ),
            what="the search program to start with the fixed config",
        )
        assert proc.poll() is None
    assert proc.returncode == 0
    log = proc.stdout_text  # type: ignore[attr-defined]
    assert expected in log and "waiting for a fix" in log
    assert "the-arr-secret-key" not in log and "the-overseerr-key" not in log
    assert "the-arr-secret-key" not in json.dumps(row)


def test_unknown_instance_waits_and_reports(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(BASE)
    with started(tmp_path, "--instance", "Radarr-Nope") as proc:
        row = wait_for(lambda: heartbeat(tmp_path, "Radarr-Nope"), what="a heartbeat row")
        assert row["status"] == "config-error"
        assert "no Arr instance 'Radarr-Nope'" in row["last_error"]
        assert "Radarr-Main" in row["last_error"]
        assert proc.poll() is None
    assert proc.returncode == 0


@contextlib.contextmanager
def started(home: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """qbarr-search running; SIGTERM and wait at the end (its output in ``stdout_text``)."""
    proc = subprocess.Popen(
        [SEARCH, "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=10)
        proc.stdout_text = out  # type: ignore[attr-defined]


def heartbeat(home: Path, name: str) -> dict[str, Any] | None:
    """The program's instances row, once it has written an error or a cycle."""
    path = location(home / "qbarr.db")
    if isinstance(path, Path) and not path.exists():
        return None
    db = qdb.connect(path)
    try:
        found = qdb.rows(
            db,
            "SELECT * FROM instances WHERE name = ? AND (last_error IS NOT NULL OR cycles > 0)",
            (row_name(name),),
        )
    except sqlite3.OperationalError:  # the schema is being created
        return None
    finally:
        db.close()
    return found[0] if found else None


def test_missing_instance_argument_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 2 and "--instance" in done.stderr
