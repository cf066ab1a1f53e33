"""Shared test fixtures and policy: free ports, data dirs, skips, Hypothesis profiles.

Skips: a test that needs a tool which may be missing on a developer's machine (qbittorrent-nox,
chromium, root for namespaces) is skipped there with the reason shown (``-rs``). In CI
(``QBARR_CI=1``, set by ``.ci/run``, which installs every such tool) any skip is a failure,
so a tool that CI failed to install can never hide behind a skip.

Hypothesis runs derandomized in CI (profile ``ci``) and randomized elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
IN_CI = os.environ.get("QBARR_CI") == "1"

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if IN_CI else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_tool(tool: str, install: str) -> str:
    """The reason of every skip for a missing external tool (one wording, one prefix)."""
    return f"missing tool: {tool} ({install})"


def needs_tool(tool: str, install: str) -> pytest.MarkDecorator:
    """Skip (fail in CI) when ``tool`` is not on PATH; ``install`` says how to get it."""
    return pytest.mark.skipif(shutil.which(tool) is None, reason=missing_tool(tool, install))


def skip_missing_tool(tool: str, install: str) -> None:
    """The same skip from inside a fixture that found the tool missing its own way."""
    pytest.skip(missing_tool(tool, install))


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, user switch)")


@pytest.fixture
def port() -> int:
    return free_port()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Figures a test records with ``record_property("figures", text)`` (the chaos run's),
    printed at the end of the run: under pytest-xdist a test's own output is not shown."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "figures":
                    terminalreporter.write_line(f"{report.nodeid} ({outcome}):\n{value}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The chaos run goes first: under pytest-xdist (``--dist loadfile
    --no-loadscope-reorder``: files in collection order, not biggest first) its worker starts
    with it, and the rest of the suite runs on the other workers meanwhile."""
    items.sort(key=lambda item: item.get_closest_marker("chaos") is None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every tool is installed: {reason}"


@pytest.fixture(scope="session")
def pg_cluster():  # type: ignore[no-untyped-def]
    """One throwaway PostgreSQL cluster per test session (tests/support/postgres.py), started
    only when a test asks for it; each test makes its own database in it."""
    from tests.support.postgres import PgCluster

    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster):  # type: ignore[no-untyped-def]
    """A migrated, empty database in the session's cluster: each test's database is a copy
    (``CREATE DATABASE ... TEMPLATE``, a file copy: faster than running the migrations)."""
    from qbarr import pgstore

    name = "qbarr_template"
    database = pgstore.connect(pg_cluster.create_database(name))
    try:
        pgstore.migrate(database)
    finally:
        database.close()  # a template must have no connection while it is copied
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The test runs once on each engine (tests/support/engines.py). On PostgreSQL it gets a
    migrated database of its own, and ``QBARR__SETTINGS__DATABASE`` names it, so everything
    that asks ``qbarr.store.location(home)`` (the programs, the CLI in a subprocess, the web
    UI) uses it; the database is dropped at the end, with any connection left open."""
    from tests.support.engines import Engine

    if request.param == "sqlite":
        yield Engine("sqlite")
        return
    cluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    name = f"t{next(_PG_DATABASES)}"
    url = cluster.create_database(name, template=template)
    monkeypatch.setenv("QBARR__SETTINGS__DATABASE", url)
    try:
        yield Engine("postgresql", url)
    finally:
        cluster.drop_database(name)


_PG_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture
def engine_db(engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A migrated, empty qbarr database on each engine: the SQLite file of the data dir, then
    the test's database in the session's PostgreSQL cluster."""
    database = engine.open(tmp_path / "qbarr.db")
    try:
        yield database
    finally:
        database.close()
