"""A write lost to a full disk is a state to wait in: classified, retried, logged once.

SQLite only: these are SQLite's full-disk errors (a PostgreSQL server out of reach is the
same waiting state: tests/unit/test_pgstore.py)."""

from __future__ import annotations

import io
import logging
import sqlite3
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr import runtime, storage
from qbarr.paths import Home


def full_disk_error() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = 13  # type: ignore[attr-defined]
    return exc


def test_what_counts_as_a_full_disk() -> None:
    assert dbmod.is_storage_error(full_disk_error())
    io_error = sqlite3.OperationalError("disk I/O error")
    io_error.sqlite_errorcode = 4874  # type: ignore[attr-defined]  # SQLITE_IOERR_SHMSIZE
    assert dbmod.is_storage_error(io_error)
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert not dbmod.is_storage_error(locked)
    assert not dbmod.is_storage_error(sqlite3.DatabaseError("database disk image is malformed"))
    assert not dbmod.is_storage_error(ValueError("disk is full"))


def test_the_loop_waits_out_a_full_disk_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("qbarr-test-storage")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    ctx = runtime.Context(
        "qbarr-test",
        "test",
        Home(tmp_path),
        runtime.Signals(),
        runtime.ScrubbingFormatter("test"),
        logger,
    )
    monkeypatch.setattr(runtime.StorageWait, "RETRY", (0.01, 0.02))
    outcomes = [full_disk_error(), full_disk_error(), full_disk_error(), None]
    resets: list[int] = []

    def step() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        ctx.signals.request_stop()

    try:
        assert runtime.run_loop(ctx, step, lambda: 0.0, reset=lambda: resets.append(1)) == 0
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert outcomes == [] and len(resets) == 3
    assert text.count("qbarr.db cannot be written: database or disk is full") == 1
    assert "qbarr.db is writable again" in text


def test_any_other_database_error_is_still_a_crash(tmp_path: Path) -> None:
    ctx = runtime.Context(
        "qbarr-test",
        "test",
        Home(tmp_path),
        runtime.Signals(),
        runtime.ScrubbingFormatter("test"),
        logging.getLogger("qbarr-test-storage"),
    )

    def step() -> None:
        raise sqlite3.OperationalError("no such table: nope")

    with pytest.raises(sqlite3.OperationalError):
        runtime.run_loop(ctx, step, lambda: 0.0)


def test_the_warning_appears_only_when_space_is_low(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "LOW", 0)  # no disk is ever that full
    assert storage.warning(tmp_path) is None
    monkeypatch.setattr(storage, "LOW", 1 << 62)  # every disk is "full" now
    text = storage.warning(tmp_path)
    assert text is not None and str(tmp_path) in text and "free" in text
