"""The database engine a test runs on (the ``engine`` fixture in tests/conftest.py).

Every test that touches the database takes ``engine`` (directly, through a fixture, or with
``pytest.mark.usefixtures("engine")``) and runs twice: on SQLite (the file the test names, as
before) and on PostgreSQL (a database of its own in the session's throwaway cluster, named by
``QBARR__SETTINGS__DATABASE`` for the length of the test). The code under test finds it as a
program does, through ``qbarr.store.location(home)``; the test opens it with :func:`open_db`
/ :func:`connect_db`, giving the SQLite file it would have used:

    def test_x(engine, tmp_path):
        db = open_db(tmp_path / "qbarr.db")   # SQLite: that file; PostgreSQL: the test's db
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qbarr import db as dbmod

ENV = "QBARR__SETTINGS__DATABASE"  # what [Settings] Database says, from the environment


@dataclass(frozen=True)
class Engine:
    name: str  # "sqlite" or "postgresql"
    url: str = ""  # PostgreSQL: the test's own database

    @property
    def postgresql(self) -> bool:
        return self.name == "postgresql"

    def location(self, path: Path | str) -> Path | str:
        """Where the database of the data dir whose SQLite file is ``path`` is."""
        return self.url or Path(path)

    def open(self, path: Path | str) -> Any:
        """A connection to the migrated database (SQLite: ``path``)."""
        return dbmod.open_migrated(self.location(path))


def location(path: Path | str) -> Path | str:
    """The test's database: the PostgreSQL one the ``engine`` fixture named, else ``path``."""
    return os.environ.get(ENV) or Path(path)


def open_db(path: Path | str) -> Any:
    """A connection to the test's migrated database (SQLite: ``path``)."""
    return dbmod.open_migrated(location(path))


def connect_db(path: Path | str) -> Any:
    """A connection to the test's database, not migrated (SQLite: ``path``)."""
    return dbmod.connect(location(path))


def tables(db: Any) -> list[str]:
    """qbarr's tables in ``db``, on either engine."""
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = (
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    return sorted(r["name"] for r in dbmod.rows(db, sql))


def contents(db: Any) -> dict[str, list[str]]:
    """Every row of every table (sorted, as text): equal before and after means nothing was
    written."""
    return {
        t: sorted(repr(sorted(r.items())) for r in dbmod.rows(db, f"SELECT * FROM {t}"))
        for t in tables(db)
    }


# A test of something only SQLite has (a file to be missing, damaged or vacuumed) in a module
# whose tests run on both engines: ``@sqlite_only`` with one line saying why.
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
