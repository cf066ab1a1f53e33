"""qbarr.pgstore: the same schema on PostgreSQL, statements translated, writers serialized.

Runs against the session's throwaway PostgreSQL cluster (tests/support/postgres.py).
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from qbarr import db as dbmod
from qbarr import pgstore
from qbarr.schema import MIGRATIONS


@pytest.mark.parametrize(
    ("sqlite", "postgresql"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("UPDATE t SET a = :a WHERE n = :n", "UPDATE t SET a = %(a)s WHERE n = %(n)s"),
        ("SELECT '?', ':x', x::text FROM t WHERE y LIKE 'a%'", None),
        (
            "INSERT OR IGNORE INTO qbt_feed (client) VALUES (?)",
            "INSERT INTO qbt_feed (client) VALUES (%s) ON CONFLICT DO NOTHING",
        ),
    ],
)
def test_statements_are_translated(sqlite: str, postgresql: str | None) -> None:
    expected = postgresql or "SELECT '?', ':x', x::text FROM t WHERE y ILIKE 'a%%'"
    assert pgstore.translate(sqlite) == expected


def columns_sqlite(db: dbmod.Database) -> dict[str, list[str]]:
    tables = [
        r["name"]
        for r in dbmod.rows(
            db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: sorted(r["name"] for r in dbmod.rows(db, f"PRAGMA table_info({t})")) for t in tables}


def columns_postgresql(db: pgstore.PgDatabase) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for r in db.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name <> 'qbarr_schema'"
    ):
        found.setdefault(r["table_name"], []).append(r["column_name"])
    return {t: sorted(c) for t, c in found.items()}


def test_every_migration_gives_the_same_tables_and_columns(tmp_path: Path, pg_cluster) -> None:
    lite = dbmod.open_migrated(tmp_path / "qbarr.db")
    pg = pgstore.connect(pg_cluster.create_database("schema_same"))
    try:
        assert pgstore.migrate(pg) == len(MIGRATIONS)
        assert pgstore.migrate(pg) == len(MIGRATIONS)  # a second run changes nothing
        assert columns_postgresql(pg) == columns_sqlite(lite)
        # times keep their sub-second part (PostgreSQL's REAL would round them to ~100 s)
        with dbmod.write_txn(pg):
            pg.execute(
                "INSERT INTO instances (name, heartbeat_at) VALUES (?, ?)", ("x", 1764627000.123)
            )
        assert dbmod.rows(pg, "SELECT heartbeat_at FROM instances") == [
            {"heartbeat_at": 1764627000.123}
        ]
    finally:
        lite.close()
        pg.close()


def test_an_unreachable_server_is_an_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://qbarr:s3cret-pw-123@/nope?host={tmp_path}"
    with pytest.raises(ConnectionError) as caught:
        pgstore.connect(url)
    assert "s3cret-pw-123" not in str(caught.value)


def _writer(url: str, n: int, out: multiprocessing.Queue) -> None:
    db = pgstore.connect(url)
    errors = 0
    try:
        for i in range(n):
            try:
                with dbmod.write_txn(db):
                    row = dbmod.rows(db, "SELECT COALESCE(MAX(seq), 0) AS top FROM qbt_feed")
                    db.execute(
                        "INSERT INTO qbt_feed (client, seq) VALUES (?, ?)",
                        (f"w{id(db)}-{i}", int(row[0]["top"]) + 1),
                    )
            except Exception:  # noqa: BLE001 - counted: must stay 0
                errors += 1
    finally:
        db.close()
        out.put(errors)


def test_concurrent_writers_queue_instead_of_failing(pg_cluster) -> None:
    """Read-then-write transactions (as SQLite's BEGIN IMMEDIATE ones are) from 10 processes:
    no error, and no two of them read the same maximum (they are serialized)."""
    url = pg_cluster.create_database("writers")
    db = pgstore.connect(url)
    pgstore.migrate(db)
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, 30, out)) for _ in range(10)]
    try:
        for p in procs:
            p.start()
        errors = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    try:
        assert errors == [0] * 10
        seqs = [r["seq"] for r in dbmod.rows(db, "SELECT seq FROM qbt_feed ORDER BY seq")]
        assert seqs == list(range(1, 301))
    finally:
        db.close()


@pytest.mark.parametrize(
    ("sqlite", "postgresql"),
    [
        (
            "UPDATE s SET last_at = MAX(last_at, excluded.last_at), n = MAX(n)",
            "UPDATE s SET last_at = GREATEST(last_at, excluded.last_at), n = MAX(n)",
        ),
        ("SELECT * FROM t WHERE name LIKE ?", "SELECT * FROM t WHERE name ILIKE %s"),
        ("DELETE FROM t WHERE rowid IN (SELECT rowid FROM t)", None),
        (
            "SELECT CAST((a.at - ?) / 3600 AS INTEGER) AS h, CAST(x AS TEXT) FROM t",
            "SELECT TRUNC((a.at - %s) / 3600)::BIGINT AS h, CAST(x AS TEXT) FROM t",
        ),
        (
            "SELECT name FROM t ORDER BY t.name COLLATE NOCASE, hash",
            "SELECT name FROM t ORDER BY lower(t.name), hash",
        ),
        (
            "INSERT OR REPLACE INTO media_probes (fingerprint, size, ok, probed_at) "
            "VALUES (?, ?, ?, ?)",
            "INSERT INTO media_probes (fingerprint, size, ok, probed_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (fingerprint, size) DO UPDATE SET ok = excluded.ok, "
            "probed_at = excluded.probed_at",
        ),
    ],
)
def test_sqlite_idioms_are_translated(sqlite: str, postgresql: str | None) -> None:
    expected = postgresql or "DELETE FROM t WHERE ctid IN (SELECT ctid FROM t)"
    assert pgstore.translate(sqlite) == expected


def test_inserts_give_the_new_rows_id_as_sqlite_does(engine_db) -> None:
    with dbmod.write_txn(engine_db):
        first = engine_db.execute(
            "INSERT INTO crashes (program, event, at) VALUES (?, ?, ?)", ("arr-x", "exited", 1.0)
        ).lastrowid
        second = engine_db.execute(
            "INSERT INTO crashes (program, event, at) VALUES (?, ?, ?)", ("arr-x", "fatal", 2.0)
        ).lastrowid
    assert isinstance(first, int) and second == first + 1


def test_the_database_password_is_a_secret_everywhere() -> None:
    from qbarr.config import masked, secrets_of
    from qbarr.runtime import ScrubbingFormatter

    data = {"Settings": {"Database": "postgresql://qbarr:pw-77aa-secret@db.lan/qbarr"}}
    assert masked(data)["Settings"]["Database"] == "********"
    fmt = ScrubbingFormatter("arr-x")
    fmt.set_secrets(secrets_of(data))
    line = fmt.scrub('connection failed: password authentication failed ("pw-77aa-secret")')
    assert "pw-77aa-secret" not in line and "********" in line


def test_the_setting_names_the_database(tmp_path: Path) -> None:
    from qbarr import store
    from qbarr.paths import Home

    home = Home(tmp_path)
    assert store.location(home, env={}) == home.database  # no config.ini yet: the default
    (tmp_path / "config.ini").write_text("[Settings]\nDatabase = sqlite:////srv/q/qbarr.db\n")
    assert store.location(home, env={}) == Path("/srv/q/qbarr.db")
    url = "postgresql://qbarr:pw@db.lan/qbarr"
    assert store.location(home, env={"QBARR__SETTINGS__DATABASE": url}) == url
    assert store.describe(url) == "postgresql://qbarr:********@db.lan/qbarr"
    with pytest.raises(store.BadLocation, match="postgresql://"):
        store.location(home, env={"QBARR__SETTINGS__DATABASE": "mysql://x"})


def test_a_server_that_goes_away_is_a_waiting_state_and_reconnected() -> None:
    """The error the programs wait in (like a full disk), then the same PgDatabase works again
    once the server is back: no program restart needed."""
    from tests.support.postgres import PgCluster

    cluster = PgCluster.start()
    try:
        db = pgstore.connect(cluster.url())
        try:
            pgstore.migrate(db)
            cluster.halt()
            with pytest.raises(dbmod.unavailable_errors()) as caught, dbmod.write_txn(db):
                db.execute("INSERT INTO crashes (program, event, at) VALUES ('a', 'b', 1)")
            assert dbmod.is_storage_error(caught.value)
            cluster.resume()
            with dbmod.write_txn(db):
                db.execute("INSERT INTO crashes (program, event, at) VALUES ('a', 'b', 1)")
            assert dbmod.rows(db, "SELECT COUNT(*) AS n FROM crashes") == [{"n": 1}]
        finally:
            db.close()
    finally:
        cluster.stop()


@pytest.mark.parametrize("config", [None, "[Settings\n", "[Settings]\nLoopInterval = 2s\n"])
def test_the_environment_names_the_database_even_without_a_readable_config(
    tmp_path: Path, config: str | None
) -> None:
    """QBARR__SETTINGS__DATABASE (a Kubernetes Secret) counts whatever config.ini holds:
    missing, unparsable or without the key, the programs and the CLI use that database."""
    from qbarr import store
    from qbarr.paths import Home

    home = Home(tmp_path)
    if config is not None:
        home.config.write_text(config)
    url = "postgresql://qbarr@db.lan/qbarr"
    assert store.location(home, env={"QBARR__SETTINGS__DATABASE": url}) == url
    assert store.location(home, env={}) == home.database


def test_a_postgresql_url_without_psycopg_installed_is_a_clear_error(tmp_path: Path) -> None:
    """A plain `pip install qbarr` lacks the postgresql extra: qbarr run-program says what to
    install (exit 78), with no traceback and without the URL's password."""
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.ini").write_text(
        "[Settings]\nDatabase = postgresql://qbarr:pw-S3cret-77@127.0.0.1:9/qbarr\n"
        "[qBittorrent]\nURL = http://127.0.0.1:9\n[WebUI]\nToken = test-token-abcdefgh\n"
    )
    code = (
        "import sys; sys.modules['psycopg'] = None\n"  # as if the extra were not installed
        "from qbarr_programs.cli import main\n"
        f"sys.exit(main(['--home', {str(home)!r}, 'run-program', 'webui', '--dry-run']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if not k.startswith("QBARR__")},
    )
    text = out.stdout + out.stderr
    assert out.returncode == 78, text
    assert "Traceback" not in text and "pw-S3cret-77" not in text
    assert "pip install 'qbarr[postgresql]'" in text, text
    # every other command says the same in one line: qbarr check, status, why
    for args in (["check", "--config-only"], ["status"], ["why", "abc"]):
        code = (
            "import sys; sys.modules['psycopg'] = None\n"
            "from qbarr_programs.cli import main\n"
            f"sys.exit(main(['--home', {str(home)!r}, *{args!r}]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        text = out.stdout + out.stderr
        assert out.returncode == 78 and "Traceback" not in text, (args, text)
        assert "pip install 'qbarr[postgresql]'" in text and "pw-S3cret-77" not in text, args
