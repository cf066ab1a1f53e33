"""An instance removed from config.ini leaves every view once its program is gone (render and
apply, or the next `qbarr run`); its journal stays readable (`qbarr why`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr import supervision
from qbarr.config import load
from qbarr.db import rows, write_txn
from qbarr.heartbeat import Heartbeat, read_all
from qbarr.paths import Home
from qbarr.search.status import SEARCH_KIND, row_name
from qbarr.webui import queries
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

BASE = """[Settings]
LoopInterval = 1s
[qBittorrent]
URL = http://127.0.0.1:8080
[WebUI]
Token = tok-abcdefgh
"""


def section(name: str, port: int) -> str:
    return f"[{name}]\nURL = http://127.0.0.1:{port}\nAPIKey = key-0123456789\nCategory = {name}\n"


def test_a_removed_instance_leaves_status_and_web_ui_but_keeps_its_journal(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path / "h")
    home.root.mkdir()
    home.config.write_text(BASE + section("Radarr-A", 7878) + section("Sonarr-B", 8989))
    db = open_db(home.database)
    for name in ("Radarr-A", "Sonarr-B"):
        Heartbeat(
            db, name, program=f"arr-{name.lower()}", kind=name.split("-")[0].lower()
        ).started()
        Heartbeat(db, row_name(name), program=f"search-{name.lower()}", kind=SEARCH_KIND).started()
    with write_txn(db):
        db.execute(
            "INSERT INTO decisions (instance, hash, at, rule, reason, inputs) "
            "VALUES ('Sonarr-B', ?, 1.0, 'stalled', 'stalled 20m', '{}')",
            ("ab" * 20,),
        )
    assert queries.instance_names(db) == ["Radarr-A", "Sonarr-B"]

    home.config.write_text(BASE + section("Radarr-A", 7878))  # Sonarr-B removed
    applied = supervision.render_and_update(home, load(home.config, env={}))  # not running

    assert not applied.running
    assert queries.instance_names(db) == ["Radarr-A"]
    assert sorted(r["name"] for r in read_all(db)) == ["Radarr-A", row_name("Radarr-A")]
    kept = rows(db, "SELECT rule FROM decisions WHERE instance = 'Sonarr-B'")
    assert kept == [{"rule": "stalled"}]


def test_render_without_apply_forgets_nothing(tmp_path: Path) -> None:
    """Without an update the removed program may still run: its row stays until it is gone."""
    home = Home(tmp_path / "h")
    home.root.mkdir()
    home.config.write_text(BASE + section("Radarr-A", 7878) + section("Sonarr-B", 8989))
    db = open_db(home.database)
    Heartbeat(db, "Sonarr-B", program="arr-sonarr-b", kind="sonarr").started()
    home.config.write_text(BASE + section("Radarr-A", 7878))
    supervision.render_and_update(home, load(home.config, env={}), apply=False)
    assert [r["name"] for r in read_all(db)] == ["Sonarr-B"]
