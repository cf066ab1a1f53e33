"""The web UI's bottle app factory: routes, the auth guard, JSON errors, security headers.

``make_app(home, config, supervisor_url)`` builds a fresh app (never bottle's default app),
so tests build one per test and gunicorn builds one per worker. Every route goes through
:func:`_guard`: public routes (``/health``, ``/login``, static files, the OpenAPI document)
need nothing; every other GET needs the bearer token or a login session; every POST needs
the bearer token, or a session plus its CSRF token. GET routes change nothing.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import bottle

from qbarr.config import Config
from qbarr.paths import Home
from qbarr.webui import api, auth, pages
from qbarr.webui.context import Identity, Web, WebError
from qbarr.webui.openapi import ApiRoute, document
from qbarr.webui.params import MAX_BODY, raw_body
from qbarr.webui.supervisor import SupervisorError

log = logging.getLogger("qbarr.webui")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def package_dir(name: str) -> Path:
    return Path(str(resources.files("qbarr.webui") / name))


def make_app(home: Home, config: Config, supervisor_url: str | None = None) -> bottle.Bottle:
    """A new web UI app for this data dir and config (validated by the caller)."""
    bottle.BaseRequest.MEMFILE_MAX = MAX_BODY
    web = Web(home, config, supervisor_url or home.supervisor_url)
    app = bottle.Bottle(catchall=True)
    app.config["qbarr.web"] = web
    app.default_error_handler = lambda err: _error_page(web, err)  # type: ignore[method-assign]
    app.add_hook("before_request", lambda: _check_host(web))
    app.add_hook("after_request", _security_headers)
    spec = document([route for route, _ in api.ROUTES])
    for route, handler in api.ROUTES:
        _add_api_route(app, web, route, handler, spec)
    pages.register(app, web, _guard)
    static_root = str(package_dir("static"))

    @app.get("/static/<path:path>")
    def static(path: str) -> Any:
        return bottle.static_file(path, root=static_root)

    return app


def _check_host(web: Web) -> None:
    """Refuse a Host header that does not name this web UI (DNS rebinding: a page on
    another site whose name now resolves to 127.0.0.1 would otherwise be same-origin)."""
    host = bottle.request.environ.get("HTTP_HOST")
    if not auth.host_allowed(host, web.host_names):
        raise bottle.HTTPError(
            421,
            f"Host {host!r} does not name this web UI: reach it by its address, localhost, "
            "or a name listed in [WebUI] AllowedHosts",
        )


def _security_headers() -> None:
    for name, value in SECURITY_HEADERS.items():
        bottle.response.set_header(name, value)


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/metrics", "/health"))


def json_response(
    web: Web, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> str:
    bottle.response.status = status
    bottle.response.content_type = "application/json"
    for name, value in (headers or {}).items():
        bottle.response.set_header(name, value)
    return web.scrub(json.dumps(body, default=str))


def identify(web: Web) -> Identity:
    """Who is asking; a wrong bearer token is a 401 (never silently a session)."""
    header = bottle.request.get_header("Authorization")
    if header:
        if auth.bearer_ok(header, str(web.webui["Token"])):
            return Identity("bearer")
        raise WebError(401, "invalid bearer token")
    sid = web.sessions.verify(bottle.request.get_cookie(auth.SESSION_COOKIE), web.fingerprint)
    if sid:
        return Identity("session", sid)
    return Identity("anonymous")


def _guard(web: Web, public: bool = False) -> Identity:
    """Enforce the auth rules for this request; returns who is asking."""
    if bottle.request.method not in ("GET", "HEAD", "POST"):
        raise WebError(405, "method not allowed")
    if bottle.request.method == "POST":
        raw_body()  # 413 for an oversize body before anything else
    ident = identify(web)
    if public:
        return ident
    allowed = ident.authenticated or web.auth_disabled
    if bottle.request.method != "POST":
        if not allowed:
            raise WebError(401, "authentication required")
        return ident
    if ident.kind == "bearer":
        return ident
    if not allowed:
        raise WebError(401, "authentication required")
    token = bottle.request.get_header("X-CSRF-Token")
    if token is None and bottle.request.content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        from qbarr.webui.params import form_body

        token = form_body().get("csrf")
    if not web.sessions.csrf_ok(ident.sid, token):
        raise WebError(403, "missing or wrong CSRF token (send X-CSRF-Token from /api/session)")
    return ident


def _add_api_route(
    app: bottle.Bottle,
    web: Web,
    route: ApiRoute,
    handler: Callable[..., Any] | None,
    spec: dict[str, Any],
) -> None:
    def callback(**kwargs: Any) -> Any:
        try:
            ident = _guard(web, public=route.public)
            if route.path == "/api/openapi.json":
                return json_response(web, 200, spec)
            if route.path == "/metrics":
                # prometheus_client (~1.4 MB) only once something scrapes /metrics
                from qbarr.webui import metrics

                bottle.response.content_type = metrics.CONTENT_TYPE
                return web.scrub(metrics.render(web).decode())
            if route.path == "/health":
                status, body = handler(web)  # type: ignore[misc]
                return json_response(web, status, body)
            if route.path == "/api/session":
                return _session(web, ident)
            return json_response(web, 200, handler(web, **kwargs))  # type: ignore[misc]
        except WebError as exc:
            return _api_error(web, exc)
        except SupervisorError as exc:
            return _api_error(web, WebError(exc.status, str(exc)))

    app.route(route.path, route.method, callback)


def _session(web: Web, ident: Identity) -> str:
    """Report the session; with auth off, hand out an anonymous session for CSRF tokens."""
    if ident.sid is None and web.auth_disabled:
        cookie = web.sessions.issue(web.fingerprint)
        set_session_cookie(web, cookie)
        ident = Identity("anonymous", web.sessions.verify(cookie, web.fingerprint))
    return json_response(web, 200, api.session(web, ident))


def set_session_cookie(web: Web, cookie: str) -> None:
    bottle.response.set_cookie(
        auth.SESSION_COOKIE,
        cookie,
        path="/",
        httponly=True,
        samesite="strict",
        max_age=int(web.sessions.lifetime),
        secure=auth.forwarded_https(bottle.request.environ, web.trusted_proxies),
    )


def _api_error(web: Web, exc: WebError) -> str:
    body: dict[str, Any] = {"error": exc.message, **exc.extra}
    headers = {"WWW-Authenticate": 'Bearer realm="qbarr"'} if exc.status == 401 else {}
    return json_response(web, exc.status, body, headers)


def _error_page(web: Web, err: bottle.HTTPError) -> str:
    """Errors bottle raises itself (404 route, 405, 500): JSON under /api, else a small page."""
    status = err.status_code
    if status >= 500 and err.exception is not None:
        tb = "".join(traceback.format_exception(err.exception))
        log.error(
            "unhandled error on %s %s\n%s",
            bottle.request.method,
            bottle.request.path,
            web.scrub(tb),
        )
    message = (
        "internal error (see the webui log)" if status >= 500 else str(err.body or err.status_line)
    )
    _security_headers()
    if is_api_path(bottle.request.path):
        bottle.response.content_type = "application/json"
        return web.scrub(json.dumps({"error": message}))
    bottle.response.content_type = "text/html; charset=utf-8"
    return web.scrub(pages.render_error(web, status, message))
