"""Escaping of untrusted text, no secret in any answer, security headers, /metrics."""

from __future__ import annotations

import re

import pytest

from qbarr.webui.api import ROUTES
from tests.support import webui_seed as seedmod
from tests.support.engines import connect_db
from tests.support.webui_client import BEARER, build, client, login

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

SECRETS = (seedmod.QBT_PASSWORD, seedmod.ARR_KEY, seedmod.TOKEN, seedmod.LOGIN_PASSWORD)
PAGES = (
    "/",
    "/programs",
    "/instances/Radarr-Main",
    "/instances/Radarr-Main?q=script",
    "/journal",
    "/config",
    "/login",
    "/nope",
)


@pytest.fixture
def home_c(tmp_path):
    app, home = build(tmp_path)
    return home, client(app)


def test_xss_torrent_name_renders_as_text_everywhere(home_c):
    _home, c = home_c
    login(c)
    pages = [
        "/instances/Radarr-Main?q=script",
        "/journal?torrent=script",
        f"/torrents/{seedmod.thash(0)}",
        "/instances/Radarr-Main?rule=ok",
    ]
    for path in pages:
        html = c.get(path).text
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    inst = c.get("/instances/Radarr-Main?q=Movie.00001").text
    assert "<i>tag</i>" not in inst and "&lt;i&gt;tag&lt;/i&gt;" in inst
    journal = c.get("/journal").text
    assert "<em>reasons</em>" not in journal
    overview = c.get("/").text
    assert "<b>connection refused</b>" not in overview
    # the only scripts on any page are our own static file
    for path in pages + ["/", "/programs", "/config"]:
        scripts = re.findall(r"<script[^>]*>", c.get(path).text)
        assert scripts == ['<script src="/static/app.js" defer>'], path


def test_no_secret_in_any_response(home_c):
    home, c = home_c
    bodies = []
    for route, _ in ROUTES:
        path = route.path.replace("<name>", "Radarr-Main").replace("<hash>", seedmod.thash(1))
        if route.method == "GET":
            bodies.append(c.get(path, headers=BEARER))
    csrf = login(c)
    for path in PAGES:
        bodies.append(c.get(path))
    bodies.append(
        c.post(
            "/api/config/preview",
            headers=BEARER,
            json={
                "changes": [{"path": ["qBittorrent"], "key": "Password", "value": "new-Secret-999"}]
            },
        )
    )
    bodies.append(
        c.post(
            "/api/config/preview",
            headers=BEARER,
            json={"text": c.get("/api/config", headers=BEARER).json()["text"] + "\n[[broken"},
        )
    )
    bodies.append(
        c.post(
            "/config",
            data={
                "csrf": csrf,
                "do": "preview",
                "f:WebUI/Port": "x",
                "f:qBittorrent/Password": "new-Secret-999",
            },
        )
    )
    bodies.append(
        c.post(
            "/api/config",
            headers=BEARER,
            json={
                "apply": False,
                "changes": [{"path": ["Settings"], "key": "LoopInterval", "value": "9s"}],
            },
        )
    )
    bodies.append(c.get("/api/config", headers=BEARER))
    bodies.append(c.get("/metrics", headers=BEARER))
    for r in bodies:
        text = r.text + "".join(f"{k}: {v}" for k, v in r.headers.items())
        for secret in (*SECRETS, "new-Secret-999"):
            assert secret not in text, (r.request.url, secret)


def test_secret_in_a_manager_error_is_scrubbed(home_c):
    home, c = home_c
    from qbarr import db as qdb

    db = connect_db(home.database)
    with qdb.write_txn(db):
        db.execute(
            "UPDATE instances SET last_error = ? WHERE name = 'Sonarr-TV'",
            (f"login failed for password {seedmod.QBT_PASSWORD}",),
        )
    for path in ("/api/instances", "/api/overview"):
        assert seedmod.QBT_PASSWORD not in c.get(path, headers=BEARER).text


def test_security_headers_on_pages_api_and_errors(home_c):
    _home, c = home_c
    for path in ("/login", "/api/overview", "/api/nope", "/health", "/nope"):
        r = c.get(path, headers=BEARER)
        assert "script-src 'self'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_supervisor_url_must_be_a_unix_socket(tmp_path):
    from qbarr.webui.supervisor import Supervisor

    with pytest.raises(ValueError, match="unix socket"):
        Supervisor("http://127.0.0.1:9001")


def test_metrics(home_c):
    _home, c = home_c
    assert c.get("/metrics").status_code == 401
    text = c.get("/metrics", headers=BEARER).text
    assert 'qbarr_instance_cycles_total{instance="Radarr-Main"} 1800.0' in text
    assert 'qbarr_instance_brake_engaged{instance="Radarr-Main"} 1.0' in text
    assert 'qbarr_api_calls_total{instance="Radarr-Main",remote="qbittorrent"} 120.0' in text
    assert 'qbarr_api_errors_total{instance="Sonarr-TV",remote="arr"} 1.0' in text
    assert 'qbarr_decisions_total{instance="Radarr-Main",rule="stalled"} 8.0' in text
    assert re.search(
        r'qbarr_actions_total\{instance="Radarr-Main",kind="delete",result="(done|failed)"\}', text
    )
    assert 'qbarr_remote_reachable{instance="Sonarr-TV",remote="arr"} 0.0' in text
    assert 'qbarr_program_restarts_total{program="arr-radarr-main"} 2.0' in text
    assert "qbarr_supervisor_up 0.0" in text
    assert "qbarr_instance_heartbeat_age_seconds" in text and "qbarr_instance_cycle_seconds" in text
