"""The login flow against a fake qBittorrent (httpx.MockTransport, no sockets):
lazy login, one re-login and replay on 403, no loop, both cookie styles, API key,
and no password in any message or log line."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from qbarr.qbittorrent import QbtAuthError, QbtClient, QbtUnavailable

PASSWORD = "p@ss%word-unique"


class FakeQbt:
    """Just enough of auth/login + a protected endpoint, in 4.x or 5.2 style."""

    def __init__(self, modern: bool = False, port: int = 8080) -> None:
        self.modern = modern
        self.cookie = f"QBT_SID_{port}" if modern else "SID"
        self.valid: set[str] = set()
        self.logins = 0
        self.always_forbidden = False
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append((request.method, path))
        if path.endswith("/auth/login"):
            self.logins += 1
            form = dict(httpx.QueryParams(request.content.decode()))
            if form.get("password") != PASSWORD:
                return httpx.Response(401) if self.modern else httpx.Response(200, text="Fails.")
            sid = f"sid{self.logins}"
            self.valid.add(sid)
            headers = {"Set-Cookie": f"{self.cookie}={sid}; HttpOnly; path=/"}
            return httpx.Response(
                204 if self.modern else 200, text="" if self.modern else "Ok.", headers=headers
            )
        if request.headers.get("Authorization") == "Bearer qbt_key" and self.modern:
            return httpx.Response(200, json={"ok": True})
        cookie = request.headers.get("Cookie", "")
        sid = cookie.split("=", 1)[1] if "=" in cookie else ""
        if self.always_forbidden or sid not in self.valid:
            return httpx.Response(403, text="Forbidden")
        return httpx.Response(200, json={"connection_status": "connected"})


def client(fake: Callable[[httpx.Request], httpx.Response], **kw: object) -> QbtClient:
    kw.setdefault("password", PASSWORD)
    return QbtClient(
        "http://qbt.local:8080", "admin", transport=httpx.MockTransport(fake), retries=0, **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("modern", [False, True])
def test_lazy_login_then_reuse(modern: bool) -> None:
    fake = FakeQbt(modern)
    with client(fake) as c:
        assert c.transfer_info() == {"connection_status": "connected"}
        c.transfer_info()
    assert fake.logins == 1
    assert [p for _, p in fake.seen] == [
        "/api/v2/auth/login",
        "/api/v2/transfer/info",
        "/api/v2/transfer/info",
    ]


@pytest.mark.parametrize("modern", [False, True])
def test_relogin_once_on_session_loss(modern: bool) -> None:
    fake = FakeQbt(modern)
    with client(fake) as c:
        c.transfer_info()
        fake.valid.clear()  # qBittorrent restarted / session expired
        assert c.transfer_info() == {"connection_status": "connected"}
        assert c.stats["logins"] == 2
    assert fake.logins == 2


def test_no_loop_when_403_persists() -> None:
    fake = FakeQbt()
    fake.always_forbidden = True
    with client(fake) as c, pytest.raises(QbtAuthError) as exc:
        c.transfer_info()
    assert fake.logins == 2 and exc.value.status == 403  # first login + one retry, then stop
    assert "still refused" in str(exc.value)


@pytest.mark.parametrize("modern", [False, True])
def test_wrong_password(modern: bool, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeQbt(modern)
    caplog.set_level(logging.DEBUG)
    with client(fake, password="wrong-" + PASSWORD) as c:
        with pytest.raises(QbtAuthError) as exc:
            c.login()
        with pytest.raises(QbtAuthError):
            c.transfer_info()
    assert fake.logins == 2
    assert PASSWORD not in str(exc.value) and PASSWORD not in caplog.text


def test_api_key_sends_bearer_and_never_logs_in() -> None:
    fake = FakeQbt(modern=True)
    with client(fake, password="", api_key="qbt_key") as c:
        c.login()
        assert c.transfer_info() == {"ok": True}
    assert fake.logins == 0


def test_login_5xx_is_unavailable() -> None:
    with (
        client(lambda r: httpx.Response(503, text="busy")) as c,
        pytest.raises(QbtUnavailable) as exc,
    ):
        c.login()
    assert exc.value.status == 503
