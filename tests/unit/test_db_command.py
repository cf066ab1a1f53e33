"""`qbarr db check` / `recover` check the database [Settings] Database names: a PostgreSQL
database is checked in its own way (reachable, every qbarr table readable, schema not newer),
recover refuses it (PostgreSQL has its own tools), a sqlite:/// path is the file checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr.config import EX_CONFIG
from qbarr.paths import Home
from qbarr_programs.cli import main
from tests.support.engines import open_db


def cli(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--home", str(home), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_db_check_on_postgresql_reads_every_table_and_the_schema_version(
    engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    open_db(tmp_path / "qbarr.db").close()
    code, out = cli(tmp_path, capsys, "db", "check")
    assert code == 0 and "ok" in out and "postgresql://" in out, out
    assert not (tmp_path / "qbarr.db").exists()  # the SQLite file was never looked at
    db = open_db(tmp_path / "qbarr.db")
    try:
        db.execute("DROP TABLE searches")
    finally:
        db.close()
    code, out = cli(tmp_path, capsys, "db", "check")
    assert code == EX_CONFIG and "searches" in out, out
    db = open_db(tmp_path / "qbarr.db")
    try:
        db.execute("UPDATE qbarr_schema SET version = version + 5")
    finally:
        db.close()
    code, out = cli(tmp_path, capsys, "db", "check")
    assert code == EX_CONFIG and "newer qbarr" in out, out


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_db_recover_refuses_postgresql_and_says_what_to_use(
    engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = cli(tmp_path, capsys, "db", "recover")
    assert code == 1 and "PostgreSQL" in out and "pg_dump" in out, out


def test_db_check_and_recover_use_the_sqlite_path_database_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = Home(tmp_path / "home")
    home.ensure()
    other = tmp_path / "elsewhere.db"
    home.config.write_text(f"[Settings]\nDatabase = sqlite:///{other}\n")
    code, out = cli(home.root, capsys, "db", "check")
    assert code == 1 and f"no database at {other}" in out, out
    dbmod.open_migrated(other).close()
    code, out = cli(home.root, capsys, "db", "check")
    assert code == 0 and f"{other}: ok" in out, out
    code, out = cli(home.root, capsys, "db", "recover")
    assert code == 0 and f"{other} passes the check" in out, out
    assert not home.database.exists()
