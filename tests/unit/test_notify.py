"""Notifications: batching (pure), the per-URL rate limit and bounded retries (pure), the
events read from the database, URLs as secrets, and Apprise imported by one program only."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from qbarr.config import load, masked, secrets_of
from qbarr.db import write_txn
from qbarr.notify.compose import MAX_LINES, compose
from qbarr.notify.events import Cursor, Event, read
from qbarr.notify.outbox import RETRY_BASE, Outbox
from tests.support.engines import open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

REPO = Path(__file__).resolve().parents[2]
OPTS = {
    "TorrentFailed": True,
    "ImportFailed": True,
    "Brake": True,
    "ProgramFailed": True,
    "Unreachable": True,
    "UnreachableAfter": 600.0,
    "DailyDigest": False,
    "DigestHour": 8,
}


def test_a_burst_is_one_message_with_counts_and_the_first_names() -> None:
    events = [Event("failed", 100.0 + i, f"Radarr-A: stalled: Movie.{i}") for i in range(50)]
    events.append(Event("brake", 200.0, "Radarr-A: 50 removals in one cycle"))
    message = compose(events)
    assert message is not None
    assert message.title == "qbarr: 50 torrents failed, 1 brake engaged"
    assert message.events == 51 and message.first_at == 100.0
    assert message.body.count("Radarr-A: stalled: Movie.") == MAX_LINES
    assert "... and 30 more" in message.body
    assert compose([]) is None


def test_the_rate_limit_merges_and_retries_are_bounded() -> None:
    box = Outbox.for_urls(2, min_interval=30.0, retries=2)
    first = compose([Event("failed", 0.0, "a")])
    second = compose([Event("import-failed", 1.0, "b")])
    assert first and second
    box.put(first)
    assert [i for i, _ in box.due(0.0)] == [0, 1]
    box.sent(0, 0.0)
    assert box.failed(1, 0.0)  # URL #2 refused: tried again after RETRY_BASE
    box.put(second)
    # URL #1 waits for its rate limit; URL #2's retry of the first message is due
    assert [(i, m.title) for i, m in box.due(10.0)] == [(1, first.title)]
    [(index, then)] = [d for d in box.due(30.0) if d[0] == 0]
    assert index == 0 and then.title == "qbarr: 1 import failed"
    one = Outbox.for_urls(1, min_interval=30.0, retries=0)
    one.put(first)
    one.put(second)  # two waiting for one URL: merged into one message
    [(_, merged)] = one.due(0.0)
    assert merged.title == "qbarr: 2 notifications" and merged.events == 2
    # URL #2: the first message is tried 1 + retries times, then dropped
    assert box.failed(1, RETRY_BASE)
    assert not box.failed(1, 3 * RETRY_BASE)
    assert box.dropped == 1


def test_events_from_the_database_once_each(tmp_path: Path) -> None:
    db = open_db(tmp_path / "qbarr.db")
    now = time.time()
    with write_txn(db):
        db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, reason, at) VALUES "
            "('Radarr-A', 'h0', 'Old', 'stalled', 'before the first start', ?)",
            (now - 50,),
        )
    cur = Cursor.at_present(db)  # a first start does not replay history
    with write_txn(db):
        for i, rule in enumerate(["stalled", "import", "import-failed", "ok"]):
            db.execute(
                "INSERT INTO decisions (instance, hash, name, rule, reason, at) "
                "VALUES ('Radarr-A', ?, ?, ?, 'why', ?)",
                (f"h{i + 1}", f"Movie.{i}", rule, now),
            )
        db.execute(
            "INSERT INTO instances (name, kind, brake_engaged, brake_reason, brake_at, stats) "
            "VALUES ('Radarr-A', 'radarr', 1, '12 removals in one cycle', ?, ?)",
            (
                now,
                '{"targets": {"arr": {"name": "Radarr", "ok": false, "since": %f, '
                '"error": "connection refused"}}}' % (now - 700),
            ),
        )
        for _ in range(3):
            db.execute(
                "INSERT INTO crashes (program, event, detail, at) VALUES "
                "('arr:arr-radarr-a', 'exited', 'exit 1', ?)",
                (now,),
            )
    events = read(db, cur, OPTS, now)
    kinds = sorted(e.kind for e in events)
    assert kinds == ["brake", "failed", "import-failed", "program", "unreachable"]
    brake = next(e for e in events if e.kind == "brake")
    assert "qbarr brake release Radarr-A" in brake.line
    cur.save(db, now)
    again = Cursor.load(db)
    assert again is not None and read(db, again, OPTS, now + 1) == []  # told once
    with write_txn(db):
        db.execute(
            "UPDATE instances SET stats = ? WHERE name = 'Radarr-A'",
            ('{"targets": {"arr": {"name": "Radarr", "ok": true, "since": %f}}}' % (now + 2),),
        )
    [back] = read(db, again, OPTS, now + 3)
    assert back.kind == "back" and "Radarr answers again" in back.line
    db.close()


def test_notification_urls_are_secrets(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(
        "[qBittorrent]\n[WebUI]\n[Notifications]\n"
        "URLs = json://user:hunter2pass@127.0.0.1:9/hook/tok3n-abcdefgh, "
        "tgram://123456789:AAbbCCddEEff/4242\n"
    )
    cfg = load(path, env={})
    found = secrets_of(cfg.data)
    for part in ("hunter2pass", "tok3n-abcdefgh", "123456789:AAbbCCddEEff"):
        assert any(part in s for s in found), part
    assert "hunter2pass" not in str(masked(cfg.data))


def test_only_the_notify_program_imports_apprise() -> None:
    importers = []
    for path in [*REPO.glob("lib/qbarr/**/*.py"), *REPO.glob("programs/**/*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == "apprise" for n in names):
                importers.append(str(path.relative_to(REPO)))
    assert importers == ["programs/notify.py"]


def test_the_daily_digest_once_a_day_at_its_hour(tmp_path: Path) -> None:
    db = open_db(tmp_path / "qbarr.db")
    local = time.localtime()
    at_hour = time.mktime((*local[:3], 8, 30, 0, 0, 0, -1))
    with write_txn(db):
        d = db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, at) "
            "VALUES ('Radarr-A', 'h1', 'Big', 'seeding-done', 'done', ?, ?)",
            ('{"size": 3221225472}', at_hour - 60),
        ).lastrowid
        db.execute(
            "INSERT INTO actions (decision_id, instance, hash, kind, key, params, status, "
            "created_at, updated_at) VALUES (?, 'Radarr-A', 'h1', 'delete', 'delete:h1', "
            "'{\"delete_files\": true}', 'done', ?, ?)",
            (d, at_hour - 60, at_hour - 60),
        )
        db.execute(
            "INSERT INTO searches (instance, item, reason, command, at) VALUES "
            "('Radarr-A', 'movie:1', 'missing', 'MoviesSearch', ?)",
            (at_hour - 30,),
        )
    cur = Cursor.at_present(db)
    opts = {**OPTS, "DailyDigest": True, "DigestHour": 8}
    assert read(db, cur, opts, at_hour - 3600) == []  # 7:30: not its hour
    [digest] = read(db, cur, opts, at_hour)
    assert digest.kind == "digest"
    assert "seeding-done 1" in digest.line and "space freed: 3.0" in digest.line
    assert "searches sent: 1" in digest.line
    assert read(db, cur, opts, at_hour + 60) == []  # once that day
    db.close()
