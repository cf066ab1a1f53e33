"""A damaged, unreadable or too new qbarr.db: `qbarr run` refuses clearly (exit 78) and
keeps the file; `qbarr db recover` saves what can be read; no program runs on a newer
schema."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.config import EX_CONFIG
from qbarr.paths import Home
from qbarr.schema import MIGRATIONS
from tests.system.conftest import QBARR, config_text, default_arrs, short_home

pytestmark = pytest.mark.system

ARR = str(Path(sys.executable).parent / "qbarr-arr")
DECISIONS = 4000


@pytest.fixture
def home() -> Iterator[Home]:
    home = short_home()
    home.config.write_text(config_text(default_arrs(1)))
    try:
        yield home
    finally:
        shutil.rmtree(home.root, ignore_errors=True)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("QBARR", "SUPERVISOR"))}


def qbarr(home: Home, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI; a `qbarr run` that starts the suite instead of refusing is stopped after
    ``timeout`` and reported as still running (returncode None)."""
    proc = subprocess.Popen(
        [QBARR, "--home", str(home.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(proc.args, None, out, err)  # type: ignore[arg-type]


def fill(path: Path) -> None:
    """A real qbarr database with enough rows to span many pages."""
    db = dbmod.open_migrated(path)
    with dbmod.write_txn(db):
        db.execute(
            "INSERT INTO instances (name, kind, program) "
            "VALUES ('Radarr-A', 'radarr', 'arr-radarr-a')"
        )
        for i in range(DECISIONS):
            db.execute(
                "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, at) "
                "VALUES ('Radarr-A', ?, ?, 'ok', ?, '{}', ?)",
                (f"{i:040x}", f"Some.Movie.{i}.1080p", "nothing to do " * 8, 1e9 + i),
            )
        for i in range(200):
            db.execute(
                "INSERT INTO actions (decision_id, instance, hash, kind, key, created_at, "
                "updated_at, status) VALUES (?, 'Radarr-A', ?, 'import', ?, 1, 1, 'done')",
                (i + 1, f"{i:040x}", f"import:{i:040x}"),
            )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def tear_a_page(path: Path, table: str = "decisions") -> int:
    """Overwrite one leaf page of ``table`` in the middle of the file with garbage."""
    with sqlite3.connect(path) as conn:
        pages = [
            r[0]
            for r in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            )
        ]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = pages[len(pages) // 2]
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * size + 8)
        fh.write(os.urandom(size - 16))
    return page


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(result: subprocess.CompletedProcess[str], home: Home) -> str:
    assert result.returncode == EX_CONFIG, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(home.database) in lines[0]
    assert not home.socket.exists()
    return lines[0]


def test_a_torn_page_is_refused_with_exit_78_and_the_file_is_kept(home: Home) -> None:
    fill(home.database)
    tear_a_page(home.database)
    before = sha(home.database)
    line = assert_refused(qbarr(home, "run"), home)
    assert "damaged" in line and "qbarr db recover" in line
    assert sha(home.database) == before


def test_db_recover_copies_what_can_be_read_and_keeps_the_damaged_file(home: Home) -> None:
    fill(home.database)
    tear_a_page(home.database)
    before = sha(home.database)
    result = qbarr(home, "db", "recover")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = list(home.root.glob("qbarr.db.damaged-*"))
    assert [p for p in kept if not p.name.endswith(("-wal", "-shm"))], kept
    damaged = next(p for p in kept if not p.name.endswith(("-wal", "-shm")))
    assert sha(damaged) == before  # renamed, never rewritten
    assert str(damaged) in result.stdout
    with sqlite3.connect(home.database) as conn:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        decisions = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        actions = conn.execute("SELECT COUNT(*) FROM actions").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = [r[0] for r in conn.execute("SELECT name FROM instances")]
    assert DECISIONS * 0.9 < decisions < DECISIONS  # one page of rows is lost, not more
    assert actions == 200  # exactly-once keys survive (their decision may be gone)
    assert names == ["Radarr-A"] and version == len(MIGRATIONS)
    assert f"decisions {decisions}" in result.stdout
    dry = qbarr(home, "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr


@pytest.mark.parametrize("damage", ["truncated", "not a database", "empty pages"])
def test_an_unreadable_file_is_a_one_line_refusal_naming_qbarr_db(home: Home, damage: str) -> None:
    fill(home.database)
    data = home.database.read_bytes()
    if damage == "truncated":
        home.database.write_bytes(data[: len(data) // 3])
    elif damage == "not a database":
        home.database.write_text("this is a text file, not SQLite\n" * 200)
    else:
        home.database.write_bytes(b"\0" * len(data))
    before = sha(home.database)
    assert_refused(qbarr(home, "run"), home)
    assert sha(home.database) == before


def _set_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {version}")


def test_a_database_from_a_newer_qbarr_is_refused_never_downgraded(home: Home) -> None:
    fill(home.database)
    newer = len(MIGRATIONS) + 3
    _set_version(home.database, newer)
    line = assert_refused(qbarr(home, "run"), home)
    assert f"schema version {newer}" in line and "newer qbarr" in line
    with sqlite3.connect(home.database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer


def test_no_program_runs_on_a_database_from_a_newer_qbarr(home: Home) -> None:
    fill(home.database)
    newer = len(MIGRATIONS) + 1
    _set_version(home.database, newer)
    started = time.time()
    proc = subprocess.Popen(
        [ARR, "--instance", "Radarr-A", "--home", str(home.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        raise AssertionError(f"qbarr-arr ran on a newer schema:\n{out.decode()[-2000:]}") from None
    assert proc.returncode == EX_CONFIG, out.decode()
    assert "newer qbarr" in out.decode()
    with sqlite3.connect(home.database) as conn:
        beats = conn.execute(
            "SELECT heartbeat_at FROM instances WHERE name = 'Radarr-A'"
        ).fetchone()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer
    assert beats[0] is None or beats[0] < started


def test_db_check_reports_ok_and_damage(home: Home) -> None:
    fill(home.database)
    ok = qbarr(home, "db", "check")
    assert ok.returncode == 0 and "ok" in ok.stdout, ok.stdout + ok.stderr
    tear_a_page(home.database)
    bad = qbarr(home, "db", "check")
    assert bad.returncode == EX_CONFIG and "damaged" in bad.stderr, bad.stdout + bad.stderr
