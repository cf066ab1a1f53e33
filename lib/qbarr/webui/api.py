"""The JSON API: one function per route, each listed in :data:`ROUTES` with its OpenAPI
description. The same functions back the HTML pages, so the pages show nothing the API
does not and do nothing it cannot."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from qbarr import config as qconfig
from qbarr.webui import apply as qapply
from qbarr.webui import configedit, listen, queries, writes
from qbarr.webui.context import Web, WebError
from qbarr.webui.openapi import ApiRoute, Param, s
from qbarr.webui.params import json_body, query_enum, query_int, query_str, query_time
from qbarr.webui.supervisor import SupervisorError

HASH_RE = re.compile(r"^[0-9a-fA-F]{32,64}$")
LOG_DEFAULT, LOG_MAX = 64 * 1024, 1024 * 1024
LOG_OFFSET_MAX = 2**31 - 1  # supervisord's XML-RPC carries 32-bit integers
SELF_PROGRAM = "webui"


def _as_error(exc: SupervisorError) -> WebError:
    return WebError(exc.status, str(exc))


# -- status ----------------------------------------------------------------------------------
def session(web: Web, identity: Any) -> dict[str, Any]:
    return {
        "authenticated": identity.authenticated or web.auth_disabled,
        "auth_disabled": web.auth_disabled,
        "csrf": web.sessions.csrf(identity.sid) if identity.sid else None,
    }


def overview(web: Web) -> dict[str, Any]:
    return queries.overview(web.db)


def programs(web: Web) -> dict[str, Any]:
    try:
        infos = web.supervisor.processes()
        status: dict[str, Any] = {"ok": True, "error": None}
    except SupervisorError as exc:
        infos, status = [], {"ok": False, "error": str(exc)}
    items = queries.programs(infos, web.db)
    for item in items:
        if item["instance"] and item["instance"].get("last_error"):
            item["instance"]["last_error"] = web.scrub(item["instance"]["last_error"])
    return {"items": items, "supervisor": status}


def _program(web: Web, name: str) -> dict[str, Any]:
    try:
        infos = web.supervisor.processes()
    except SupervisorError as exc:
        raise _as_error(exc) from None
    for info in infos:
        if name in (info["fullname"], info["name"]):
            return info
    raise WebError(404, f"unknown program {name!r}")


def _control(web: Web, name: str, op: str) -> dict[str, Any]:
    info = _program(web, name)
    if info["name"] == SELF_PROGRAM and op != "start":
        raise WebError(
            409, "the web UI does not stop or restart itself: use `qbarr ctl restart webui`"
        )
    full = info["fullname"]
    try:
        if op in ("stop", "restart") and info["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
            web.supervisor.stop(full, True)
        if op in ("start", "restart"):
            web.supervisor.start(full, False)
        fresh = web.supervisor.process(full)
    except SupervisorError as exc:
        raise _as_error(exc) from None
    return {
        "program": full,
        "done": op,
        "pid": fresh.get("pid") or None,
        "state": fresh.get("statename", ""),
    }


def program_start(web: Web, name: str) -> dict[str, Any]:
    return _control(web, name, "start")


def program_stop(web: Web, name: str) -> dict[str, Any]:
    return _control(web, name, "stop")


def program_restart(web: Web, name: str) -> dict[str, Any]:
    return _control(web, name, "restart")


def program_log(web: Web, name: str) -> dict[str, Any]:
    """The tail of a program's log; pass the returned ``offset`` back to follow it."""
    offset = query_int("offset", 0, 0, LOG_OFFSET_MAX) or 0
    length = query_int("length", LOG_DEFAULT, 1, LOG_MAX) or LOG_DEFAULT
    needle = query_str("q", 200)
    full = _program(web, name)["fullname"]
    try:
        text, new_offset, overflow = web.supervisor.tail(full, offset, length)
        if offset and new_offset < offset:  # rotated: start over from the new file's tail
            text, new_offset, overflow = web.supervisor.tail(full, 0, length)
        elif offset and not overflow:
            fresh = max(0, new_offset - offset)
            data = text.encode("utf-8", "surrogateescape")
            text = data[len(data) - fresh :].decode("utf-8", "replace") if fresh else ""
    except SupervisorError as exc:
        raise _as_error(exc) from None
    if needle:
        low = needle.lower()
        text = "".join(line for line in text.splitlines(keepends=True) if low in line.lower())
    return {"program": full, "text": web.scrub(text), "offset": new_offset, "overflow": overflow}


# -- instances -------------------------------------------------------------------------------
INSTANCE_KEYS = (
    "kind",
    "program",
    "status",
    "pid",
    "started_at",
    "heartbeat_at",
    "heartbeat_age",
    "cycles",
    "cycle_s",
    "counts",
    "torrents",
    "qbt_ok",
    "arr_ok",
    "last_error",
    "last_error_at",
    "brake_engaged",
    "brake_reason",
    "brake_at",
    "brake_released_at",
    "stats",
)


def _instance_items(web: Web) -> list[dict[str, Any]]:
    rows = {r["name"]: r for r in queries.instances(web.db)}
    configured = {i.name: i for i in web.config.instances}
    out = []
    for name in web.known_instances():
        row = rows.get(name, {})
        inst = configured.get(name)
        item: dict[str, Any] = {"name": name, "configured": inst is not None}
        for key in INSTANCE_KEYS:
            item[key] = row.get(key)
        item["kind"] = item["kind"] or (inst.kind if inst else "")
        item["program"] = item["program"] or (inst.program if inst else "")
        item["cycles"] = item["cycles"] or 0
        item["torrents"] = item["torrents"] or 0
        item["counts"] = item["counts"] or {}
        item["stats"] = item["stats"] or {}
        item["brake_engaged"] = bool(item["brake_engaged"])
        if item["last_error"]:
            item["last_error"] = web.scrub(item["last_error"])
        out.append(item)
    return out


def instance_list(web: Web) -> dict[str, Any]:
    return {"items": _instance_items(web)}


def instance_detail(web: Web, name: str) -> dict[str, Any]:
    canonical = web.instance_name(name)
    item = next(i for i in _instance_items(web) if i["name"] == canonical)
    pending = len(queries.pending_requests(web.db, canonical))
    return {
        "instance": item,
        "facets": queries.torrent_facets(web.db, canonical),
        "pending_requests": pending,
    }


def brake_release(web: Web, name: str) -> dict[str, Any]:
    return writes.release_brake(web.db, web.instance_name(name))


def notification_test(web: Web) -> dict[str, Any]:
    if not web.config.data["Notifications"]["URLs"]:
        raise WebError(409, "no notification URL: set [Notifications] URLs first")
    return writes.request_test_notification(web.db)


def notification_test_result(web: Web, request_id: str) -> dict[str, Any]:
    found = writes.test_notification(web.db, int(request_id))
    if found is None:
        raise WebError(404, f"no test notification #{request_id}")
    return found


def torrent_query() -> queries.TorrentQuery:
    return queries.TorrentQuery(
        rule=query_str("rule", 100),
        state=query_str("state", 100),
        q=query_str("q", 300),
        sort=query_enum("sort", tuple(queries.TORRENT_SORTS), "name"),
        order=query_enum("order", ("asc", "desc"), "asc"),
        page=query_int("page", 1, 1, 1_000_000) or 1,
        per_page=query_int("per_page", 50, 1, queries.MAX_PER_PAGE) or 50,
    )


def torrent_list(web: Web, name: str) -> dict[str, Any]:
    canonical = web.instance_name(name)
    query = torrent_query()
    return queries.torrents(web.db, canonical, query, str(web.config.settings["ProtectedTag"]))


def _hash(value: str) -> str:
    if not HASH_RE.match(value):
        raise WebError(404, "not a torrent hash (32-64 hex digits)")
    return value.lower()


def _protection(web: Web, name: str, torrent_hash: str, kind: str) -> dict[str, Any]:
    canonical = web.instance_name(name)
    h = _hash(torrent_hash)
    return writes.request_protection(web.db, canonical, h, kind)


def torrent_protect(web: Web, name: str, hash: str) -> dict[str, Any]:  # noqa: A002 - route arg
    return _protection(web, name, hash, "protect")


def torrent_unprotect(web: Web, name: str, hash: str) -> dict[str, Any]:  # noqa: A002
    return _protection(web, name, hash, "unprotect")


# -- journal ---------------------------------------------------------------------------------
def journal_query(web: Web) -> queries.JournalQuery:
    instance = query_str("instance", 200)
    return queries.JournalQuery(
        instance=web.instance_name(instance) if instance else None,
        rule=query_str("rule", 100),
        torrent=query_str("torrent", 300),
        action=query_str("action", 100),
        since=query_time("since"),
        until=query_time("until"),
        before_id=query_int("before_id", None, 1, 2**62),
        limit=query_int("limit", 50, 1, 500) or 50,
    )


def decisions(web: Web) -> dict[str, Any]:
    page = queries.decisions(web.db, journal_query(web))
    for item in page["items"]:
        item["reason"] = web.scrub(item["reason"])
    return page


def torrent_history(web: Web, hash: str) -> dict[str, Any]:  # noqa: A002
    found = queries.torrent_history(web.db, _hash(hash), str(web.config.settings["ProtectedTag"]))
    if found is None:
        raise WebError(404, f"no torrent {hash.lower()!r} in the database")
    for event in found["events"]:
        event["text"], event["detail"] = web.scrub(event["text"]), web.scrub(event["detail"])
    return found


# -- config ----------------------------------------------------------------------------------
def config_view(web: Web) -> dict[str, Any]:
    text = configedit.read_text(web.config_path)
    from qbarr.webui import initext

    return {
        "path": str(web.config_path),
        "editable": bool(web.webui["ConfigEditable"]),
        "base": configedit.digest(text),
        "text": initext.mask_text(text),
        "sections": configedit.form(text),
    }


def _edit_from_body(
    web: Web,
) -> tuple[str | None, list[configedit.Change] | None, str | None, bool]:
    body = json_body()
    unknown = set(body) - {"base", "text", "changes", "apply"}
    if unknown:
        raise WebError(400, f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    base, text, changes_raw, do_apply = (
        body.get("base"),
        body.get("text"),
        body.get("changes"),
        body.get("apply", True),
    )
    if "base" in body and (not isinstance(base, str) or len(base) > 64):
        raise WebError(400, "'base' must be a string of at most 64 characters")
    if text is not None and (not isinstance(text, str) or len(text) > 200_000):
        raise WebError(400, "'text' must be a string of at most 200000 characters")
    if isinstance(text, str) and not re.match(configedit.TEXT_PATTERN, text):
        raise WebError(400, "'text' cannot contain control characters other than tab and newline")
    if isinstance(changes_raw, list) and len(changes_raw) > 500:
        raise WebError(400, "at most 500 changes at once")
    if not isinstance(do_apply, bool):
        raise WebError(400, "'apply' must be true or false")
    if "changes" in body and not isinstance(changes_raw, list):
        raise WebError(400, "'changes' must be a list of {path, key, value}")
    if "text" in body and text is None:
        raise WebError(400, "'text' must be a string")
    if (text is None) == (changes_raw is None):
        raise WebError(400, "send either 'text' (the whole file) or 'changes' (a list of fields)")
    changes = None
    if changes_raw is not None:
        changes = [_change(c) for c in changes_raw]
        web.remember_secrets(
            [c.value for c in changes if c.value and c.key.lower() in qconfig.SECRET_KEYS]
        )
    if text is not None:
        web.remember_secrets(_secret_values_in(text))
    return base, changes, text, do_apply


def _secret_values_in(text: str) -> list[str]:
    from qbarr.webui import initext

    return [
        initext._unquote(k.value_text)
        for k in initext.key_lines(text.split("\n"))
        if k.key.lower() in qconfig.SECRET_KEYS
    ]


def _change(raw: Any) -> configedit.Change:
    if not isinstance(raw, dict) or set(raw) - {"path", "key", "value"}:
        raise WebError(400, "each change is an object {path: [section, ...], key, value}")
    path, key, value = raw.get("path"), raw.get("key"), raw.get("value")
    if (
        not isinstance(path, list)
        or not 0 < len(path) <= 8
        or not all(isinstance(p, str) and 0 < len(p) <= 200 for p in path)
    ):
        raise WebError(
            400, "'path' must be a list of 1 to 8 section names (at most 200 characters each)"
        )
    if not isinstance(key, str) or not 0 < len(key) <= 200:
        raise WebError(400, "'key' must be a string of 1 to 200 characters")
    if value is not None and (not isinstance(value, str) or len(value) > 10_000):
        raise WebError(400, "'value' must be null or a string of at most 10000 characters")
    if not all(re.match(configedit.NAME_PATTERN, name) for name in (*path, key)):
        raise WebError(
            400,
            "section and key names cannot contain [ ] = #, control characters or line "
            "breaks, nor start or end with a space",
        )
    return configedit.Change(tuple(path), key, value)


def _listen_check(web: Web) -> configedit.Check:
    return lambda cfg: listen.problems(web.config_path, cfg.webui, web.listening)


def _prepare(web: Web, base: str | None, changes: Any, text: str | None) -> configedit.Outcome:
    try:
        return configedit.prepare(web.config_path, base, changes, text, _listen_check(web))
    except configedit.EditRefused as exc:
        raise _refused(web, exc) from None


def _refused(web: Web, exc: configedit.EditRefused) -> WebError:
    problems = [{"field": p["field"], "message": web.scrub(p["message"])} for p in exc.problems]
    message = "the config edit was refused" + (": nothing was written" if exc.status == 422 else "")
    return WebError(exc.status, message, problems=problems)


def config_preview(web: Web) -> dict[str, Any]:
    base, changes, text, _ = _edit_from_body(web)
    outcome = _prepare(web, base, changes, text)
    return {
        "ok": not outcome.problems,
        "diff": web.scrub(outcome.diff),
        "problems": [
            {"field": p["field"], "message": web.scrub(p["message"])} for p in outcome.problems
        ],
    }


def config_save(web: Web) -> dict[str, Any]:
    base, changes, text, do_apply = _edit_from_body(web)
    if text is not None and not base:
        raise WebError(
            428,
            "saving the whole text needs 'base' (from GET /api/config): without it a save "
            "would overwrite whatever changed meanwhile",
        )
    return save_config(web, base, changes, text, do_apply)


NOT_EDITABLE = (
    "config.ini is managed outside qbarr ([WebUI] ConfigEditable = false): change it where it "
    "comes from (for Kubernetes, the qbarr-config Secret) and restart the programs"
)


def save_config(
    web: Web, base: str | None, changes: Any, text: str | None, do_apply: bool
) -> dict[str, Any]:
    if not web.webui["ConfigEditable"]:
        raise WebError(403, NOT_EDITABLE)
    try:
        done = configedit.save_edit(web.config_path, base, changes, text, _listen_check(web))
    except configedit.EditRefused as exc:
        raise _refused(web, exc) from None
    if done.backup is None and not done.outcome.diff:
        return {"saved": False, "backup": None, "diff": "", "applied": None}
    applied = None
    if do_apply and done.outcome.config is not None:
        applied = qapply.apply(web.home, web.supervisor_url, done.old, done.outcome.config)
        applied["errors"] = [web.scrub(e) for e in applied["errors"]]
    return {
        "saved": True,
        "backup": done.backup.name if done.backup else None,
        "diff": web.scrub(done.outcome.diff),
        "applied": applied,
    }


# -- health ----------------------------------------------------------------------------------
def health(web: Web) -> tuple[int, dict[str, Any]]:
    import qbarr

    try:
        web.db.execute("SELECT 1 FROM instances LIMIT 1").fetchall()
        db_ok = True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        db_ok = False
    try:
        web.supervisor.state()
        sup_ok = True
    except SupervisorError:
        sup_ok = False
    body = {
        "status": "ok" if db_ok else "degraded",
        "database": db_ok,
        "supervisor": sup_ok,
        "version": qbarr.__version__,
    }
    return (200 if db_ok else 503), body


PROGRAM = Param(
    "name", s("string", maxLength=200, pattern=r"^[^/]+$"), "path", "program (group:name or name)"
)
INSTANCE = Param(
    "name", s("string", maxLength=200, pattern=r"^[^/]+$"), "path", "instance name or slug"
)
HASH = Param("hash", s("string", pattern=r"^[0-9a-fA-F]{32,64}$"), "path", "torrent info hash")

# A handler of None: the route is served by the app itself (metrics, the OpenAPI document).
ROUTES: list[tuple[ApiRoute, Callable[..., Any] | None]] = [
    (
        ApiRoute(
            "GET",
            "/health",
            "Liveness: the database opens (supervisord reachability included)",
            "Health",
            public=True,
            errors=(503,),
            tags=("status",),
        ),
        health,
    ),
    (
        ApiRoute(
            "GET",
            "/metrics",
            "Prometheus metrics (text format)",
            None,
            content_type="text/plain",
            errors=(),
            tags=("status",),
        ),
        None,
    ),
    (
        ApiRoute("GET", "/api/openapi.json", "This document", None, public=True, tags=("status",)),
        None,
    ),
    (
        ApiRoute(
            "GET",
            "/api/session",
            "Who is logged in, and the CSRF token of this session",
            "Session",
            public=True,
            tags=("status",),
        ),
        session,
    ),
    (
        ApiRoute(
            "GET",
            "/api/overview",
            "Reachability, decisions per rule (24 h), imports and failures per hour",
            "Overview",
            tags=("status",),
        ),
        overview,
    ),
    (
        ApiRoute(
            "GET",
            "/api/programs",
            "Every supervisord program with its manager's heartbeat",
            "ProgramList",
            tags=("programs",),
        ),
        programs,
    ),
    (
        ApiRoute(
            "POST",
            "/api/programs/<name>/start",
            "Start a program",
            "ProgramAction",
            (PROGRAM,),
            errors=(404, 409, 502, 503),
            tags=("programs",),
        ),
        program_start,
    ),
    (
        ApiRoute(
            "POST",
            "/api/programs/<name>/stop",
            "Stop a program",
            "ProgramAction",
            (PROGRAM,),
            errors=(404, 409, 502, 503),
            tags=("programs",),
        ),
        program_stop,
    ),
    (
        ApiRoute(
            "POST",
            "/api/programs/<name>/restart",
            "Restart a program (stop, then start)",
            "ProgramAction",
            (PROGRAM,),
            errors=(404, 409, 502, 503),
            tags=("programs",),
        ),
        program_restart,
    ),
    (
        ApiRoute(
            "GET",
            "/api/programs/<name>/log",
            "Tail of a program's log; poll with the returned offset",
            "LogTail",
            (
                PROGRAM,
                Param("offset", s("integer", minimum=0, maximum=LOG_OFFSET_MAX)),
                Param("length", s("integer", minimum=1, maximum=LOG_MAX)),
                Param("q", s("string", maxLength=200), description="only lines containing this"),
            ),
            errors=(404, 409, 502, 503),
            tags=("programs",),
        ),
        program_log,
    ),
    (
        ApiRoute(
            "GET",
            "/api/instances",
            "Every Arr instance with its heartbeat and brake",
            "InstanceList",
            tags=("instances",),
        ),
        instance_list,
    ),
    (
        ApiRoute(
            "GET",
            "/api/instances/<name>",
            "One instance, with rule and state counts of its torrents",
            "InstanceDetail",
            (INSTANCE,),
            errors=(404,),
            tags=("instances",),
        ),
        instance_detail,
    ),
    (
        ApiRoute(
            "POST",
            "/api/instances/<name>/brake/release",
            "Release the brake of an instance",
            "BrakeRelease",
            (INSTANCE,),
            errors=(404,),
            tags=("instances",),
        ),
        brake_release,
    ),
    (
        ApiRoute(
            "POST",
            "/api/notifications/test",
            "Ask the notify program to send a test notification to every URL",
            "NotifyTest",
            errors=(409,),
            tags=("notifications",),
        ),
        notification_test,
    ),
    (
        ApiRoute(
            "GET",
            "/api/notifications/test/<request_id:int>",
            "The result of a test notification (done_at is null until the notify program sent)",
            "NotifyTest",
            (Param("request_id", s("integer", minimum=1), "path", "the id POST answered"),),
            errors=(404,),
            tags=("notifications",),
        ),
        notification_test_result,
    ),
    (
        ApiRoute(
            "GET",
            "/api/instances/<name>/torrents",
            "A page of an instance's torrents",
            "TorrentPage",
            (
                INSTANCE,
                Param("rule", s("string", maxLength=100)),
                Param("state", s("string", maxLength=100)),
                Param("q", s("string", maxLength=300), description="name contains, or exact hash"),
                Param("sort", s("string", enum=list(queries.TORRENT_SORTS))),
                Param("order", s("string", enum=["asc", "desc"])),
                Param("page", s("integer", minimum=1, maximum=1_000_000)),
                Param("per_page", s("integer", minimum=1, maximum=queries.MAX_PER_PAGE)),
            ),
            errors=(404,),
            tags=("instances",),
        ),
        torrent_list,
    ),
    (
        ApiRoute(
            "POST",
            "/api/instances/<name>/torrents/<hash>/protect",
            "Ask the manager to add the protected tag",
            "ProtectRequest",
            (INSTANCE, HASH),
            errors=(404,),
            tags=("instances",),
        ),
        torrent_protect,
    ),
    (
        ApiRoute(
            "POST",
            "/api/instances/<name>/torrents/<hash>/unprotect",
            "Ask the manager to remove the protected tag",
            "ProtectRequest",
            (INSTANCE, HASH),
            errors=(404,),
            tags=("instances",),
        ),
        torrent_unprotect,
    ),
    (
        ApiRoute(
            "GET",
            "/api/decisions",
            "The decision journal, newest first",
            "DecisionPage",
            (
                Param("instance", s("string", maxLength=200)),
                Param("rule", s("string", maxLength=100)),
                Param("torrent", s("string", maxLength=300), description="hash, or name contains"),
                Param(
                    "action",
                    s("string", maxLength=100),
                    description="decisions with an action of this kind",
                ),
                Param("since", s("number", minimum=0, maximum=1e11), description="Unix seconds"),
                Param("until", s("number", minimum=0, maximum=1e11), description="Unix seconds"),
                Param(
                    "before_id",
                    s("integer", minimum=1, maximum=2**62),
                    description="page: older than this id",
                ),
                Param("limit", s("integer", minimum=1, maximum=500)),
            ),
            errors=(404,),
            tags=("journal",),
        ),
        decisions,
    ),
    (
        ApiRoute(
            "GET",
            "/api/torrents/<hash>",
            "A torrent's full history (decisions, actions, searches)",
            "History",
            (HASH,),
            errors=(404,),
            tags=("journal",),
        ),
        torrent_history,
    ),
    (
        ApiRoute(
            "GET",
            "/api/config",
            "config.ini with secrets masked, and the edit form",
            "ConfigView",
            tags=("config",),
        ),
        config_view,
    ),
    (
        ApiRoute(
            "POST",
            "/api/config/preview",
            "Validate an edit and show its diff; writes nothing",
            "ConfigPreview",
            body="ConfigEdit",
            errors=(409, 422),
            tags=("config",),
        ),
        config_preview,
    ),
    (
        ApiRoute(
            "POST",
            "/api/config",
            "Validate, back up, save atomically and apply an edit",
            "ConfigSaved",
            body="ConfigEdit",
            errors=(403, 409, 422, 428),
            tags=("config",),
        ),
        config_save,
    ),
]


def now() -> float:
    return time.time()
