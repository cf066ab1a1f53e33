"""The OpenAPI 3 document of the JSON API, built from the same route table that registers
the routes (:data:`ROUTES`), so the document cannot list a route that does not exist or
miss one that does (a test compares it with the app's routes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import qbarr
from qbarr.webui.configedit import NAME_PATTERN, TEXT_PATTERN, VALUE_PATTERN


def s(type_: str, nullable: bool = False, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, **kw}
    if nullable:
        out["nullable"] = True
    return out


def obj(
    props: dict[str, Any], required: list[str] | None = None, extra: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    needed = list(props) if required is None else required
    if needed:  # OpenAPI 3.0 forbids an empty "required"
        out["required"] = needed
    if not extra:
        out["additionalProperties"] = False
    return out


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


NUM, NNUM, INT, NINT, STR, NSTR, BOOL = (
    s("number"),
    s("number", True),
    s("integer"),
    s("integer", True),
    s("string"),
    s("string", True),
    s("boolean"),
)
NBOOL = s("boolean", True)
FREE = {"type": "object", "additionalProperties": True}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": STR, "problems": arr(ref("Problem"))}, required=["error"]),
    "Problem": obj({"field": NSTR, "message": STR}),
    "Health": obj(
        {
            "status": s("string", enum=["ok", "degraded"]),
            "database": BOOL,
            "supervisor": BOOL,
            "version": STR,
        }
    ),
    "Session": obj({"authenticated": BOOL, "auth_disabled": BOOL, "csrf": NSTR}),
    "ManagerStatus": obj(
        {
            "name": STR,
            "status": NSTR,
            "heartbeat_age": NNUM,
            "cycle_s": NNUM,
            "cycles": NINT,
            "last_error": NSTR,
            "last_error_at": NNUM,
            "brake_engaged": BOOL,
            "brake_reason": NSTR,
            "brake_at": NNUM,
        }
    ),
    "Crash": obj({"event": STR, "at": NUM, "pid": NINT, "from_state": NSTR, "detail": NSTR}),
    "Program": obj(
        {
            "name": STR,
            "group": STR,
            "state": STR,
            "pid": NINT,
            "uptime": NNUM,
            "uptime_text": s("string", description="uptime as the pages show it (qbarr.units)"),
            "description": STR,
            "exitstatus": NINT,
            "spawnerr": STR,
            "restarts": INT,
            "last_crash": {**ref("Crash"), "nullable": True},
            "instance": {**ref("ManagerStatus"), "nullable": True},
        }
    ),
    "ProgramList": obj(
        {"items": arr(ref("Program")), "supervisor": obj({"ok": BOOL, "error": NSTR})}
    ),
    "ProgramAction": obj(
        {
            "program": STR,
            "done": s("string", enum=["start", "stop", "restart"]),
            "pid": NINT,
            "state": STR,
        }
    ),
    "LogTail": obj({"program": STR, "text": STR, "offset": INT, "overflow": BOOL}),
    "Instance": obj(
        {
            "name": STR,
            "kind": STR,
            "program": STR,
            "configured": BOOL,
            "status": NSTR,
            "pid": NINT,
            "started_at": NNUM,
            "heartbeat_at": NNUM,
            "heartbeat_age": NNUM,
            "cycles": INT,
            "cycle_s": NNUM,
            "counts": FREE,
            "torrents": INT,
            "qbt_ok": NBOOL,
            "arr_ok": NBOOL,
            "last_error": NSTR,
            "last_error_at": NNUM,
            "brake_engaged": BOOL,
            "brake_reason": NSTR,
            "brake_at": NNUM,
            "brake_released_at": NNUM,
            "stats": FREE,
        }
    ),
    "InstanceList": obj({"items": arr(ref("Instance"))}),
    "InstanceDetail": obj(
        {
            "instance": ref("Instance"),
            "facets": obj({"rules": COUNTS, "states": COUNTS}),
            "pending_requests": INT,
        }
    ),
    "NotifyTest": obj({"id": INT, "created_at": NUM, "done_at": NNUM, "result": NSTR}),
    "BrakeRelease": obj({"instance": STR, "was_engaged": BOOL, "released_at": NUM}),
    "Torrent": obj(
        {
            "hash": STR,
            "name": STR,
            "state": NSTR,
            "progress": NNUM,
            "ratio": NNUM,
            "seeding_time": NNUM,
            "size": NINT,
            "category": NSTR,
            "tags": arr(STR),
            "last_rule": NSTR,
            "last_reason": NSTR,
            "last_decided_at": NNUM,
            "first_seen": NUM,
            "added_on": NNUM,
            "protected": BOOL,
            "rule_words": STR,
            "pending_request": NSTR,
        }
    ),
    "TorrentPage": obj({"items": arr(ref("Torrent")), "total": INT, "page": INT, "per_page": INT}),
    "ProtectRequest": obj(
        {
            "id": INT,
            "instance": STR,
            "hash": STR,
            "kind": s("string", enum=["protect", "unprotect"]),
            "created_at": NUM,
        }
    ),
    "Action": obj(
        {
            "id": INT,
            "decision_id": NINT,
            "instance": STR,
            "hash": STR,
            "kind": STR,
            "status": STR,
            "attempts": INT,
            "result": NSTR,
            "destructive": BOOL,
            "params": FREE,
            "created_at": NUM,
            "updated_at": NUM,
        }
    ),
    "Decision": obj(
        {
            "id": INT,
            "instance": STR,
            "hash": STR,
            "name": STR,
            "rule": STR,
            "code": NSTR,  # NULL for the search program's profile switches
            "reason": STR,
            "inputs": FREE,
            "dry_run": BOOL,
            "at": NUM,
            "rule_words": STR,
            "actions": arr(ref("Action")),
        }
    ),
    "DecisionPage": obj({"items": arr(ref("Decision")), "next_before_id": NINT}),
    "Event": obj(
        {
            "id": s("integer", description="row id of the decision, action, search or request"),
            "at": NUM,
            "type": s("string", enum=["decision", "action", "search", "request"]),
            "instance": STR,
            "rule": NSTR,
            "text": STR,
            "detail": STR,
            "dry_run": BOOL,
        }
    ),
    "History": obj(
        {
            "hash": STR,
            "name": STR,
            "torrents": arr({"allOf": [ref("Torrent"), obj({"instance": STR, "gone_at": NNUM})]}),
            "events": arr(ref("Event")),
        }
    ),
    "Overview": obj(
        {
            "instances": arr(
                obj(
                    {
                        "name": STR,
                        "kind": STR,
                        "program": STR,
                        "client": NSTR,
                        "status": NSTR,
                        "qbt_ok": NBOOL,
                        "arr_ok": NBOOL,
                        "heartbeat_age": NNUM,
                        "torrents": INT,
                        "brake_engaged": BOOL,
                        "last_error": NSTR,
                        "last_error_at": NNUM,
                        "waiting": NSTR,
                    }
                )
            ),
            "clients": arr(
                obj(
                    {
                        "client": STR,
                        "version": NSTR,
                        "reader": NSTR,
                        "reader_pid": NINT,
                        "up": BOOL,
                        "polls": INT,
                        "pace": NSTR,
                        "polled_age": NNUM,
                        "error": NSTR,
                        "error_age": NNUM,
                        "torrents": INT,
                    }
                )
            ),
            "rules_24h": COUNTS,
            "hourly": arr(
                obj(
                    {
                        "hour": INT,
                        "imports": INT,
                        "failures": INT,
                        "decisions": INT,
                        "action_errors": INT,
                    }
                )
            ),
        }
    ),
    "ConfigField": obj(
        {
            "id": STR,
            "path": arr(STR),
            "key": STR,
            "present": BOOL,
            "value": NSTR,
            "default": STR,
            "check": STR,
            "secret": BOOL,
            "list": BOOL,
        }
    ),
    "ConfigView": obj(
        {
            "path": STR,
            "editable": BOOL,
            "base": STR,
            "text": STR,
            "sections": arr(
                obj({"path": arr(STR), "title": STR, "fields": arr(ref("ConfigField"))})
            ),
        }
    ),
    "ConfigChange": obj(
        {
            "path": {
                **arr(s("string", minLength=1, maxLength=200, pattern=NAME_PATTERN)),
                "minItems": 1,
                "maxItems": 8,
            },
            "key": s("string", minLength=1, maxLength=200, pattern=NAME_PATTERN),
            "value": s("string", True, maxLength=10000, pattern=VALUE_PATTERN),
        },
        required=["path", "key"],
        extra=False,
    ),
    "ConfigEdit": {
        "oneOf": [
            obj(
                {
                    "base": s("string", maxLength=64),
                    "text": s("string", maxLength=200000, pattern=TEXT_PATTERN),
                    "apply": BOOL,
                },
                required=["text"],
                extra=False,
            ),
            obj(
                {
                    "base": s("string", maxLength=64),
                    "changes": {**arr(ref("ConfigChange")), "maxItems": 500},
                    "apply": BOOL,
                },
                required=["changes"],
                extra=False,
            ),
        ]
    },
    "ConfigPreview": obj({"ok": BOOL, "diff": STR, "problems": arr(ref("Problem"))}),
    "ConfigSaved": obj(
        {"saved": BOOL, "backup": NSTR, "diff": STR, "applied": {**FREE, "nullable": True}}
    ),
}


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    where: str = "query"
    description: str = ""


@dataclass(frozen=True)
class ApiRoute:
    """One documented route: method, bottle path, summary, params, body and answers."""

    method: str
    path: str
    summary: str
    response: str | None
    params: tuple[Param, ...] = ()
    body: str | None = None
    errors: tuple[int, ...] = ()
    public: bool = False
    content_type: str = "application/json"
    tags: tuple[str, ...] = field(default=())

    @property
    def openapi_path(self) -> str:
        out = self.path
        while "<" in out:
            start, end = out.index("<"), out.index(">")
            name = out[start + 1 : end].split(":")[0]
            out = out[:start] + "{" + name + "}" + out[end + 1 :]
        return out


ERROR_TEXT = {
    400: "Bad request (bad JSON, bad parameter)",
    401: "Authentication required",
    403: "CSRF token missing or wrong",
    404: "Not found (unknown instance, program or torrent)",
    409: "Conflict (wrong program state, config changed meanwhile)",
    413: "Request body too large",
    422: "The config edit is invalid: nothing was written",
    428: "Precondition required (saving the whole text needs the base it was edited from)",
    429: "Too many attempts",
    502: "supervisord refused the call",
    503: "supervisord or the database is unreachable",
}


def document(routes: list[ApiRoute]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": _op_id(route),
            "responses": {},
        }
        if route.tags:
            op["tags"] = list(route.tags)
        params = [_param(p) for p in route.params]
        if params:
            op["parameters"] = params
        if route.body:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(route.body)}},
            }
        ok = "200"
        if route.content_type == "application/json":
            schema = ref(route.response) if route.response else {"type": "object"}
            op["responses"][ok] = {
                "description": "OK",
                "content": {"application/json": {"schema": schema}},
            }
        else:
            op["responses"][ok] = {
                "description": "OK",
                "content": {route.content_type: {"schema": STR}},
            }
        codes = (
            set(route.errors)
            | ({401} if not route.public else set())
            | ({400} if route.params else set())
        )
        if route.method == "POST":
            codes |= {400, 413} | (set() if route.public else {403})
        for code in sorted(codes):
            op["responses"][str(code)] = {
                "description": ERROR_TEXT[code],
                "content": {"application/json": {"schema": ref("Error")}},
            }
        if not route.public:
            op["security"] = [{"bearer": []}, {"session": []}]
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "qbarr web UI API",
            "version": qbarr.__version__,
            "description": "Everything the qbarr web UI shows and does. Authenticate with "
            "`Authorization: Bearer <[WebUI] Token>`; a browser session also "
            "needs the `X-CSRF-Token` header (from /api/session) for POSTs.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "qbarr_session"},
            },
        },
    }


def _param(p: Param) -> dict[str, Any]:
    out = {"name": p.name, "in": p.where, "required": p.where == "path", "schema": p.schema}
    if p.description:
        out["description"] = p.description
    return out


def _op_id(route: ApiRoute) -> str:
    words = [
        w
        for w in route.openapi_path.replace("{", "").replace("}", "").split("/")
        if w and w != "api"
    ]
    return (
        route.method.lower() + "_" + "_".join(w.replace(".", "_").replace("-", "_") for w in words)
    )
