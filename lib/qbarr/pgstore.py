"""PostgreSQL behind qbarr's database interface (``[Settings] Database = postgresql://...``).

:class:`PgDatabase` answers what :class:`qbarr.db.Database` answers (``execute``, ``query``,
``close``; ``dialect`` tells them apart), so code written against the SQLite connection runs
unchanged where its SQL is portable. What differs is translated here, in one place:

- **Statements** (:func:`translate`): qmark (``?``) and named (``:name``) parameters become
  psycopg's ``%s`` / ``%(name)s``; ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``;
  ``x COLLATE NOCASE`` becomes ``lower(x)``; ``CAST(x AS INTEGER)`` becomes
  ``TRUNC(x)::BIGINT`` (SQLite truncates, PostgreSQL would round).
- **The schema** (:func:`ddl`): the same ``MIGRATIONS`` as SQLite, with SQLite's types made
  exact (``INTEGER`` -> ``BIGINT``: byte sizes pass 2**31; ``REAL`` -> ``DOUBLE PRECISION``:
  Unix times need more than PostgreSQL's 4-byte REAL; ``AUTOINCREMENT`` -> an identity
  column; ``COLLATE NOCASE`` -> ``lower()``). The version is a row of ``qbarr_schema``
  instead of ``PRAGMA user_version``.
- **The write transaction** (:func:`write_txn`): where SQLite takes its one write lock with
  ``BEGIN IMMEDIATE``, a PostgreSQL transaction takes one transaction-scoped advisory lock
  (``pg_advisory_xact_lock``). Writers from every host queue on it instead of failing: no
  serialization or lock error reaches qbarr, and every read-then-write transaction written
  for SQLite (the exactly-once keys, the ``sending`` marker, the lease) keeps its meaning.

psycopg (PyPI ``psycopg[binary]``, the ``postgresql`` extra) is imported only here, and this
module only when a PostgreSQL URL is used. What cannot be translated is written once per
engine where it is used (the heartbeat's JSON update; SQLite's file work: vacuum, recover)
or done in Python (the digest's JSON). Every test that opens a database runs on both
engines (tests/conftest.py: ``engine``); docs/scaling.md says what runs where.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from qbarr.schema import MIGRATIONS, SQLITE_ONLY

DIALECT = "postgresql"
WRITE_LOCK = 0x71626172  # "qbar": the advisory lock every write transaction takes

_PARAM = re.compile(
    r"""('(?:[^']|'')*')|(::)|(\?)|(?<![:\w]):([A-Za-z_]\w*)|(%)|\b(LIKE|rowid)\b"""
)
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO", re.IGNORECASE)
_OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.I)
# SQLite's two-argument MAX()/MIN() are scalar: PostgreSQL calls them GREATEST()/LEAST()
_SCALAR = re.compile(r"\b(MAX|MIN)\(\s*([\w.:]+)\s*,\s*([\w.:]+)\s*\)", re.IGNORECASE)
# ORDER BY x COLLATE NOCASE: PostgreSQL has no such collation; lower() sorts the same way
_NOCASE = re.compile(r"\b([\w.]+)\s+COLLATE\s+NOCASE\b", re.IGNORECASE)
_CAST = re.compile(r"\bCAST\(", re.IGNORECASE)
_AS_INTEGER = re.compile(r"(.*)\s+AS\s+INTEGER\s*$", re.IGNORECASE | re.DOTALL)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*)\)", re.DOTALL)


def _tables() -> tuple[set[str], dict[str, list[str]]]:
    """From the migrations: tables with an identity ``id``, and each table's primary key."""
    identity: set[str] = set()
    keys: dict[str, list[str]] = {}
    for migration in MIGRATIONS:
        for statement in migration:
            m = _TABLE.search(statement)
            if not m:
                continue
            name, body = m.group(1), m.group(2)
            if re.search(r"\bid INTEGER PRIMARY KEY AUTOINCREMENT", body):
                identity.add(name)
            composite = re.search(r"PRIMARY KEY \(([^)]*)\)", body)
            single = re.search(r"(\w+) \w+ PRIMARY KEY", body)
            if composite:
                keys[name] = [c.strip() for c in composite.group(1).split(",")]
            elif single:
                keys[name] = [single.group(1)]
    return identity, keys


IDENTITY_TABLES, PRIMARY_KEYS = _tables()


def translate(sql: str) -> str:
    """A statement written for sqlite3 (qmark or named parameters) in psycopg's style."""

    def one(m: re.Match[str]) -> str:
        literal, cast, qmark, name, percent, word = m.groups()
        if literal:  # psycopg reads placeholders inside literals too: only % needs escaping
            return literal.replace("%", "%%")
        if cast:
            return cast
        if qmark:
            return "%s"
        if name:
            return f"%({name})s"
        if percent:
            return "%%"
        # SQLite's LIKE ignores ASCII case, PostgreSQL's does not; rowid's twin is ctid
        return "ILIKE" if word.upper() == "LIKE" else "ctid"

    out = _PARAM.sub(one, _SCALAR.sub(_scalar, _NOCASE.sub(r"lower(\1)", _int_casts(sql))))
    if _OR_IGNORE.match(out):
        out = _OR_IGNORE.sub("INSERT INTO", out).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    replace = _OR_REPLACE.match(out)
    if replace:
        table, columns = replace.group(1), [c.strip() for c in replace.group(2).split(",")]
        key = PRIMARY_KEYS[table]
        sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        out = re.sub(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO", "INSERT INTO", out, flags=re.I)
        out = f"{out.rstrip().rstrip(';')} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    return out


def _int_casts(sql: str) -> str:
    """``CAST(x AS INTEGER)`` -> ``TRUNC(x)::BIGINT``: SQLite truncates a real toward zero,
    PostgreSQL would round it (an hour's index 23.9 would become 24)."""
    out, pos = [], 0
    for m in _CAST.finditer(sql):
        if m.start() < pos:
            continue  # inside a cast already rewritten
        depth, end = 1, m.end()
        while end < len(sql) and depth:  # the matching parenthesis
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        inner = _AS_INTEGER.match(sql[m.end() : end - 1])
        if depth or inner is None:
            continue
        out += [sql[pos : m.start()], f"TRUNC({_int_casts(inner.group(1))})::BIGINT"]
        pos = end
    return "".join(out) + sql[pos:]


def _scalar(m: re.Match[str]) -> str:
    return f"{'GREATEST' if m.group(1).upper() == 'MAX' else 'LEAST'}({m.group(2)}, {m.group(3)})"


_DDL = [
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.I),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT ROWID", re.I), ")"),
    (re.compile(r"(\w+)\s+COLLATE\s+NOCASE", re.I), r"lower(\1)"),
]


def ddl(statement: str) -> str:
    """A migration statement of :mod:`qbarr.schema` for PostgreSQL."""
    for pattern, replacement in _DDL:
        statement = pattern.sub(replacement, statement)
    return statement


class PgDatabase:
    """One PostgreSQL connection in autocommit mode (we open every transaction ourselves)."""

    dialect = DIALECT

    def __init__(self, conn: Any, url: str = "") -> None:
        self._conn = conn
        self.url = url

    @property
    def conn(self) -> Any:
        """The connection, opened again when the last one broke (a server restart, the
        network): the caller saw the error once (a waiting state) and just tries again."""
        if (self._conn.closed or self._conn.broken) and self.url:
            self._conn = _open(self.url)
        return self._conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        statement = translate(sql)
        insert = _INSERT.match(statement)
        identity = insert is not None and insert.group(1) in IDENTITY_TABLES
        if identity and "RETURNING" not in statement.upper():
            statement += " RETURNING id"  # what sqlite3's cursor.lastrowid gives
        # always with parameters (maybe none): psycopg then turns every %% back into %
        cursor = self.conn.execute(statement, params if params else ())
        if identity:
            return _Inserted(cursor)
        return cursor

    def executemany(self, sql: str, params: Any) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(translate(sql), params)

    def query(self, sql: str, params: Any = ()) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [d.name for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def close(self) -> None:
        self._conn.close()


class _Inserted:
    """The cursor of an INSERT, with sqlite3's ``lastrowid`` (the new row's id)."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        row = cursor.fetchone() if cursor.description else None
        self.lastrowid = row[0] if row else None
        self.rowcount = cursor.rowcount

    def fetchone(self) -> Any:
        return None

    def fetchall(self) -> list[Any]:
        return []


def connect(url: str) -> PgDatabase:
    """Open ``url`` (``postgresql://...``); the password never appears in an error."""
    import psycopg

    try:
        return PgDatabase(_open(url), url)
    except psycopg.OperationalError as exc:
        raise ConnectionError(f"PostgreSQL: {masked(str(exc), url)}") from None


def _open(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def masked(text: str, url: str) -> str:
    """``text`` without the password of ``url``."""
    from urllib.parse import urlsplit

    password = urlsplit(url).password
    return text.replace(password, "********") if password else text


@contextlib.contextmanager
def write_txn(db: PgDatabase) -> Iterator[PgDatabase]:
    """One write transaction, serialized with every other qbarr writer (see the docstring)."""
    with db.conn.transaction():
        db.conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        yield db


def schema_version(db: PgDatabase) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS qbarr_schema (version BIGINT NOT NULL)")
    found = list(db.query("SELECT version FROM qbarr_schema"))
    return int(found[0]["version"]) if found else 0


def migrate(db: PgDatabase, target: int | None = None) -> int:
    """Apply every migration newer than the recorded version; returns the new version."""
    target = len(MIGRATIONS) if target is None else target
    with write_txn(db):
        current = schema_version(db)
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"the PostgreSQL database has schema version {current}, newer than this "
                f"qbarr's {len(MIGRATIONS)}: it was written by a newer qbarr"
            )
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number <= current or number > target:
                continue
            for statement in migration:
                if not statement.startswith(SQLITE_ONLY):
                    db.conn.execute(ddl(statement))
        if target > current:
            db.execute("DELETE FROM qbarr_schema")
            db.execute("INSERT INTO qbarr_schema (version) VALUES (?)", (target,))
    return schema_version(db)


def tables() -> list[str]:
    """qbarr's tables, as the migrations create them."""
    return sorted({m.group(1) for mig in MIGRATIONS for st in mig if (m := _TABLE.search(st))})


def check(db: PgDatabase) -> list[str]:
    """What ``qbarr db check`` finds wrong in a PostgreSQL database (empty: nothing): a
    schema newer than this qbarr's, a qbarr table missing or unreadable. The server keeps its
    own files sound (checksums, WAL); this is what qbarr needs of them."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        return [
            f"schema version {version}, but this qbarr knows versions up to {len(MIGRATIONS)}: "
            "it was written by a newer qbarr"
        ]
    if version < len(MIGRATIONS):
        return []  # an older schema: the next program start migrates it
    import psycopg

    problems = []
    for table in tables():
        try:
            db.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()
        except psycopg.OperationalError:
            raise  # the server went away: not the table's problem
        except psycopg.Error as exc:
            problems.append(f"table {table}: {str(exc).splitlines()[0]}")
    return problems
