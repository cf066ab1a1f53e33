"""Attacks on the web UI found by probing it from outside, each shown failing.

Driven in-process over WSGI (httpx.WSGITransport; ``remote_addr`` plays the client's
address). Each test names the finding it closes.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import httpx
import pytest

from qbarr.webui import auth
from tests.support import webui_seed as seedmod
from tests.support.webui_client import BEARER, build, login

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


def client_from(app, addr: str = "127.0.0.1", host: str = "127.0.0.1:6969") -> httpx.Client:
    return httpx.Client(
        transport=httpx.WSGITransport(app=app, remote_addr=addr),
        base_url=f"http://{host}",
        follow_redirects=False,
    )


def try_login(c: httpx.Client, password: str, **headers: str) -> httpx.Response:
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    return c.post("/login", data={"password": password, "csrf": token}, headers=headers)


# -- high: login throttling keyed on X-Forwarded-For ---------------------------------------


def test_a_spoofed_forwarded_for_header_does_not_reset_the_throttle(tmp_path):
    app, _home = build(tmp_path)
    attacker = client_from(app, "203.0.113.9")
    codes = [
        try_login(attacker, f"guess-{i}", **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(30)
    ]
    assert codes.count(401) == auth.LoginThrottle.PER_ADDRESS, codes
    assert set(codes[auth.LoginThrottle.PER_ADDRESS :]) == {429}, codes


def test_a_victim_cannot_be_locked_out_by_spoofing_their_address(tmp_path):
    app, _home = build(tmp_path)
    attacker = client_from(app, "203.0.113.9")
    for i in range(15):
        try_login(attacker, f"guess-{i}", **{"X-Forwarded-For": "192.0.2.10"})
    victim = client_from(app, "192.0.2.10")
    assert try_login(victim, seedmod.LOGIN_PASSWORD).status_code == 303


def test_forwarded_for_counts_only_behind_a_configured_proxy(tmp_path):
    app, _home = build(tmp_path, extra_webui="TrustedProxies = 10.0.0.2\n")
    proxy = client_from(app, "10.0.0.2")
    for _ in range(auth.LoginThrottle.PER_ADDRESS):
        assert try_login(proxy, "bad", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 401
    assert try_login(proxy, "bad", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    # another client behind the same proxy is someone else
    ok = try_login(proxy, seedmod.LOGIN_PASSWORD, **{"X-Forwarded-For": "198.51.100.8"})
    assert ok.status_code == 303


def test_the_account_is_throttled_across_addresses(tmp_path):
    app, _home = build(tmp_path)
    codes = [
        try_login(client_from(app, f"198.51.{i // 250}.{i % 250 + 1}"), "bad").status_code
        for i in range(auth.LoginThrottle.PER_ACCOUNT + 5)
    ]
    assert codes.count(401) == auth.LoginThrottle.PER_ACCOUNT, codes
    assert set(codes[auth.LoginThrottle.PER_ACCOUNT :]) == {429}


# -- medium: logout does not end the session -----------------------------------------------


def test_logout_ends_the_session_on_the_server(tmp_path):
    app, _home = build(tmp_path)
    c = client_from(app)
    csrf = login(c)
    stolen = c.cookies[auth.SESSION_COOKIE]
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    replay = client_from(app)
    replay.cookies.set(auth.SESSION_COOKIE, stolen)
    assert replay.get("/api/config").status_code == 401
    assert (
        replay.post("/api/programs/webui/restart", headers={"X-CSRF-Token": csrf}).status_code
        == 401
    )


def test_sessions_expire_after_the_configured_lifetime(tmp_path):
    app, _home = build(tmp_path, extra_webui="SessionLifetime = 1h\n")
    c = client_from(app)
    login(c)
    cookie = next(ck for ck in c.cookies.jar if ck.name == auth.SESSION_COOKIE)
    assert cookie.expires is not None and cookie.expires - time.time() <= 3600 + 5
    web = app.config["qbarr.web"]
    sid = web.sessions.verify(c.cookies[auth.SESSION_COOKIE], web.fingerprint)
    assert sid is not None
    later = time.time() + 3601
    assert web.sessions.verify(c.cookies[auth.SESSION_COOKIE], web.fingerprint, now=later) is None


# -- medium: open redirect after login -----------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/",
        "/%09/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https://evil.example/",
        " //evil.example",
        "/\r\n/evil.example",
        "/\x00/evil.example",
        "/\x7f/evil.example",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_next_never_leaves_the_site(tmp_path, target):
    app, _home = build(tmp_path)
    c = client_from(app)
    form = c.get("/login?next=" + quote(target, safe=""))
    assert form.status_code == 200
    shown = re.search(r'name="next" value="([^"]*)"', form.text).group(1)
    assert shown.startswith("/") and not shown.startswith(("//", "/\\"))
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    r = c.post("/login", data={"password": seedmod.LOGIN_PASSWORD, "csrf": token, "next": target})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    cleaned = "".join(ch for ch in location if ch >= " " and ch != "\x7f")
    assert cleaned.startswith("/") and not cleaned.startswith(("//", "/\\")), location
    assert "evil.example" not in httpx.URL("http://127.0.0.1:6969").join(cleaned).host


def test_a_local_next_is_kept(tmp_path):
    app, _home = build(tmp_path)
    c = client_from(app)
    form = c.get("/login?next=" + quote("/journal?rule=stalled", safe=""))
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    r = c.post(
        "/login",
        data={"password": seedmod.LOGIN_PASSWORD, "csrf": token, "next": "/journal?rule=stalled"},
    )
    assert r.headers["location"] == "/journal?rule=stalled"


# -- medium: DNS rebinding (no Host allow-list) --------------------------------------------


@pytest.mark.parametrize("auth_off", [True, False])
def test_a_rebound_name_is_refused(tmp_path, auth_off):
    extra = "AuthDisabled = true\n" if auth_off else ""
    app, home = build(
        tmp_path, extra_webui=extra, **({"token": "", "password": ""} if auth_off else {})
    )
    before = home.config.read_bytes()
    evil = client_from(app, host="rebind.evil.example:6969")
    headers = {} if auth_off else BEARER
    for method, path in (
        ("GET", "/api/config"),
        ("GET", "/"),
        ("GET", "/health"),
        ("POST", "/api/programs/arr:arr-radarr-main/stop"),
        ("POST", "/api/config"),
    ):
        r = evil.request(method, path, headers=headers, json={} if method == "POST" else None)
        assert r.status_code == 421, (method, path, r.status_code, r.text)
        assert "AllowedHosts" in r.text
    assert home.config.read_bytes() == before


@pytest.mark.parametrize(
    "host", ["127.0.0.1:6969", "localhost:6969", "LOCALHOST", "[::1]:6969", "192.168.1.5:6969"]
)
def test_addresses_and_localhost_are_allowed(tmp_path, host):
    app, _home = build(tmp_path)
    assert client_from(app, host=host).get("/api/overview", headers=BEARER).status_code == 200


def test_configured_names_are_allowed(tmp_path):
    app, _home = build(tmp_path, extra_webui="AllowedHosts = qbarr.example.org, nas.lan\n")
    for host in ("qbarr.example.org", "NAS.lan:6969"):
        r = client_from(app, host=host).get("/api/overview", headers=BEARER)
        assert r.status_code == 200, host
    assert client_from(app, host="other.example").get("/health").status_code == 421


# -- low: internal errors that should be a 4xx ----------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/api/programs/webui/log?offset=2147483648", None),
        ("GET", "/api/programs/webui/log?offset=9007199254740992", None),
        ("POST", "/api/config/preview", b'{"text": "\\ud800"}'),
        (
            "POST",
            "/api/config/preview",
            b'{"changes": [{"path": ["\\udfff"], "key": "k", "value": "v"}]}',
        ),
        ("POST", "/api/config/preview", b"[" * 100_000 + b"]" * 100_000),
        # names with characters that split or strip differently (fuzzer: 500 from initext)
        ("POST", "/api/config", b'{"changes": [{"path": ["\\f"], "key": "k", "value": "v"}]}'),
        (
            "POST",
            "/api/config",
            b'{"changes": [{"path": ["a\\u2028b"], "key": "k", "value": "v"}]}',
        ),
        (
            "POST",
            "/api/config",
            b'{"changes": [{"path": ["Settings"], "key": " k", "value": "v"}]}',
        ),
        (
            "POST",
            "/api/config",
            b'{"changes": [{"path": ["Settings"], "key": "k", "value": "a\\u0085b"}]}',
        ),
        ("POST", "/api/config/preview", b'{"text": "[Settings]\\u000bLogLevel = INFO"}'),
        ("POST", "/api/config/preview", b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    ],
)
def test_bad_input_is_a_4xx_not_a_500(tmp_path, method, path, body):
    app, _home = build(tmp_path)
    c = client_from(app)
    headers = {**BEARER, "Content-Type": "application/json"}
    r = c.request(method, path, headers=headers, content=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["error"]
