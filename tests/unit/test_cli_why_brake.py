"""`qbarr why` and `qbarr brake` on a seeded database (real SQLite file, the real CLI entry
point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbarr.db import rows, write_txn
from qbarr.heartbeat import Heartbeat
from qbarr.journal import Journal
from qbarr.policy import Action, Decision, Memory
from qbarr.searchlog import record_search
from qbarr_programs.cli import main
from tests.support.engines import open_db, sqlite_only

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

NOW = 1_700_000_000.0
STALLED = "ab12cd" + "0" * 34
IMPORTED = "ab12ff" + "1" * 34
DRY = "dd" * 20
BRAKED = [f"{i:02x}" * 20 for i in range(1, 4)]


def decision(
    h: str, rule: str, code: str, reason: str, actions: tuple[Action, ...] = (), **inputs: object
) -> Decision:
    base = {
        "state": "stalledDL",
        "category": "radarr",
        "progress": 0.2,
        "amount_left": 800 * 2**20,
        "ratio": 0.0,
        "seeding_time": 0,
        "eta": 8640000,
        "availability": 0.0,
        "age": 400,
        "arr": {"queue_ids": [7], "tracked_state": "downloading", "tracked_status": "warning"},
    }
    return Decision(
        hash=h,
        name=f"Movie.{h[:6]}.2020",
        rule=rule,
        code=code,
        reason=reason,
        inputs={**base, **inputs},
        actions=actions,
        memory=Memory(first_seen=NOW - 400),
    )


def fail_actions(h: str) -> tuple[Action, ...]:
    return (
        Action("blocklist", f"blocklist:{h}", {"queue_ids": [7]}, True),
        Action("delete", f"delete:{h}", {"delete_files": True}, True),
        Action("search", f"search:{h}", {"media": [{"movieId": 3}]}),
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data dir whose database holds: a stalled torrent failed (blocklist done, delete done
    after a retry, search done and journaled in `searches`), an imported one, a dry-run one in
    another instance, and an instance whose brake holds three torrents."""
    db = open_db(tmp_path / "qbarr.db")
    for name, kind in (("Radarr-Main", "radarr"), ("Radarr 4K", "radarr"), ("Sonarr-TV", "sonarr")):
        beat = Heartbeat(db, name, program=f"arr-{name.lower()}", kind=kind, clock=lambda: NOW)
        beat.started()
        beat.beat("ok", cycle_s=0.01, counts={"ok": 1})
    main_j = Journal(db, "Radarr-Main")
    main_j.record(
        [
            decision(
                STALLED,
                "stalled",
                "grace",
                "stalled for 1m: failed when it passes StalledDelay 15m",
                stalled_for=60,
            ),
            decision(
                IMPORTED,
                "import",
                "scan",
                "complete: the Arr imports /downloads/M (importMode Auto)",
                (
                    Action(
                        "import",
                        f"import:{IMPORTED}",
                        {
                            "path": "/downloads/M",
                            "download_client_id": IMPORTED.upper(),
                            "import_mode": "Auto",
                        },
                    ),
                ),
                state="stalledUP",
                progress=1.0,
                amount_left=0,
            ),
        ],
        NOW,
        False,
    )
    main_j.record(
        [
            decision(
                STALLED,
                "stalled",
                "fail",
                "stalled for 16m (StalledDelay 15m)",
                fail_actions(STALLED),
                stalled_for=960,
            )
        ],
        NOW + 900,
        False,
    )
    by_key = {a.key: a.id for a in main_j.actions()}
    main_j.mark(
        by_key[f"import:{IMPORTED}"], "done", "command DownloadedMoviesScan id 4 (queued)", NOW + 1
    )
    main_j.mark(by_key[f"blocklist:{STALLED}"], "done", "blocklisted (queue item 7)", NOW + 901)
    main_j.mark(
        by_key[f"delete:{STALLED}"], "failed", "QbtUnavailable: connection refused", NOW + 901
    )
    main_j.mark(by_key[f"delete:{STALLED}"], "done", "deleted with its files", NOW + 920)
    main_j.mark(
        by_key[f"search:{STALLED}"], "done", "command MoviesSearch id 9 (queued)", NOW + 921
    )
    record_search(
        db,
        "Radarr-Main",
        ["movie:3"],
        "stalled",
        "MoviesSearch",
        9,
        NOW + 921,
        hash=STALLED,
        title="Movie Three",
    )
    main_j.forget_gone({IMPORTED}, NOW + 930)

    dry_j = Journal(db, "Sonarr-TV")
    dry_j.record(
        [decision(DRY, "stalled", "fail", "stalled for 20m (StalledDelay 15m)", fail_actions(DRY))],
        NOW,
        True,
    )
    dry_j.mark_many([a.id for a in dry_j.actions()], "skipped", "dry run: nothing changed", NOW)

    k4 = Journal(db, "Radarr 4K")
    k4.record(
        [
            decision(h, "stalled", "fail", "stalled for 16m (StalledDelay 15m)", fail_actions(h))
            for h in BRAKED
        ],
        NOW,
        False,
    )
    k4.engage_brake(
        "one cycle would remove or blocklist 3 torrents (BrakeMaxRemovals 2): destructive actions "
        "held until `qbarr brake release Radarr 4K`",
        NOW,
    )
    k4.mark_many([a.id for a in k4.actions() if a.destructive], "held", "brake engaged", NOW)
    db.conn.close()
    return tmp_path


def cli(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# -- why ---------------------------------------------------------------------------------------


def test_why_prints_the_timeline_with_inputs_actions_results_and_searches(
    home: Path, capsys
) -> None:
    code, out, _ = cli(home, capsys, "why", STALLED)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"torrent {STALLED}"
    assert "[Radarr-Main] Movie.ab12cd.2020" in out
    grace = next(i for i, line in enumerate(lines) if "stalled (grace)" in line)
    fail = next(i for i, line in enumerate(lines) if "stalled (fail)" in line)
    assert grace < fail, "oldest decision first"
    assert "stalled for 16m (StalledDelay 15m)" in lines[fail]
    inputs = lines[fail + 1]
    assert inputs.strip().startswith(
        "inputs: state stalledDL, category radarr, progress 20.0%, amount_left 800.0M"
    )
    assert (
        "eta unknown" in inputs
        and "stalled_for 16m" in inputs
        and "arr queue 7 (downloading/warning)" in inputs
    )
    steps = lines[fail + 2 : fail + 5]
    assert (
        steps[0].split()[:3] == ["1.", "blocklist", "done"]
        and "-> blocklisted (queue item 7)" in steps[0]
    )
    assert steps[1].split()[:3] == ["2.", "delete", "done"] and "after 2 attempts" in steps[1]
    assert "with its files" in steps[1] and "-> deleted with its files" in steps[1]
    assert steps[2].split()[:3] == ["3.", "search", "done"] and "for movieId 3" in steps[2]
    assert lines[lines.index("searches for it:") + 1].endswith(
        "[Radarr-Main] movie:3 'Movie Three' searched (stalled) with MoviesSearch#9 -> sent"
    )
    assert "now: in qBittorrent: stalledDL" not in out  # it is gone
    assert "now: gone from qBittorrent since" in out


def test_why_accepts_a_unique_prefix_in_any_case_and_reports_an_ambiguous_one(
    home: Path, capsys
) -> None:
    code, out, _ = cli(home, capsys, "why", IMPORTED[:8].upper())
    assert code == 0 and f"torrent {IMPORTED}" in out
    assert "import (scan): complete: the Arr imports /downloads/M" in out
    assert (
        "path /downloads/M (importMode Auto)" in out
        and "-> command DownloadedMoviesScan id 4" in out
    )
    assert "now: in qBittorrent: stalledUP, 100.0%" in out
    code, out, err = cli(home, capsys, "why", "ab12")
    assert code == 1 and "not an info-hash" in err and out == ""
    code, out, err = cli(home, capsys, "why", "ab12c")
    assert code == 1 and "not an info-hash" in err
    code, out, _ = cli(home, capsys, "why", "ab12cd0")
    assert code == 0 and f"torrent {STALLED}" in out
    code, _, err = cli(home, capsys, "why", "ab12cf")
    assert code == 1 and "no torrent in the journal starts with ab12cf" in err


def test_why_ambiguous_prefix(tmp_path: Path, capsys) -> None:
    db = open_db(tmp_path / "qbarr.db")
    j = Journal(db, "Radarr-Main")
    j.record(
        [
            decision("abcdef" + "1" * 34, "ok", "fine", "seeding"),
            decision("abcdef" + "2" * 34, "ok", "fine", "x"),
        ],
        NOW,
        False,
    )
    db.conn.close()
    code, _, err = cli(tmp_path, capsys, "why", "ABCDEF")
    assert code == 1 and "ambiguous" in err and "abcdef111" in err and "abcdef222" in err


def test_why_marks_dry_run_and_filters_by_instance_name_or_slug(home: Path, capsys) -> None:
    code, out, _ = cli(home, capsys, "why", DRY)
    assert code == 0
    assert "[Sonarr-TV] stalled (fail)  [dry run]: stalled for 20m" in out
    assert "blocklist    skipped   (dry run)" in out and "-> dry run: nothing changed" in out
    code, out, _ = cli(home, capsys, "why", DRY, "--instance", "sonarr-tv")
    assert code == 0 and "[dry run]" in out
    code, _, err = cli(home, capsys, "why", DRY, "--instance", "Radarr-Main")
    assert code == 1 and f"nothing recorded about {DRY} for instance Radarr-Main" in err
    code, _, err = cli(home, capsys, "why", DRY, "--instance", "Lidarr-X")
    assert code == 1 and "no instance 'Lidarr-X'" in err and "Radarr-Main" in err


def test_why_json_has_decisions_actions_and_searches(home: Path, capsys) -> None:
    code, out, _ = cli(home, capsys, "why", STALLED, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["hash"] == STALLED and data["instance"] is None
    assert [d["rule"] for d in data["decisions"]] == ["stalled", "stalled"]
    assert [d["code"] for d in data["decisions"]] == ["grace", "fail"]
    acts = data["decisions"][1]["actions"]
    assert [(a["kind"], a["status"], a["attempts"]) for a in acts] == [
        ("blocklist", "done", 1),
        ("delete", "done", 2),
        ("search", "done", 1),
    ]
    assert acts[1]["params"] == {"delete_files": True} and acts[1]["destructive"] is True
    assert [(s["item"], s["command_id"], s["reason"]) for s in data["searches"]] == [
        ("movie:3", 9, "stalled")
    ]
    assert (
        data["torrents"][0]["instance"] == "Radarr-Main"
        and data["torrents"][0]["last_rule"] == "stalled"
    )


def test_why_unknown_hash(home: Path, capsys) -> None:
    code, _, err = cli(home, capsys, "why", "f" * 40)
    assert code == 1 and "nothing recorded about" in err


@sqlite_only  # a PostgreSQL database is the server's: there is no file to be missing
def test_why_missing_database(tmp_path: Path, capsys) -> None:
    code, _, err = cli(tmp_path / "empty", capsys, "why", "f" * 40)
    assert code == 1 and "no database" in err


# -- brake -------------------------------------------------------------------------------------


def test_brake_status_lists_each_manager_with_reason_and_held_torrents(home: Path, capsys) -> None:
    code, out, _ = cli(home, capsys, "brake", "status")
    assert code == 0
    lines = out.splitlines()
    k4 = lines.index(
        next(line for line in lines if line.startswith("Radarr 4K: brake ENGAGED since"))
    )
    assert "BrakeMaxRemovals 2" in lines[k4 + 1]
    assert lines[k4 + 2] == "  held: 6 action(s) on 3 torrent(s)"
    held = lines[k4 + 3 : k4 + 9]
    assert {line.split()[1] for line in held} == set(BRAKED)
    assert {line.split()[0] for line in held} == {"blocklist", "delete"}
    assert lines[k4 + 9] == "  release with: qbarr brake release 'Radarr 4K'"
    assert "Radarr-Main: brake off" in out and "Sonarr-TV: brake off" in out


def test_brake_release_turns_held_actions_back_to_planned(home: Path, capsys) -> None:
    code, out, _ = cli(home, capsys, "brake", "release", "radarr-4k")  # the slug works too
    assert code == 0
    assert out.startswith("Radarr 4K: brake released; 6 held action(s) go back to the manager")
    db = open_db(home / "qbarr.db")
    try:
        inst = rows(
            db, "SELECT brake_engaged, brake_released_at FROM instances WHERE name = 'Radarr 4K'"
        )[0]
        assert inst["brake_engaged"] == 0 and inst["brake_released_at"] is not None
        acts = rows(db, "SELECT status, released_at FROM actions WHERE instance = 'Radarr 4K'")
        assert {a["status"] for a in acts} == {"planned"} and all(a["released_at"] for a in acts)
    finally:
        db.conn.close()
    code, out, _ = cli(home, capsys, "brake", "status", "--json")
    data = {i["name"]: i for i in json.loads(out)["instances"]}
    assert data["Radarr 4K"]["brake_engaged"] is False and data["Radarr 4K"]["held"] == []
    code, out, _ = cli(home, capsys, "brake", "release", "Radarr 4K")
    assert code == 0 and "the brake was not engaged; nothing to release" in out


def test_brake_release_json_and_errors(home: Path, capsys) -> None:
    code, out, _ = cli(home, capsys, "brake", "release", "Radarr 4K", "--json")
    assert code == 0
    result = json.loads(out)
    assert (
        result["instance"] == "Radarr 4K"
        and result["was_engaged"] is True
        and result["released_actions"] == 6
    )
    code, _, err = cli(home, capsys, "brake", "release", "Nope")
    assert code == 1 and "no Arr instance 'Nope'" in err and "Radarr 4K" in err
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(home), "brake"])
    assert exc.value.code == 2


def test_brake_status_skips_search_rows_and_handles_an_empty_database(
    tmp_path: Path, capsys
) -> None:
    db = open_db(tmp_path / "qbarr.db")
    with write_txn(db):
        db.execute(
            "INSERT INTO instances (name, kind, program) "
            "VALUES ('Radarr-Main:search', 'search', 'search-x')"
        )
    db.conn.close()
    code, out, _ = cli(tmp_path, capsys, "brake", "status")
    assert code == 0 and out.strip() == "no Arr manager has reported yet"


def test_a_re_search_sent_by_the_executor_is_journaled_in_searches_and_shown_by_why(
    tmp_path: Path, capsys
) -> None:
    from qbarr.executor import Executor

    class Arr:
        def search_for(self, items):
            return {
                "id": 41,
                "name": "MoviesSearch",
                "status": "queued",
                "body": {"movieIds": sorted(i.media["movieId"] for i in items)},
            }

        def delete_queue(self, *args, **kwargs):
            return None

    class Qbt:
        def delete(self, hashes, delete_files):
            return None

    db = open_db(tmp_path / "qbarr.db")
    j = Journal(db, "Radarr-Main")
    j.record(
        [
            decision(
                STALLED,
                "stalled",
                "fail",
                "stalled for 16m (StalledDelay 15m)",
                fail_actions(STALLED),
            )
        ],
        NOW,
        False,
    )
    summary = Executor(j, Qbt(), Arr(), clock=lambda: NOW + 1).run(j.pending(NOW + 1), False, 10)
    assert summary.done == 3
    found = rows(
        db, "SELECT instance, item, reason, command, command_id, hash, status FROM searches"
    )
    assert found == [
        {
            "instance": "Radarr-Main",
            "item": "movie:3",
            "reason": "stalled",
            "command": "MoviesSearch",
            "command_id": 41,
            "hash": STALLED,
            "status": "sent",
        }
    ]
    assert rows(db, "SELECT item FROM search_cooldowns") == [{"item": "movie:3"}]
    db.conn.close()
    code, out, _ = cli(tmp_path, capsys, "why", STALLED)
    assert code == 0 and "movie:3 searched (stalled) with MoviesSearch#41 -> sent" in out
