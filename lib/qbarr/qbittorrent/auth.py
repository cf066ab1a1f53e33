"""Cookie login with one re-login on session loss, as an `httpx.Auth` flow.

qBittorrent <= 5.1 sets a `SID` cookie, 5.2+ sets `QBT_SID_<port>`: the flow
keeps whatever cookies the login response sets and sends them itself, so the
cookie name never matters. When a call comes back 401/403 (session expired,
qBittorrent restarted, logged out) it logs in once and replays the request; a
second refusal is returned to the caller, never looped. With an API key (5.2+)
only the Bearer header is sent and there is no login at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator

import httpx

from .errors import QbtAuthError, QbtUnavailable

log = logging.getLogger("qbarr.qbittorrent")

LOGIN_PATH = "auth/login"


def check_login(response: httpx.Response) -> dict[str, str]:
    """Judge an auth/login answer; return the cookies it set. Never echoes the password."""
    status = response.status_code
    body = response.text.strip() if status != 204 else ""
    if status == 204 or (status == 200 and body == "Ok."):
        return {c.name: c.value for c in response.cookies.jar if c.value is not None}
    if (status == 200 and body == "Fails.") or status == 401:
        raise QbtAuthError(
            "qBittorrent rejected the username or password (POST /api/v2/auth/login)",
            status=status,
            path=LOGIN_PATH,
        )
    if status == 403:
        raise QbtAuthError(
            "qBittorrent refused the login with 403: this client's IP is banned "
            "after too many failed logins (POST /api/v2/auth/login)",
            status=status,
            path=LOGIN_PATH,
        )
    if status >= 500:
        raise QbtUnavailable(
            f"qBittorrent POST /api/v2/auth/login -> HTTP {status}", status=status, path=LOGIN_PATH
        )
    raise QbtAuthError(
        f"unexpected answer to POST /api/v2/auth/login: HTTP {status}",
        status=status,
        path=LOGIN_PATH,
    )


class QbtAuth(httpx.Auth):
    """Attach the session cookie (or API key); log in lazily and once more on 401/403."""

    requires_request_body = True  # the body must be replayable after a re-login
    requires_response_body = True

    def __init__(
        self,
        login_url: str,
        username: str,
        password: str,
        api_key: str = "",
        on_login: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self._login_url = login_url
        self._username = username
        self._password = password
        self._api_key = api_key
        self._on_login = on_login
        self._cookies: dict[str, str] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def uses_api_key(self) -> bool:
        return bool(self._api_key)

    @property
    def has_session(self) -> bool:
        return bool(self._cookies)

    def forget(self) -> None:
        """Drop the session cookie (after logout): the next call logs in again."""
        with self._lock:
            self._cookies = {}
            self._generation += 1

    def login_request(self, like: httpx.Request | None = None) -> httpx.Request:
        """The auth/login POST. `like` lends its extensions: a bare httpx.Request has no
        timeout at all, so a login yielded from the flow must carry the caller's."""
        return httpx.Request(
            "POST",
            self._login_url,
            data={"username": self._username, "password": self._password},
            extensions=dict(like.extensions) if like is not None else {},
        )

    def accept(self, response: httpx.Response) -> None:
        """Store the cookies of a successful login answer (raises QbtAuthError otherwise)."""
        if self._on_login:
            self._on_login(response)
        cookies = check_login(response)
        with self._lock:
            if cookies or not self._cookies:
                self._cookies = cookies
            self._generation += 1
        log.info(
            "logged in to qBittorrent as %r (cookie %s)",
            self._username,
            ",".join(sorted(cookies)) or "unchanged",
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._api_key:
            request.headers["Authorization"] = f"Bearer {self._api_key}"
            yield request
            return
        if request.url.path.endswith("/" + LOGIN_PATH):
            yield request
            return
        if not self._cookies:
            self.accept((yield self.login_request(request)))
        generation = self._apply(request)
        response = yield request
        if response.status_code not in (401, 403):
            return
        if generation == self._generation:  # nobody re-logged in meanwhile: do it
            log.info(
                "qBittorrent answered %d on %s: session lost, logging in again",
                response.status_code,
                request.url.path,
            )
            self.accept((yield self.login_request(request)))
        self._apply(request)
        yield request

    def _apply(self, request: httpx.Request) -> int:
        with self._lock:
            cookies, generation = dict(self._cookies), self._generation
        if cookies:
            request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        else:
            request.headers.pop("Cookie", None)
        return generation
