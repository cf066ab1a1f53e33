"""Auth rules of the web UI, driven in-process over WSGI."""

from __future__ import annotations

import re
import threading

import pytest

from qbarr import config as qconfig
from qbarr.paths import Home
from qbarr.webui import auth
from qbarr.webui.api import ROUTES
from tests.support import webui_seed as seedmod
from tests.support.engines import connect_db, contents
from tests.support.waiting import wait_for
from tests.support.webui_client import BEARER, build, client, login

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

PUBLIC = {"/health", "/api/openapi.json", "/api/session"}


def concrete(path: str, hashes: dict[str, str]) -> str:
    path = path.replace("<name>", "Radarr-Main").replace("<hash>", hashes["first"])
    return re.sub(r"<\w+:int>", "1", path)  # e.g. a test notification's id


@pytest.fixture
def app_home(tmp_path):
    return build(tmp_path)


def db_fingerprint(home) -> dict[str, list[str]]:
    db = connect_db(home.database)
    try:
        return contents(db)
    finally:
        db.close()


def test_every_protected_route_needs_auth(app_home):
    app, _home = app_home
    c = client(app)
    hashes = {"first": seedmod.thash(1)}
    for route, _ in ROUTES:
        path = concrete(route.path, hashes)
        r = c.request(route.method, path)
        if route.path in PUBLIC:
            assert r.status_code == 200, path
            continue
        assert r.status_code == 401, (route.method, path, r.status_code)
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["www-authenticate"].startswith("Bearer")
    for page in (
        "/",
        "/programs",
        "/instances/Radarr-Main",
        "/journal",
        "/config",
        f"/torrents/{hashes['first']}",
    ):
        r = c.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), page


def test_bearer_token_and_wrong_token(app_home):
    app, _home = app_home
    c = client(app)
    assert c.get("/api/overview", headers=BEARER).status_code == 200
    assert c.get("/api/overview", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (
        c.get("/api/overview", headers={"Authorization": f"Basic {seedmod.TOKEN}"}).status_code
        == 401
    )
    # a POST with the bearer token needs no CSRF token
    r = c.post("/api/instances/Radarr-Main/brake/release", headers=BEARER)
    assert r.status_code == 200 and r.json()["was_engaged"] is True


def test_login_session_cookie_and_csrf(app_home):
    app, home = app_home
    c = client(app)
    form = c.get("/login")
    assert form.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    r = c.post("/login", data={"password": "wrong", "csrf": token})
    assert r.status_code == 401 and "Wrong password" in r.text
    token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(
        1
    )  # each form has a fresh token
    r = c.post("/login", data={"password": seedmod.LOGIN_PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and auth.SESSION_COOKIE not in c.cookies
    token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    r = c.post(
        "/login",
        data={"password": seedmod.LOGIN_PASSWORD, "csrf": token, "next": "//evil.example/"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE))
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert c.get("/").status_code == 200
    csrf = c.get("/api/session").json()["csrf"]
    assert c.post("/api/instances/Radarr-Main/brake/release").status_code == 403
    assert (
        c.post(
            "/api/instances/Radarr-Main/brake/release", headers={"X-CSRF-Token": "x" * 32}
        ).status_code
        == 403
    )
    assert (
        c.post(
            "/api/instances/Radarr-Main/brake/release", headers={"X-CSRF-Token": csrf}
        ).status_code
        == 200
    )
    # form posts carry the token as a field
    r = c.post("/instances/Radarr-Main/brake/release", data={"csrf": csrf, "next": "/programs"})
    assert r.status_code == 303 and r.headers["location"].startswith("/programs")
    assert c.post("/instances/Radarr-Main/brake/release", data={"next": "/"}).status_code == 403


def test_token_logs_in_when_no_password(tmp_path):
    app, _home = build(tmp_path, password="")
    c = client(app)
    login(c, password=seedmod.TOKEN)
    assert c.get("/api/overview").status_code == 200


def test_session_survives_restart_and_dies_with_password_change(app_home, tmp_path):
    app, home = app_home
    c = client(app)
    login(c)
    again = client(
        __import__("qbarr.webui.app", fromlist=["make_app"]).make_app(
            home, qconfig.load(home.config), f"unix://{tmp_path}/none.sock"
        )
    )
    again.cookies = c.cookies
    assert again.get("/api/overview").status_code == 200  # same key from the kv table
    text = home.config.read_text().replace(seedmod.LOGIN_PASSWORD, "another-password-1")
    home.config.write_text(text)
    assert c.get("/api/overview").status_code == 401


def test_session_cookie_tampering_is_rejected(app_home):
    app, _home = app_home
    c = client(app)
    login(c)
    value = c.cookies[auth.SESSION_COOKIE]
    sid, issued, mac = value.split(".")
    c.cookies.set(auth.SESSION_COOKIE, f"{sid}.{int(issued) + 1}.{mac}")
    assert c.get("/api/overview").status_code == 401


def test_login_throttle(app_home):
    app, _home = app_home
    c = client(app)
    for _ in range(10):
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        assert c.post("/login", data={"password": "bad", "csrf": token}).status_code == 401
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    assert (
        c.post("/login", data={"password": seedmod.LOGIN_PASSWORD, "csrf": token}).status_code
        == 429
    )


def test_get_changes_nothing(app_home):
    app, home = app_home
    c = client(app)
    before = db_fingerprint(home)
    config_before = home.config.read_bytes()
    hashes = {"first": seedmod.thash(1)}
    for route, _ in ROUTES:
        if route.method == "GET":
            c.get(concrete(route.path, hashes), headers=BEARER)
    for page in (
        "/",
        "/programs",
        "/instances/Radarr-Main",
        "/journal",
        "/config",
        f"/torrents/{hashes['first']}",
        "/login",
    ):
        c.get(page, headers=BEARER)
    assert db_fingerprint(home) == before
    assert home.config.read_bytes() == config_before


def test_auth_disabled_needs_loopback_or_explicit_exposure(tmp_path):
    base = {
        "Host": "0.0.0.0",
        "AuthDisabled": True,
        "AllowInsecureExposure": False,
        "Token": "",
        "Password": "",
    }
    path = tmp_path / "config.ini"
    [line] = qconfig.suite_problems(path, base)
    assert "AllowInsecureExposure" in line
    assert qconfig.suite_problems(path, {**base, "AllowInsecureExposure": True}) == []
    assert qconfig.suite_problems(path, {**base, "Host": "127.0.0.1"}) == []
    assert qconfig.suite_problems(path, {**base, "Host": "::1"}) == []
    [line] = qconfig.suite_problems(path, {**base, "AuthDisabled": False, "Host": "127.0.0.1"})
    assert "needs a Token" in line


def test_program_waits_instead_of_exiting_on_insecure_exposure(tmp_path, caplog):
    from qbarr_programs import webui

    seedmod.make_home(
        tmp_path, host="0.0.0.0", token="", password="", extra_webui="AuthDisabled = true\n"
    )
    stop, wake = threading.Event(), threading.Event()
    result: list[object] = []
    waiter = threading.Thread(
        target=lambda: result.append(webui.wait_for_config(Home(tmp_path), stop, wake))
    )
    waiter.start()
    try:
        wait_for(lambda: "AuthDisabled = true is refused" in caplog.text, what="the problem")
        assert "AllowInsecureExposure" in caplog.text and "waiting for a fix" in caplog.text
        assert waiter.is_alive()  # waiting, not exited
    finally:
        stop.set()
        wake.set()
        waiter.join(timeout=10)
    assert result == [None]


def test_default_bind_is_loopback_6969(tmp_path):
    from qbarr_programs import webui

    home = seedmod.make_home(tmp_path)
    text = "\n".join(
        line
        for line in home.config.read_text().splitlines()
        if not line.startswith(("Host", "Port"))
    )
    home.config.write_text(text)
    cfg = qconfig.load(home.config)
    assert webui.gunicorn_options(cfg.webui)["bind"] == ["127.0.0.1:6969"]
    from gunicorn.workers.gthread import ThreadWorker

    assert issubclass(webui.gunicorn_options(cfg.webui)["worker_class"], ThreadWorker)


def test_auth_disabled_on_loopback_still_needs_csrf_for_posts(tmp_path):
    app, _home = build(tmp_path, token="", password="", extra_webui="AuthDisabled = true\n")
    c = client(app)
    assert c.get("/api/overview").status_code == 200
    assert c.get("/").status_code == 200
    assert c.post("/api/instances/Radarr-Main/brake/release").status_code == 403
    csrf = c.get("/api/session").json()["csrf"]
    assert (
        c.post(
            "/api/instances/Radarr-Main/brake/release", headers={"X-CSRF-Token": csrf}
        ).status_code
        == 200
    )
