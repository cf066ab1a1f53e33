"""Web UI polish: one home for each fact the pages show (rule texts, durations and sizes,
defaults and descriptions of settings, a torrent's history), search programs not shown as
instances, imports not drawn as failures, and a failure chart that counts what was done."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qbarr import db as qdb
from qbarr import units
from qbarr.policy.docs import RULE_DOCS
from qbarr.webui import charts, queries
from tests.support import webui_seed as seedmod
from tests.support.engines import connect_db
from tests.support.webui_client import BEARER, build, client

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

QBARR = str(Path(sys.executable).parent / "qbarr")


@pytest.fixture
def home_c(tmp_path):
    app, home = build(tmp_path)
    return home, client(app)


def add_search_row(home) -> None:
    db = connect_db(home.database)
    try:
        with qdb.write_txn(db):
            db.execute(
                "INSERT INTO instances (name, kind, program, status, heartbeat_at, cycles) "
                "VALUES ('Radarr-Main:search', 'search', 'search-radarr-main', 'ok', ?, 3)",
                (time.time(),),
            )
    finally:
        db.conn.close()


def test_search_programs_are_not_listed_as_instances(home_c):
    home, c = home_c
    add_search_row(home)
    names = [i["name"] for i in c.get("/api/instances", headers=BEARER).json()["items"]]
    assert names == ["Radarr-Main", "Sonarr-TV"]
    overview = [i["name"] for i in c.get("/api/overview", headers=BEARER).json()["instances"]]
    assert "Radarr-Main:search" not in overview
    page = c.get("/", headers=BEARER).text
    assert "Radarr-Main:search" not in page  # neither in the table nor in the menu
    assert c.get("/api/instances/Radarr-Main:search", headers=BEARER).status_code == 404


def test_import_is_not_drawn_in_the_failure_colour():
    svg = charts.rule_bars({"stalled": 9, "import": 7, "ok": 5, "wait": 4, "slow": 3})
    fills = dict(
        re.findall(r'fill="(#[0-9a-f]+)"><title>([a-z-]+):', svg)[i][::-1] for i in range(5)
    )
    assert fills["import"] == charts.TONE_COLOURS["good"]
    assert fills["stalled"] == fills["slow"] == charts.TONE_COLOURS["bad"]
    assert fills["ok"] != fills["stalled"] and fills["import"] != fills["stalled"]


def test_durations_and_sizes_are_formatted_by_units_everywhere(home_c):
    _home, c = home_c
    assert units.format_elapsed(0.042) == "42ms" and units.format_elapsed(2.25) == "2.2s"
    assert units.format_elapsed(900) == units.format_duration(900) == "15m"
    page = c.get("/instances/Radarr-Main?sort=size&order=desc&per_page=5", headers=BEARER).text
    item = c.get(
        "/api/instances/Radarr-Main/torrents?sort=size&order=desc&per_page=1", headers=BEARER
    ).json()["items"][0]
    assert units.format_size(item["size"]) in page
    assert units.format_duration(item["seeding_time"]) in page
    assert "0.0s" not in page and " 0s" not in page


def test_rule_texts_come_from_rule_docs(home_c):
    _home, c = home_c
    item = c.get("/api/instances/Radarr-Main/torrents?rule=stalled", headers=BEARER).json()
    assert item["items"][0]["rule_words"] == RULE_DOCS["stalled"]
    import qbarr.webui.words as words

    assert not hasattr(words, "RULES") and not hasattr(words, "duration")


def test_list_defaults_are_whole_values_not_broken_placeholders(home_c):
    _home, c = home_c
    fields = {
        f["id"]: f
        for s in c.get("/api/config", headers=BEARER).json()["sections"]
        for f in s["fields"]
    }
    folder = fields["Radarr-Main/Torrent/FolderExclusionRegex"]["default"]
    assert folder == r"\bextras?\b, \bfeaturettes?\b, \bsamples?\b, \bscreens?\b"
    assert fields["Radarr-Main/Torrent/FileNameExclusionRegex"]["default"].endswith(r"\bnced\d*\b")
    assert fields["Radarr-Main/Torrent/FileExtensionAllowlist"]["default"] == ""
    assert fields["Settings/LoopInterval"]["default"] == "2s"
    assert fields["Radarr-Main/Kind"]["default"] == ""


def test_every_setting_in_the_form_has_its_description(home_c):
    _home, c = home_c
    sections = c.get("/api/config", headers=BEARER).json()["sections"]
    fields = {f["id"]: f for s in sections for f in s["fields"]}
    assert fields["Radarr-Main/Torrent/StalledDelay"]["help"].startswith("A download stalled")
    assert fields["WebUI/Token"]["help"].startswith("API token")
    missing = [f for f, v in fields.items() if not v["help"] and v["check"]]
    assert missing == []
    page = c.get("/config", headers=BEARER).text
    assert "A download stalled (no peers, no metadata, or no progress with availability" in page


def test_failures_count_what_was_done_not_rule_names(tmp_path):
    app, home = build(tmp_path, seed=False)
    # late in an hour: an engine that rounds the hour's index (instead of truncating it)
    # would count these rows in the next hour, past the last one shown
    now = time.time() // 3600 * 3600 + 3590
    db = connect_db(home.database)

    def decide(h: str, rule: str, actions: list[tuple[str, str]]) -> None:
        cur = db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, at) "
            "VALUES ('Radarr-Main', ?, ?, ?, ?, '{}', ?)",
            (h, h, rule, rule, now - 60),
        )
        for kind, status in actions:
            db.execute(
                "INSERT INTO actions (decision_id, instance, hash, kind, key, status, attempts, "
                "destructive, created_at, updated_at) VALUES (?, 'Radarr-Main', ?, ?, ?, ?, 1, "
                "1, ?, ?)",
                (cur.lastrowid, h, kind, f"{kind}:{h}", status, now - 60, now - 30),
            )

    try:
        with qdb.write_txn(db):
            decide("a" * 40, "stalled", [])  # grace: nothing done
            decide("a" * 40, "ok", [])  # ... then it recovered
            decide("b" * 40, "errored", [("blocklist", "done"), ("delete", "done")])
            decide("c" * 40, "unwanted-files", [("delete", "done")])
            decide("d" * 40, "stalled", [("blocklist", "failed")])  # not done: no failure
            decide("e" * 40, "import", [("import", "done")])
            decide("f" * 40, "import", [("import", "planned")])
            decide("g" * 40, "seeding-done", [("delete", "done")])  # a removal, not a failure
    finally:
        db.conn.close()
    hours = queries.overview(connect_db(home.database), now=now)["hourly"]
    assert sum(h["failures"] for h in hours) == 2
    assert sum(h["imports"] for h in hours) == 1
    assert sum(h["action_errors"] for h in hours) == 1


def test_the_cli_and_the_web_ui_read_one_history(tmp_path):
    app, home = build(tmp_path)
    c = client(app)
    h = seedmod.thash(2)  # a stalled torrent with a decision, an action and a search
    web = c.get(f"/api/torrents/{h}", headers=BEARER).json()
    cli = subprocess.run(
        [QBARR, "--home", str(home.root), "why", h, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    why = json.loads(cli.stdout)
    web_decisions = [e for e in web["events"] if e["type"] == "decision"]
    web_actions = [e for e in web["events"] if e["type"] == "action"]
    web_searches = [e for e in web["events"] if e["type"] == "search"]
    assert [d["id"] for d in why["decisions"]] == [e["id"] for e in web_decisions]
    assert [a["id"] for d in why["decisions"] for a in d["actions"]] == [
        e["id"] for e in web_actions
    ]
    assert sorted(s["id"] for s in why["searches"]) == sorted(e["id"] for e in web_searches)
    assert web_searches and web_actions and web_decisions


def test_the_media_check_and_temporary_profile_rules_show_their_words_and_reasons(home_c):
    """Issue 13's rules in the journal: a bad-media failure with ffprobe's own line, and the
    search program's temporary-profile switch (journal instance "<name>:search")."""
    from qbarr.journal import Journal
    from qbarr.policy.docs import SEARCH_RULE_DOCS
    from qbarr.policy.model import Decision, Memory
    from qbarr.search import profiles

    home, c = home_c
    db = connect_db(home.database)
    now = time.time()
    ffprobe_line = "Movie.mkv: moov atom not found"
    try:
        bad = Decision(
            hash="ab" * 20,
            name="Broken.Movie.2020.1080p",
            rule="bad-media",
            code="fail",
            reason=f"ffprobe cannot read Movie.mkv: {ffprobe_line}",
            inputs={},
            actions=(),
            memory=Memory(),
        )
        Journal(db, "Radarr-Main").record([bad], now, dry_run=False)
        profiles.plan_switch(
            db,
            profiles.journal_name("Radarr-Main"),
            profiles.Owner("movie", 7),
            {"id": 2, "name": "HD-1080p"},
            {"id": 1, "name": "Any"},
            ["movie:7"],
            "A Movie (2020)",
            now,
            0,
        )
    finally:
        db.conn.close()

    media = c.get("/api/decisions?rule=bad-media", headers=BEARER).json()["items"]
    assert [d["name"] for d in media] == ["Broken.Movie.2020.1080p"]
    assert ffprobe_line in media[0]["reason"] and media[0]["rule_words"] == RULE_DOCS["bad-media"]
    temp = c.get("/api/decisions?rule=temp-profile", headers=BEARER).json()["items"]
    assert [d["instance"] for d in temp] == ["Radarr-Main:search"]
    assert "temporary 'Any'" in temp[0]["reason"]
    assert temp[0]["rule_words"] == SEARCH_RULE_DOCS["temp-profile"]
    page = c.get("/journal?rule=temp-profile", headers=BEARER).text
    assert "temporary &#039;Any&#039;" in page or "temporary 'Any'" in page
