"""The HTML pages: server-rendered with bottle's SimpleTemplate (``{{...}}`` escapes).

Every page calls the same functions as the JSON API. Forms POST to page routes that do
the action and redirect back (post/redirect/get), with the CSRF token in a hidden field.
Nothing untrusted is ever inserted raw: the only ``{{!...}}`` are the layout's body and the
SVG charts, whose labels :mod:`qbarr.webui.charts` escapes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import bottle

from qbarr import heartbeat, storage
from qbarr.config import SECRET_KEYS
from qbarr.webui import api, auth, charts, configedit, initext, queries, words
from qbarr.webui.context import Identity, Web, WebError
from qbarr.webui.params import form_body, query_str

Guard = Callable[..., Identity]


_LOOKUP: list[str] = []


def _lookup() -> list[str]:
    """One list object for the process: bottle caches compiled templates by ``id(lookup)``,
    so a fresh list per call would recompile (and keep) every template on every request."""
    if not _LOOKUP:
        from qbarr.webui.app import package_dir

        _LOOKUP.append(str(package_dir("templates")))
    return _LOOKUP


def reach_text(value: bool | None) -> str:
    return "unknown" if value is None else ("reachable" if value else "UNREACHABLE")


def reach_class(value: bool | None) -> str:
    return "muted" if value is None else ("ok" if value else "bad")


def status_lines(inst: Mapping[str, Any]) -> list[str]:
    """An instance's state in words: what it waits on right now, each remote from its own
    last call (since when, last error with its age), and what is not done yet and why."""
    now = time.time()
    stats = inst.get("stats") or {}
    lines = []
    waiting = heartbeat.waiting_text(stats, inst.get("heartbeat_at"))
    if waiting:
        lines.append(waiting)
    targets = stats.get("targets") or {}
    lines += [heartbeat.target_text(now, t) for t in targets.values() if isinstance(t, dict)]
    return lines + heartbeat.backlog_lines(now, stats.get("backlog"))


def render(web: Web, name: str, ident: Identity | None, **kw: Any) -> str:
    """Render a template with the layout's variables; scrub secrets from the result."""
    csrf = web.sessions.csrf(ident.sid) if ident and ident.sid else ""
    try:
        nav = web.known_instances()
    except Exception:  # noqa: BLE001 - a broken DB must not hide the error page
        nav = []
    env = {
        "title": kw.pop("title", "qbarr"),
        "page": kw.pop("page", name),
        "csrf": csrf,
        "nav_instances": nav,
        "current_instance": kw.pop("current_instance", None),
        "show_logout": bool(ident and ident.kind == "session" and not web.auth_disabled),
        "msg": query_str("msg", 300) if bottle.request.method == "GET" else None,
        "storage_warning": storage.warning(web.home.root),  # a full disk: say it on every page
        "quote": lambda text: quote(str(text), safe=""),
        "w": words,
        "reach_text": reach_text,
        "reach_class": reach_class,
        "status_lines": status_lines,
    }
    env.update(kw)
    bottle.response.content_type = "text/html; charset=utf-8"
    return web.scrub(bottle.template(name, template_lookup=_lookup(), **env))


def render_error(web: Web, status: int, message: str) -> str:
    return bottle.template(
        "error.tpl",
        template_lookup=_lookup(),
        title=f"Error {status}",
        page="error",
        csrf="",
        nav_instances=[],
        current_instance=None,
        show_logout=False,
        msg=None,
        quote=quote,
        w=words,
        status=status,
        message=message,
        reach_text=reach_text,
        reach_class=reach_class,
    )


def safe_next(value: str | None, default: str = "/") -> str:
    """A path on this site, or ``default``: never a scheme, a host, ``//`` or ``/\\``.

    Browsers drop tabs and line breaks inside a URL and trim control characters and
    spaces around it (``/\t/evil.example`` becomes ``//evil.example``), so those are
    stripped first and the result is judged as the browser will read it."""
    if not value:
        return default
    text = "".join(ch for ch in value if ch not in "\t\n\r").strip("\x00- \x7f")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text) or "\\" in text:
        return default
    if not text.startswith("/") or text.startswith("//"):
        return default
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return default
    return text


def redirect(location: str, status: int = 303) -> None:
    """A relative redirect (bottle's makes it absolute from the Host header); keeps cookies set."""
    res = bottle.response.copy(cls=bottle.HTTPResponse)
    res.status = status
    res.body = ""
    res.set_header("Location", location)
    raise res


def with_msg(path: str, msg: str) -> str:
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}{urlencode({'msg': msg})}"


def register(app: bottle.Bottle, web: Web, guard: Guard) -> None:
    """Add every page route to ``app``."""

    def page(path: str, method: str = "GET") -> Callable[[Callable[..., str]], Callable[..., str]]:
        def decorate(fn: Callable[..., str]) -> Callable[..., str]:
            def callback(**kwargs: Any) -> str:
                try:
                    ident = guard(web)
                    ident = _ensure_session(web, ident)
                    return fn(ident, **kwargs)
                except WebError as exc:
                    if exc.status == 401 and bottle.request.method == "GET":
                        target = bottle.request.fullpath + (
                            "?" + bottle.request.query_string if bottle.request.query_string else ""
                        )
                        redirect("/login?" + urlencode({"next": target}), 303)
                    bottle.response.status = exc.status
                    return render_error(web, exc.status, exc.message)

            app.route(path, method, callback)
            return fn

        return decorate

    @app.get("/login")
    def login_form() -> str:
        if web.auth_disabled:
            redirect("/", 303)
        return _login_page(web, None, safe_next(query_str("next", 1000)))

    @app.post("/login")
    def login() -> str:
        try:
            form = form_body()
        except WebError as exc:
            bottle.response.status = exc.status
            return render_error(web, exc.status, exc.message)
        next_url = safe_next(form.get("next"))
        client = auth.client_address(bottle.request.environ, web.trusted_proxies)
        expected = bottle.request.get_cookie(auth.PRELOGIN_COOKIE) or ""
        given = form.get("csrf", "")
        if not expected or not secrets.compare_digest(expected.encode(), given.encode()):
            bottle.response.status = 403
            return _login_page(web, "The form expired: please try again.", next_url)
        if web.throttle.blocked(client):
            bottle.response.status = 429
            return _login_page(web, "Too many failed attempts: wait a few minutes.", next_url)
        if not auth.password_ok(form.get("password", ""), web.webui):
            web.throttle.failed(client)
            bottle.response.status = 401
            return _login_page(web, "Wrong password.", next_url)
        from qbarr.webui.app import set_session_cookie

        set_session_cookie(web, web.sessions.issue(web.fingerprint))
        bottle.response.delete_cookie(auth.PRELOGIN_COOKIE, path="/login")
        redirect(next_url, 303)
        return ""

    @page("/logout", "POST")
    def logout(ident: Identity) -> str:
        web.sessions.revoke(ident.sid)
        bottle.response.delete_cookie(auth.SESSION_COOKIE, path="/")
        redirect("/login", 303)
        return ""

    @page("/")
    def overview(ident: Identity) -> str:
        data = queries.overview(web.db)
        return render(
            web,
            "overview.tpl",
            ident,
            title="Overview",
            page="overview",
            data=data,
            now=time.time(),
            rule_chart=charts.rule_bars(data["rules_24h"]),
            hourly_chart=charts.hourly_bars(data["hourly"]),
            notify_urls=len(web.config.data["Notifications"]["URLs"]),
            last_test=queries.last_notification_test(web.db),
        )

    @page("/notifications/test", "POST")
    def notification_test(ident: Identity) -> str:
        found = api.notification_test(web)
        redirect(
            with_msg("/", f"test notification #{found['id']} asked of the notify program"), 303
        )
        return ""

    @page("/programs")
    def programs(ident: Identity) -> str:
        data = api.programs(web)
        log_program = query_str("log", 200)
        log_q = query_str("q", 200)
        log = None
        if log_program:
            log = api.program_log(web, log_program)
            log_program = log["program"]
        return render(
            web,
            "programs.tpl",
            ident,
            title="Programs",
            page="programs",
            data=data,
            log_program=log_program,
            log=log,
            log_q=log_q,
        )

    @page("/programs/<name>/<op:re:start|stop|restart>", "POST")
    def program_control(ident: Identity, name: str, op: str) -> str:
        try:
            done = api._control(web, name, op)
            msg = f"{done['program']}: {op} done ({done['state']})"
        except WebError as exc:
            if exc.status not in (404, 409, 502, 503):
                raise
            msg = f"{name}: {exc.message}"
        redirect(with_msg("/programs", msg), 303)
        return ""

    @page("/instances/<name>")
    def instance(ident: Identity, name: str) -> str:
        detail = api.instance_detail(web, name)
        canonical = detail["instance"]["name"]
        tq = api.torrent_query()
        data = queries.torrents(web.db, canonical, tq, str(web.config.settings["ProtectedTag"]))
        base = f"/instances/{quote(canonical, safe='')}"
        params = {k: v for k, v in (("q", tq.q), ("rule", tq.rule), ("state", tq.state)) if v}

        def link(**over: Any) -> str:
            merged = {**params, "sort": tq.sort, "order": tq.order, "per_page": tq.per_page, **over}
            return base + "?" + urlencode(merged)

        def sort_link(key: str) -> str:
            order = "desc" if tq.sort == key and tq.order == "asc" else "asc"
            return link(sort=key, order=order, page=1)

        here = link(page=tq.page)
        return render(
            web,
            "instance.tpl",
            ident,
            title=canonical,
            page="instance",
            current_instance=canonical,
            detail=detail,
            pd=data,
            tq=tq,
            sort_link=sort_link,
            page_link=lambda n: link(page=n),
            here=here,
        )

    @page("/instances/<name>/brake/release", "POST")
    def brake(ident: Identity, name: str) -> str:
        result = api.brake_release(web, name)
        target = safe_next(
            form_body().get("next"), f"/instances/{quote(result['instance'], safe='')}"
        )
        redirect(with_msg(target, f"{result['instance']}: brake released"), 303)
        return ""

    @page("/instances/<name>/torrents/<hash>/<op:re:protect|unprotect>", "POST")
    def protect(ident: Identity, name: str, hash: str, op: str) -> str:  # noqa: A002
        fn = api.torrent_protect if op == "protect" else api.torrent_unprotect
        result = fn(web, name, hash)
        target = safe_next(
            form_body().get("next"), f"/instances/{quote(result['instance'], safe='')}"
        )
        redirect(with_msg(target, f"{op} requested: the manager applies it on its next cycle"), 303)
        return ""

    @page("/journal")
    def journal(ident: Identity) -> str:
        jq = api.journal_query(web)
        data = queries.decisions(web.db, jq)
        args = {
            k: v
            for k, v in bottle.request.query.items()
            if k in ("instance", "rule", "torrent", "action", "since", "until")
        }
        older = "/journal?" + urlencode({**args, "before_id": data["next_before_id"] or ""})
        return render(
            web,
            "journal.tpl",
            ident,
            title="Journal",
            page="journal",
            jq=jq,
            choices=queries.journal_choices(web.db),
            older_link=older,
            since_text=_local_input(jq.since),
            until_text=_local_input(jq.until),
            pd=data,
        )

    @page("/torrents/<hash>")
    def torrent(ident: Identity, hash: str) -> str:  # noqa: A002
        hist = api.torrent_history(web, hash)
        return render(
            web, "torrent.tpl", ident, title=hist["name"] or hist["hash"], page="torrent", hist=hist
        )

    @page("/config")
    def config_page(ident: Identity) -> str:
        return _config_page(web, ident)

    @page("/config", "POST")
    def config_post(ident: Identity) -> str:
        form = form_body()
        base = form.get("base")
        do_save = form.get("do") == "save"
        text = form.get("text") if form.get("mode") == "raw" else None
        changes = None
        submitted: dict[str, str] = {}
        if text is None:
            fields = {
                f["id"]: f
                for sec in configedit.form(configedit.read_text(web.config_path))
                for f in sec["fields"]
            }
            changes = []
            for key, value in form.items():
                if key.startswith("f:") and key[2:] in fields:
                    f = fields[key[2:]]
                    submitted[f["id"]] = value
                    changes.append(configedit.Change(tuple(f["path"]), f["key"], value))
            web.remember_secrets(
                [c.value for c in changes if c.value and c.key.lower() in SECRET_KEYS]
            )
        else:
            web.remember_secrets(api._secret_values_in(text))
        try:
            if do_save:
                result = api.save_config(web, base, changes, text, True)
                return _config_page(
                    web,
                    ident,
                    diff=result["diff"],
                    saved=result["saved"],
                    applied=result["applied"],
                )
            preview = api._prepare(web, base, changes, text)
        except WebError as exc:
            problems = exc.extra.get("problems") or [{"field": None, "message": exc.message}]
            bottle.response.status = exc.status
            return _config_page(web, ident, problems=problems, submitted=submitted, raw_text=text)
        if preview.problems:
            bottle.response.status = 422
        return _config_page(
            web,
            ident,
            diff=preview.diff,
            problems=preview.problems,
            submitted=submitted,
            raw_text=text,
        )


def _ensure_session(web: Web, ident: Identity) -> Identity:
    """With auth off, give the browser an anonymous session so its forms get CSRF tokens."""
    if ident.sid is None and ident.kind != "bearer" and web.auth_disabled:
        from qbarr.webui.app import set_session_cookie

        cookie = web.sessions.issue(web.fingerprint)
        set_session_cookie(web, cookie)
        return Identity("anonymous", web.sessions.verify(cookie, web.fingerprint))
    return ident


def _login_page(web: Web, error: str | None, next_url: str) -> str:
    token = secrets.token_urlsafe(24)
    bottle.response.set_cookie(
        auth.PRELOGIN_COOKIE, token, path="/login", httponly=True, samesite="strict", max_age=3600
    )
    return render(
        web,
        "login.tpl",
        None,
        title="Log in",
        page="login",
        error=error,
        login_csrf=token,
        next_url=next_url,
    )


def _local_input(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%dT%H:%M")


def _config_page(
    web: Web,
    ident: Identity,
    diff: str | None = None,
    saved: bool = False,
    applied: dict[str, Any] | None = None,
    problems: list[dict[str, Any]] | None = None,
    submitted: dict[str, str] | None = None,
    raw_text: str | None = None,
) -> str:
    view = api.config_view(web)
    field_errors: dict[str, str] = {}
    general = []
    known = {f["id"]: sec["title"] for sec in view["sections"] for f in sec["fields"]}
    open_sections = set()
    for p in problems or []:
        if p.get("field") in known:
            field_errors[p["field"]] = field_errors.get(p["field"], "") + p["message"]
            open_sections.add(known[p["field"]])
        else:
            general.append(p["message"])
    shown_raw = initext.mask_text(raw_text) if raw_text is not None else view["text"]
    return render(
        web,
        "config.tpl",
        ident,
        title="Config",
        page="config",
        view=view,
        diff=diff,
        saved=saved,
        applied=applied,
        field_errors=field_errors,
        general=general,
        submitted=submitted or {},
        open_sections=open_sections,
        raw_text=shown_raw,
        now=time.time(),
    )
