"""Every JSON route and page of the web UI in-process, plus the error paths."""

from __future__ import annotations

import pytest

from qbarr import db as qdb
from tests.support import webui_seed as seedmod
from tests.support.engines import connect_db
from tests.support.webui_client import BEARER, build, client

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture
def c(tmp_path):
    app, _home = build(tmp_path)
    return client(app)


@pytest.fixture
def home_c(tmp_path):
    app, home = build(tmp_path)
    return home, client(app)


def test_overview(c):
    data = c.get("/api/overview", headers=BEARER).json()
    names = {i["name"]: i for i in data["instances"]}
    assert names["Sonarr-TV"]["arr_ok"] is False and names["Radarr-Main"]["qbt_ok"] is True
    assert sum(data["rules_24h"].values()) == 60
    assert len(data["hourly"]) == 24
    # imports and failures count actions that were done (the seed fails every third one)
    seeded = {"import": 0, "stalled": 0}
    for i in range(60):
        rule = seedmod.RULES[i % len(seedmod.RULES)]
        if rule in seeded and i % 3:
            seeded[rule] += 1
    assert sum(h["imports"] for h in data["hourly"]) == seeded["import"]
    assert sum(h["failures"] for h in data["hourly"]) == seeded["stalled"]
    assert sum(h["action_errors"] for h in data["hourly"]) > 0
    page = c.get("/", headers=BEARER)
    assert page.status_code == 200 and "<svg" in page.text and "UNREACHABLE" in page.text


def test_programs_without_supervisord_is_503_free(c):
    data = c.get("/api/programs", headers=BEARER).json()
    assert data["supervisor"]["ok"] is False and data["items"] == []
    r = c.post("/api/programs/arr:arr-radarr-main/restart", headers=BEARER)
    assert r.status_code == 503 and "not reachable" in r.json()["error"]
    assert c.get("/api/programs/webui/log", headers=BEARER).status_code == 503
    assert "not reachable" in c.get("/programs", headers=BEARER).text


def test_instances(c):
    items = c.get("/api/instances", headers=BEARER).json()["items"]
    assert [i["name"] for i in items] == ["Radarr-Main", "Sonarr-TV"]
    detail = c.get("/api/instances/radarr-main", headers=BEARER).json()  # the slug works too
    assert (
        detail["instance"]["name"] == "Radarr-Main" and detail["instance"]["brake_engaged"] is True
    )
    assert sum(detail["facets"]["rules"].values()) == 60


def test_unknown_instance_is_404_json(c):
    for method, path in (
        ("GET", "/api/instances/nope"),
        ("GET", "/api/instances/nope/torrents"),
        ("POST", "/api/instances/nope/brake/release"),
        ("POST", f"/api/instances/nope/torrents/{seedmod.thash(1)}/protect"),
        ("GET", "/api/decisions?instance=nope"),
    ):
        r = c.request(method, path, headers=BEARER)
        assert r.status_code == 404, path
        assert (
            r.headers["content-type"] == "application/json"
            and "unknown instance" in r.json()["error"]
        )
    assert c.get("/instances/nope", headers=BEARER).status_code == 404


def test_torrent_paging_sorting_filters(c):
    url = "/api/instances/Radarr-Main/torrents"
    first = c.get(url, params={"per_page": 25, "sort": "name"}, headers=BEARER).json()
    assert first["total"] == 60 and len(first["items"]) == 25
    names = [t["name"] for t in first["items"]]
    assert names == sorted(names, key=str.lower)
    last = c.get(url, params={"per_page": 25, "page": 3}, headers=BEARER).json()
    assert len(last["items"]) == 10
    stalled = c.get(url, params={"rule": "stalled"}, headers=BEARER).json()
    assert stalled["total"] == 8 and {t["last_rule"] for t in stalled["items"]} == {"stalled"}
    by_state = c.get(url, params={"state": "error"}, headers=BEARER).json()
    assert {t["state"] for t in by_state["items"]} == {"error"}
    desc = c.get(url, params={"sort": "size", "order": "desc"}, headers=BEARER).json()["items"]
    assert [t["size"] for t in desc] == sorted((t["size"] for t in desc), reverse=True)
    found = c.get(url, params={"q": "00042"}, headers=BEARER).json()
    assert found["total"] == 1 and found["items"][0]["rule_words"]
    by_hash = c.get(url, params={"q": seedmod.thash(5)}, headers=BEARER).json()
    assert by_hash["items"][0]["hash"] == seedmod.thash(5)
    assert (
        c.get(url, params={"q": "100%_"}, headers=BEARER).json()["total"] == 0
    )  # LIKE wildcards escaped
    protected = c.get(url, params={"rule": "protected"}, headers=BEARER).json()["items"]
    assert all(t["protected"] for t in protected)


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "x"},
        {"per_page": "501"},
        {"sort": "hash; drop"},
        {"order": "sideways"},
        {"q": "x" * 301},
    ],
)
def test_bad_torrent_parameters_are_400(c, query):
    r = c.get("/api/instances/Radarr-Main/torrents", params=query, headers=BEARER)
    assert r.status_code == 400 and r.json()["error"].startswith("parameter")


def test_protect_writes_a_request_row(home_c):
    home, c = home_c
    h = seedmod.thash(3)
    r = c.post(f"/api/instances/Radarr-Main/torrents/{h}/protect", headers=BEARER)
    assert r.status_code == 200 and r.json()["kind"] == "protect"
    again = c.post(
        f"/api/instances/Radarr-Main/torrents/{h.upper()}/protect", headers=BEARER
    ).json()
    assert again["id"] == r.json()["id"]  # an identical pending request is reused
    c.post(f"/api/instances/Radarr-Main/torrents/{h}/unprotect", headers=BEARER)
    db = connect_db(home.database)
    rows = qdb.rows(db, "SELECT instance, hash, kind, done_at FROM requests ORDER BY id")
    assert rows == [
        {"instance": "Radarr-Main", "hash": h, "kind": "protect", "done_at": None},
        {"instance": "Radarr-Main", "hash": h, "kind": "unprotect", "done_at": None},
    ]
    page = c.get("/api/instances/Radarr-Main/torrents", params={"q": h}, headers=BEARER).json()
    assert page["items"][0]["pending_request"] == "unprotect"
    assert (
        c.post("/api/instances/Radarr-Main/torrents/not-a-hash/protect", headers=BEARER).status_code
        == 404
    )


def test_brake_release(home_c):
    home, c = home_c
    r = c.post("/api/instances/Radarr-Main/brake/release", headers=BEARER).json()
    assert r["was_engaged"] is True
    db = connect_db(home.database)
    row = qdb.rows(
        db, "SELECT brake_engaged, brake_released_at FROM instances WHERE name = 'Radarr-Main'"
    )[0]
    assert row["brake_engaged"] == 0 and row["brake_released_at"] == pytest.approx(r["released_at"])


def test_decision_journal_filters_and_paging(c):
    all_ = c.get("/api/decisions", params={"limit": 500}, headers=BEARER).json()["items"]
    assert len(all_) == 60 and [d["id"] for d in all_] == sorted(
        (d["id"] for d in all_), reverse=True
    )
    page1 = c.get("/api/decisions", params={"limit": 20}, headers=BEARER).json()
    page2 = c.get(
        "/api/decisions", params={"limit": 20, "before_id": page1["next_before_id"]}, headers=BEARER
    ).json()
    assert page2["items"][0]["id"] < page1["items"][-1]["id"]
    stalled = c.get("/api/decisions", params={"rule": "stalled"}, headers=BEARER).json()["items"]
    assert stalled and {d["rule"] for d in stalled} == {"stalled"}
    removes = c.get("/api/decisions", params={"action": "delete"}, headers=BEARER).json()["items"]
    assert removes and all(any(a["kind"] == "delete" for a in d["actions"]) for d in removes)
    by_name = c.get("/api/decisions", params={"torrent": "Movie.00010"}, headers=BEARER).json()[
        "items"
    ]
    assert [d["hash"] for d in by_name] == [seedmod.thash(10)]
    by_hash = c.get("/api/decisions", params={"torrent": seedmod.thash(10)}, headers=BEARER).json()[
        "items"
    ]
    assert by_hash == by_name
    newest = all_[0]["at"]
    recent = c.get("/api/decisions", params={"since": newest - 1}, headers=BEARER).json()["items"]
    assert recent and all(d["at"] >= newest - 1 for d in recent)
    iso = c.get("/api/decisions", params={"until": "2001-01-01T00:00"}, headers=BEARER).json()[
        "items"
    ]
    assert iso == []
    assert c.get("/api/decisions", params={"since": "yesterday"}, headers=BEARER).status_code == 400
    html = c.get("/journal", params={"rule": "stalled"}, headers=BEARER).text
    assert "Movie.00002" in html


def test_torrent_history_timeline(c):
    h = seedmod.thash(2)
    hist = c.get(f"/api/torrents/{h}", headers=BEARER).json()
    types = [e["type"] for e in hist["events"]]
    assert {"decision", "action", "search"} <= set(types)
    assert [e["at"] for e in hist["events"]] == sorted(e["at"] for e in hist["events"])
    assert hist["torrents"][0]["instance"] == "Radarr-Main"
    page = c.get(f"/torrents/{h}", headers=BEARER)
    assert page.status_code == 200 and "timeline" in page.text
    assert c.get(f"/api/torrents/{'f' * 40}", headers=BEARER).status_code == 404
    assert c.get("/api/torrents/xyz", headers=BEARER).status_code == 404


def test_bad_json_and_oversize_bodies(c):
    r = c.post(
        "/api/config/preview",
        content=b"{not json",
        headers={**BEARER, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = c.post(
        "/api/config/preview",
        content=b"[1, 2]",
        headers={**BEARER, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = c.post(
        "/api/config/preview",
        content=b"\xff\xfe",
        headers={**BEARER, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    r = c.post("/api/config/preview", json={"text": "x", "changes": []}, headers=BEARER)
    assert r.status_code == 400 and "either" in r.json()["error"]
    r = c.post("/api/config/preview", json={"surprise": 1}, headers=BEARER)
    assert r.status_code == 400
    big = b"x" * (300 * 1024)
    for path in ("/api/config/preview", "/api/instances/Radarr-Main/brake/release", "/login"):
        r = c.post(path, content=big, headers={**BEARER, "Content-Type": "application/json"})
        assert r.status_code == 413, path


def test_unknown_routes_and_methods(c):
    r = c.get("/api/nothing-here", headers=BEARER)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    r = c.delete("/api/overview", headers=BEARER)
    assert r.status_code == 405 and r.headers["content-type"] == "application/json"
    assert c.get("/static/style.css").status_code == 200
    assert c.get("/static/../config.py").status_code in (403, 404)


def test_health_is_public(c):
    r = c.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["supervisor"] is False
