"""Where the database is: ``[Settings] Database``, read before anything else.

Empty (the default) means ``qbarr.db`` in the data dir, as always. ``sqlite:////abs/path``
names another SQLite file; ``postgresql://user:password@host/db`` selects PostgreSQL
(:mod:`qbarr.pgstore`, docs/scaling.md). Programs read the setting before they validate the
rest of config.ini (:func:`location`), because even a program whose config.ini is unusable
reports that in the database. :func:`qbarr.db.connect` and :func:`qbarr.db.open_migrated`
take what :func:`location` returns: a path for SQLite, a URL for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from configobj import ConfigObj

from qbarr.config import ConfigError, apply_env_overrides, read_raw
from qbarr.paths import Home

SQLITE_PREFIX = "sqlite:///"  # then the absolute path: sqlite:////srv/qbarr.db
POSTGRES_PREFIXES = ("postgresql://", "postgres://")

Location = str | Path


class BadLocation(ValueError):
    """``[Settings] Database`` is not something qbarr can open (the message says why)."""


def is_postgresql(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_PREFIXES)


def parse(value: str, home: Home) -> Location:
    """The location named by a ``[Settings] Database`` value."""
    value = value.strip()
    if not value:
        return home.database
    if value.startswith(POSTGRES_PREFIXES):
        if not _psycopg_installed():
            raise BadLocation(
                "[Settings] Database names a PostgreSQL server, but psycopg (the PostgreSQL "
                "driver) is not installed: pip install 'qbarr[postgresql]' (the Docker image "
                "has it)"
            )
        return value
    if value.startswith(SQLITE_PREFIX):
        path = value[len(SQLITE_PREFIX) :]
        if path.startswith("/"):
            return Path(path)
    raise BadLocation(
        "[Settings] Database must be empty (qbarr.db in the data dir), sqlite:////absolute/path "
        "or postgresql://user:password@host/database"
    )


def _psycopg_installed() -> bool:
    """Whether the ``postgresql`` extra is there (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("psycopg") is not None
    except (ImportError, ValueError):
        return False


def setting(home: Home, env: Mapping[str, str] | None = None) -> str:
    """``[Settings] Database`` as config.ini (and QBARR__SETTINGS__DATABASE) says; an
    unreadable config.ini says nothing (the programs report it, from the default database)."""
    try:
        raw = read_raw(home.config)
    except ConfigError:
        raw = ConfigObj()
    apply_env_overrides(raw, os.environ if env is None else env)
    # Without a readable file there is no configspec to spell the names, so the environment's
    # QBARR__SETTINGS__DATABASE arrives as "DATABASE": look both up ignoring case.
    settings = _get(raw, "Settings")
    value = _get(settings, "Database") if settings is not None else None
    return str(value or "")


def _get(section: object, name: str) -> object:
    if not hasattr(section, "items"):
        return None
    return next((v for k, v in section.items() if str(k).lower() == name.lower()), None)


def location(home: Home, env: Mapping[str, str] | None = None) -> Location:
    """Where this data dir's database is (raises :class:`BadLocation`)."""
    return parse(setting(home, env), home)


def describe(location: Location) -> str:
    """The location for messages: a PostgreSQL URL without its password."""
    if not is_postgresql(location):
        return str(location)
    from qbarr.pgstore import masked

    return masked(str(location), str(location))


def missing(home: Home) -> Location | None:
    """The SQLite file that does not exist yet (None: it exists, or it is PostgreSQL)."""
    where = location(home)
    if is_postgresql(where) or Path(where).exists():
        return None
    return where
