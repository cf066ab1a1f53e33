"""The journal on a real SQLite file: memory persistence, decisions, idempotent action keys,
brake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbarr.db import connect, migrate, rows
from qbarr.journal import MAX_ATTEMPTS, RETRY, Journal, history, release_brake
from qbarr.policy import Action, Decision, Memory
from qbarr.schema import MIGRATION_DECISION_CODE, MIGRATIONS

NOW = 1_000_000.0
A = "a" * 40
B = "b" * 40


def decision(
    h: str = A,
    rule: str = "stalled",
    code: str = "fail",
    actions: tuple[Action, ...] = (),
    memory: Memory | None = None,
    reason: str = "stalled for 16m (StalledDelay 15m)",
) -> Decision:
    return Decision(
        hash=h,
        name=f"name-{h[:4]}",
        rule=rule,
        code=code,
        reason=reason,
        inputs={"state": "stalledDL", "progress": 0.5, "ratio": 0.1, "seeding_time": 0},
        actions=actions,
        memory=memory or Memory(first_seen=NOW - 100),
    )


def fail_actions(h: str = A) -> tuple[Action, ...]:
    return (
        Action("blocklist", f"blocklist:{h}", {"queue_ids": [7]}, True),
        Action("delete", f"delete:{h}", {"delete_files": True}, True),
        Action("search", f"search:{h}", {"media": [{"movieId": 3}]}),
    )


@pytest.fixture
def db(engine, tmp_path: Path):
    """Every test that takes it runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    database = engine.open(tmp_path / "qbarr.sqlite3")
    yield database
    database.conn.close()


def test_memory_round_trips_through_the_database(db, engine, tmp_path: Path) -> None:
    mem = Memory(
        first_seen=NOW - 50,
        stalled_since=NOW - 40,
        last_completed=0,
        slow_strikes=2,
        rechecks=1,
        last_recheck_at=NOW - 30,
        import_sent_at=NOW - 20,
        failed_at=None,
        paused_by_qbarr=True,
        paused_at=NOW - 10,
        pauses=3,
        prev_category="radarr",
        manual_rechecks=1,
        in_recheck=True,
        researched_at=NOW - 5,
        prio0_digest="abc",
        tracker="t.example.org",
    )
    Journal(db, "Radarr").record([decision(memory=mem)], NOW, dry_run=False)
    again = engine.open(tmp_path / "qbarr.sqlite3")
    assert Journal(again, "Radarr").load_memory() == {A: mem}
    assert Journal(again, "Other").load_memory() == {}


# SQLite only: a PostgreSQL database starts at a later schema (qbarr db copy), no old rows
def test_the_migration_moves_each_decision_code_out_of_its_inputs(tmp_path: Path) -> None:
    db = connect(tmp_path / "qbarr.sqlite3")
    migrate(db, target=MIGRATIONS.index(MIGRATION_DECISION_CODE))  # the version before it
    db.execute(
        "INSERT INTO decisions (instance, hash, rule, reason, inputs, at) "
        "VALUES ('Radarr', ?, 'stalled', 'stalled for 20m', ?, ?)",
        (A, json.dumps({"code": "fail", "state": "stalledDL"}), NOW),
    )
    migrate(db)
    row = rows(db, "SELECT code, inputs FROM decisions")[0]
    assert (row["code"], json.loads(row["inputs"])) == ("fail", {"state": "stalledDL"})
    db.close()


def test_decision_rows_only_on_change_or_new_actions(db) -> None:
    j = Journal(db, "Radarr")
    j.record([decision(rule="stalled", code="grace")], NOW, False)
    j.record([decision(rule="stalled", code="grace", reason="stalled for 5m")], NOW + 2, False)
    j.record([decision(rule="stalled", code="fail", actions=fail_actions())], NOW + 4, False)
    j.record([decision(rule="stalled", code="fail", actions=fail_actions())], NOW + 6, False)
    found = rows(db, "SELECT rule, code, inputs FROM decisions ORDER BY id")
    assert [(r["rule"], r["code"]) for r in found] == [("stalled", "grace"), ("stalled", "fail")]
    assert all("code" not in json.loads(r["inputs"]) for r in found), "the code has one home"
    t = rows(db, "SELECT last_rule, last_code, last_reason, state, progress FROM torrents")[0]
    assert (t["last_rule"], t["last_code"], t["state"], t["progress"]) == (
        "stalled",
        "fail",
        "stalledDL",
        0.5,
    )


def test_a_key_is_planned_at_most_once_ever(db) -> None:
    j = Journal(db, "Radarr")
    ids = j.record([decision(actions=fail_actions())], NOW, False)
    assert len(ids) == 3
    for a in j.pending(NOW):
        j.mark(a.id, "done", "ok", NOW)
    assert j.record([decision(actions=fail_actions())], NOW + 10, False) == []
    fresh = Journal(db, "Radarr")  # a restarted manager
    assert fresh.record([decision(actions=fail_actions())], NOW + 20, False) == []
    assert len(fresh.actions()) == 3 and fresh.pending(NOW + 30) == []


def test_same_key_in_another_instance_is_separate(db) -> None:
    assert len(Journal(db, "Radarr").record([decision(actions=fail_actions())], NOW, False)) == 3
    assert len(Journal(db, "Sonarr").record([decision(actions=fail_actions())], NOW, False)) == 3


def test_dry_run_prefixes_keys_and_keeps_effect_memory(db) -> None:
    j = Journal(db, "Radarr")
    before = Memory(first_seen=NOW - 100)
    j.record([decision(rule="ok", code="fine", memory=before)], NOW, False)
    after = Memory(first_seen=NOW - 100, stalled_since=NOW - 50, import_sent_at=NOW, failed_at=NOW)
    ids = j.record([decision(actions=fail_actions(), memory=after)], NOW, True)
    assert [a.key for a in j.actions()] == [
        f"dry:blocklist:{A}",
        f"dry:delete:{A}",
        f"dry:search:{A}",
    ]
    assert len(ids) == 3
    mem = Journal(db, "Radarr").load_memory()[A]
    assert j.memory()[A] == mem
    assert mem.stalled_since == NOW - 50  # observations are kept
    assert mem.import_sent_at is None and mem.failed_at is None  # effects are not
    assert rows(db, "SELECT dry_run FROM decisions ORDER BY id DESC LIMIT 1")[0]["dry_run"] == 1
    # dry run off: the real actions are planned afresh
    assert len(j.record([decision(actions=fail_actions(), memory=after)], NOW + 5, False)) == 3


def test_pending_mark_attempts_and_backoff(db) -> None:
    j = Journal(db, "Radarr")
    (action_id,) = j.record([decision(actions=(Action("pause", f"pause:{A}:0"),))], NOW, False)
    assert [a.id for a in j.pending(NOW)] == [action_id]
    j.mark(action_id, "sending", "", NOW)
    assert [a.status for a in j.pending(NOW)] == ["sending"]  # what a crash leaves is still pending
    t = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        j.mark(action_id, "failed", "QbtUnavailable: connection refused", t)
        row = j.actions()[0]
        assert (row.status, row.attempts) == ("failed", attempt)
        if attempt < MAX_ATTEMPTS:
            assert j.pending(t + RETRY.delay(attempt) - 0.1) == []
            assert [a.id for a in j.pending(t + RETRY.delay(attempt))] == [action_id]
        t += RETRY.delay(attempt)
    # refused MAX_ATTEMPTS times, but its torrent is still there: never abandoned
    assert [a.id for a in j.pending(t + 10_000)] == [action_id]
    assert j.backlog()["kinds"]["pause"]["why"] == {"failed": 1}
    j.forget_gone([], t)  # the torrent left qBittorrent: a pause is pointless now
    assert j.pending(t + 10_000) == [] and j.actions()[0].status == "skipped"
    with pytest.raises(ValueError):
        j.mark(action_id, "bogus")


def test_a_refused_arr_action_is_given_up_only_once_its_torrent_is_gone(db) -> None:
    j = Journal(db, "Radarr")
    imp = Action("import", f"import:{A}", {"path": "/d", "download_client_id": A.upper()})
    (action_id,) = j.record([decision(actions=(imp,))], NOW, False)
    t = NOW
    for _ in range(MAX_ATTEMPTS + 2):
        j.mark(action_id, "failed", "ArrBadRequest: refused (400)", t)
        t += 10_000
        assert [a.id for a in j.pending(t)] == [action_id]  # kept while the torrent exists
    j.forget_gone([], t)
    assert j.actions()[0].status == "failed" and j.pending(t + 10_000) == []  # now final
    assert j.backlog()["kinds"]["import"]["why"] == {"given-up": 1}
    assert j.unfinished() == []


def test_forget_gone_skips_client_actions_and_keeps_arr_ones(db) -> None:
    j = Journal(db, "Radarr")
    j.record(
        [decision(A, actions=fail_actions(A)), decision(B, rule="ok", code="fine")], NOW, False
    )
    assert j.forget_gone([B], NOW + 1) == [A]
    assert j.forget_gone([B], NOW + 2) == []
    by_kind = {a.kind: a.status for a in j.actions()}
    assert by_kind == {"blocklist": "planned", "delete": "skipped", "search": "planned"}
    gone = rows(db, "SELECT hash, gone_at FROM torrents ORDER BY hash")
    assert [(r["hash"], r["gone_at"]) for r in gone] == [(A, NOW + 1), (B, None)]
    j.record([decision(A, rule="ok", code="fine")], NOW + 3, False)  # it came back
    assert rows(db, "SELECT gone_at FROM torrents WHERE hash = ?", (A,))[0]["gone_at"] is None


def test_history_lists_decisions_with_their_actions(db) -> None:
    j = Journal(db, "Radarr")
    j.record([decision(rule="stalled", code="grace")], NOW, False)
    j.record([decision(actions=fail_actions())], NOW + 5, False)
    j.mark(j.pending(NOW + 5)[0].id, "done", "blocklisted", NOW + 6)
    found = history(db, A.upper())
    assert [d["rule"] for d in found] == ["stalled", "stalled"]
    assert found[0]["actions"] == [] and [a["kind"] for a in found[1]["actions"]] == [
        "blocklist",
        "delete",
        "search",
    ]
    assert found[1]["actions"][0]["status"] == "done" and found[1]["actions"][0]["params"] == {
        "queue_ids": [7]
    }
    assert j.history(A) == found and history(db, A, "Sonarr") == []


def test_brake_engage_and_release(db) -> None:
    j = Journal(db, "Radarr")
    assert not j.brake_engaged()
    ids = j.record([decision(actions=fail_actions())], NOW, False)
    j.engage_brake("one cycle would remove 11 torrents", NOW)
    assert j.brake_engaged()
    j.mark_many(ids[:2], "held", "brake engaged", NOW)
    assert [a.kind for a in j.pending(NOW)] == ["search"]
    result = release_brake(db, "Radarr", NOW + 60)
    assert result["was_engaged"] and result["released_actions"] == 2
    assert not j.brake_engaged()
    released = j.pending(NOW + 61)
    assert [(a.kind, a.released_at) for a in released] == [
        ("blocklist", NOW + 60),
        ("delete", NOW + 60),
        ("search", NOW + 60),
    ]
    inst = rows(db, "SELECT brake_reason, brake_released_at FROM instances WHERE name = 'Radarr'")[
        0
    ]
    assert inst["brake_released_at"] == NOW + 60


def test_a_flag_only_release_still_frees_held_actions(db) -> None:
    """The web UI clears the instance flag only; pending() then releases what was held."""
    j = Journal(db, "Radarr")
    ids = j.record([decision(actions=fail_actions())], NOW, False)
    j.engage_brake("test", NOW)
    j.mark_many(ids, "held", "brake engaged", NOW)
    db.execute("UPDATE instances SET brake_engaged = 0 WHERE name = 'Radarr'")
    assert [a.status for a in j.pending(NOW + 1)] == ["planned"] * 3
    assert all(a.released_at == NOW + 1 for a in j.pending(NOW + 1))


def test_unchanged_torrent_rows_are_not_rewritten(db) -> None:
    j = Journal(db, "Radarr")
    d = decision(rule="ok", code="fine")
    j.record([d], NOW, False)
    changes = writes(db)
    j.record([d], NOW + 2, False)
    assert writes(db) == changes


def writes(db) -> object:
    """What changes with every row written: SQLite's change counter; on PostgreSQL each row's
    version (``xmin``: an UPDATE makes a new version even when the values are the same)."""
    if db.dialect == "sqlite":
        return db.conn.total_changes
    tables = [
        r["table_name"]
        for r in rows(
            db,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
    ]
    return {t: sorted(str(r["xmin"]) for r in rows(db, f"SELECT xmin FROM {t}")) for t in tables}
