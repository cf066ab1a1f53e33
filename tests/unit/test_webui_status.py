"""The web UI shows each remote from its own last call, what a manager waits on, and what is
not done yet and why (the same words as `qbarr status`)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from qbarr import db as qdb
from tests.support.engines import open_db
from tests.support.webui_client import BEARER, build, client

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


def test_instance_page_and_overview_show_reachability_waiting_and_backlog(tmp_path: Path) -> None:
    app, home = build(tmp_path)
    now = time.time()
    stats = {
        "loop_interval": 2.0,
        "targets": {
            "qbittorrent": {"name": "qBittorrent", "ok": True, "since": now - 300,
                            "error": None, "error_at": None},
            "arr": {"name": "Sonarr", "ok": False, "since": now - 120,
                    "error": "Sonarr answered 503 <b>down</b>", "error_at": now - 12},
        },
        "backlog": {
            "count": 3,
            "oldest_at": now - 600,
            "kinds": {
                "import": {"count": 2, "oldest_at": now - 600, "why": {"waiting": 2}},
                "search": {"count": 1, "oldest_at": now - 60, "why": {"unknown": 1}},
            },
            "last_error": "search: ArrUnavailable: Sonarr answered 503",
            "last_error_at": now - 12,
        },
        "waiting": {"peer": "Sonarr", "what": "GET queue", "for": 28.0, "at": now - 1},
    }  # fmt: skip
    db = open_db(home.database)
    try:
        with qdb.write_txn(db):
            db.execute(
                "UPDATE instances SET stats = ?, heartbeat_at = ?, status = 'arr-down', "
                "qbt_ok = 1, arr_ok = 0 WHERE name = 'Sonarr-TV'",
                (json.dumps(stats), now - 1),
            )
    finally:
        db.close()
    c = client(app)
    page = c.get("/instances/Sonarr-TV", headers=BEARER).text
    assert "waiting on Sonarr: 28 s (GET queue)" in page
    assert "qBittorrent ok since 5m" in page
    assert "Sonarr down since 2m" in page and "last error 12s ago" in page
    assert "&lt;b&gt;down&lt;/b&gt;" in page and "<b>down</b>" not in page  # escaped
    assert "not done yet: import 2 (oldest 10m ago: 2 remote unreachable, retried)" in page
    assert "search 1 (oldest 1m ago: 1 answer lost, looked up before a resend)" in page
    assert "last action error (12s ago): search: ArrUnavailable" in page
    overview = c.get("/", headers=BEARER).text
    assert "arr-down (waiting on Sonarr: 28 s (GET queue))" in overview
    assert re.search(r"1m(\d+s)? ago: Arr unreachable: &lt;b&gt;", overview)  # error, its age
    data = c.get("/api/overview", headers=BEARER).json()
    sonarr = next(i for i in data["instances"] if i["name"] == "Sonarr-TV")
    assert sonarr["waiting"] == "waiting on Sonarr: 28 s (GET queue)"
    assert sonarr["last_error_at"] is not None
    detail = c.get("/api/instances/Sonarr-TV", headers=BEARER).json()["instance"]
    assert detail["stats"]["targets"]["arr"]["ok"] is False
    assert detail["stats"]["backlog"]["kinds"]["import"]["why"] == {"waiting": 2}
