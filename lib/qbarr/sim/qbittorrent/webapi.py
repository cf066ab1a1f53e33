"""The /api/v2 routes: auth and sessions, dispatch, status codes per API version.

One dispatcher looks the method up in a table (so 4.x has pause/resume and 5.x
stop/start, and the other one is a plain 404), checks the session first (403
without one, like qBittorrent), then the HTTP method (405 on GET for POST-only
methods). Handlers run under the store lock and return plain Python values;
JSON encoding happens after the lock is released.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bottle

import qbarr.sim.qbittorrent.actions as actions
import qbarr.sim.qbittorrent.adding as adding
import qbarr.sim.qbittorrent.sync as sync
import qbarr.sim.qbittorrent.views as views

from .actions import resolve, split_tags
from .errors import HttpError
from .store import Session, Store

TEXT = "text/plain; charset=UTF-8"
JSON = "application/json"


@dataclass(frozen=True)
class Route:
    fn: Callable[[Store, dict[str, str], Session | None], Any]
    post_only: bool = False
    public: bool = False


class Reply:
    """A handler's answer when it is not plain JSON: text, or an explicit status."""

    def __init__(
        self,
        body: str = "",
        status: int = 200,
        ctype: str = TEXT,
        cookie: tuple[str, str] | None = None,
    ) -> None:
        self.body, self.status, self.ctype, self.cookie = body, status, ctype, cookie


def cookie_name(store: Store) -> str:
    return f"QBT_SID_{store.config.port}" if store.api.modern_auth else "SID"


def _need(params: dict[str, str], *names: str) -> None:
    for name in names:
        if name not in params:
            raise HttpError(400, "Bad Request")


def _float(params: dict[str, str], name: str) -> float:
    try:
        return float(params[name])
    except (KeyError, ValueError) as exc:
        raise HttpError(400, "Bad Request") from exc


# ---------------------------------------------------------------------- auth
def login(store: Store, p: dict[str, str], session: Session | None) -> Reply:
    cfg = store.config
    if cfg.ban_after and store.failed_logins >= cfg.ban_after:
        return Reply(
            "Your IP address has been banned after too many failed authentication attempts.", 403
        )
    ok = hmac.compare_digest(
        p.get("username", "").encode(), cfg.username.encode()
    ) and hmac.compare_digest(p.get("password", "").encode(), cfg.password.encode())
    if not ok:
        store.failed_logins += 1
        return Reply("Fails.", 401) if store.api.modern_auth else Reply("Fails.")
    store.failed_logins = 0
    existing = store.session(bottle.request.get_cookie(cookie_name(store)))
    cookie = None if existing else (cookie_name(store), store.new_session().sid)
    return Reply("", 204, cookie=cookie) if store.api.modern_auth else Reply("Ok.", cookie=cookie)


def logout(store: Store, p: dict[str, str], session: Session | None) -> None:
    if session is not None:
        store.sessions.pop(session.sid, None)


# ---------------------------------------------------------------------- app / transfer
def set_preferences(store: Store, p: dict[str, str], session: Session | None) -> None:
    try:
        changes = json.loads(p.get("json", "{}"))
    except ValueError as exc:
        raise HttpError(400, "Bad Request") from exc
    if not isinstance(changes, dict):
        raise HttpError(400, "Bad Request")
    store.prefs.update({k: v for k, v in changes.items() if k in store.prefs})
    store.bump()
    store.update_server_state(store.clock.now())


def transfer_info(store: Store, p: dict[str, str], session: Session | None) -> dict[str, Any]:
    s = store.server_state
    keys = [
        "connection_status",
        "dht_nodes",
        "dl_info_data",
        "dl_info_speed",
        "dl_rate_limit",
        "up_info_data",
        "up_info_speed",
        "up_rate_limit",
    ]
    if store.api.webapi_tuple >= (2, 11, 3):
        keys += ["last_external_address_v4", "last_external_address_v6"]
    return {k: s[k] for k in keys}


def set_limit(kind: str) -> Callable[[Store, dict[str, str], Session | None], None]:
    def handler(store: Store, p: dict[str, str], session: Session | None) -> None:
        setattr(store, kind, max(0, int(_float(p, "limit"))))
        store.bump()
        store.update_server_state(store.clock.now())

    return handler


# ---------------------------------------------------------------------- torrents
def maindata(store: Store, p: dict[str, str], session: Session | None) -> dict[str, Any]:
    try:
        rid = int(p.get("rid", "0"))
    except ValueError:
        rid = 0  # QString::toInt of garbage is 0: a full update
    assert session is not None
    return sync.maindata(store, session, rid)


def one_hash(fn: Callable[..., Any]) -> Callable[[Store, dict[str, str], Session | None], Any]:
    def handler(store: Store, p: dict[str, str], session: Session | None) -> Any:
        return fn(store, actions.one(store, p.get("hash", "")))

    return handler


def each(fn: Callable[..., Any]) -> Callable[[Store, dict[str, str], Session | None], None]:
    def handler(store: Store, p: dict[str, str], session: Session | None) -> None:
        _need(p, "hashes")
        fn(store, resolve(store, p["hashes"]))

    return handler


def delete(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hashes", "deleteFiles")
    actions.delete(store, resolve(store, p["hashes"]), p["deleteFiles"].lower() == "true")


def set_category(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hashes", "category")
    actions.set_category(store, resolve(store, p["hashes"]), p["category"])


def create_category(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "category")
    actions.create_category(store, p["category"].strip(), p.get("savePath", ""))


def edit_category(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "category", "savePath")
    actions.edit_category(store, p["category"], p["savePath"])


def remove_categories(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "categories")
    actions.remove_categories(store, [c for c in p["categories"].split("\n") if c])


def tags_of(fn: Callable[..., None], with_hashes: bool = True):  # type: ignore[no-untyped-def]
    def handler(store: Store, p: dict[str, str], session: Session | None) -> None:
        tags = split_tags(p.get("tags", ""))
        if with_hashes:
            _need(p, "hashes")
            fn(store, resolve(store, p["hashes"]), tags)
        else:
            fn(store, tags)

    return handler


def set_tags(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hashes")
    torrents, tags = resolve(store, p["hashes"]), split_tags(p.get("tags", ""))
    actions.remove_tags(store, torrents, [])
    actions.add_tags(store, torrents, tags)


def file_prio(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hash", "id", "priority")
    actions.file_prio(store, actions.one(store, p["hash"]), p["id"], p["priority"])


def share_limits(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hashes", "ratioLimit", "seedingTimeLimit")
    inactive = action = None
    if store.api.needs_inactive_limit:
        _need(p, "inactiveSeedingTimeLimit")
        inactive = int(_float(p, "inactiveSeedingTimeLimit"))
    if store.api.needs_share_limit_action:
        _need(p, "shareLimitAction")
        action = p["shareLimitAction"]
    actions.set_share_limits(
        store,
        resolve(store, p["hashes"]),
        _float(p, "ratioLimit"),
        int(_float(p, "seedingTimeLimit")),
        inactive,
        action,
    )


def force_start(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hashes", "value")
    actions.set_force_start(store, resolve(store, p["hashes"]), p["value"].lower() == "true")


def set_location(store: Store, p: dict[str, str], session: Session | None) -> None:
    _need(p, "hashes", "location")
    actions.set_location(store, resolve(store, p["hashes"]), p["location"])


def add(store: Store, p: dict[str, str], session: Session | None) -> Reply | dict[str, Any]:
    urls = [u.strip() for u in p.get("urls", "").splitlines() if u.strip()]
    blobs = [
        (f.raw_filename or "torrent", f.file.read())
        for f in bottle.request.files.getall("torrents")
    ]
    if not urls and not blobs:
        return Reply("Fails.") if not store.api.modern_auth else Reply("Fails.", 400)
    result = adding.add(store, urls, blobs, p)
    if not store.api.modern_auth:
        return Reply("Ok." if result.added or result.pending else "Fails.")
    body = {
        "success_count": len(result.added),
        "failure_count": result.failed,
        "pending_count": result.pending,
        "added_torrent_ids": result.added,
    }
    status = 202 if result.pending else (409 if not result.added else 200)
    return Reply(json.dumps(body), status, JSON)


def _const(value: Any) -> Callable[[Store, dict[str, str], Session | None], Any]:
    return lambda store, p, s: value(store) if callable(value) else value


def routes(store: Store) -> dict[str, Route]:
    """The method table for this API version."""
    api = store.api
    table: dict[str, Route] = {
        "auth/login": Route(login, post_only=True, public=True),
        "auth/logout": Route(logout, post_only=True),
        "app/version": Route(_const(lambda s: Reply(s.api.app))),
        "app/webapiVersion": Route(_const(lambda s: Reply(s.api.webapi))),
        "app/buildInfo": Route(
            _const(
                {
                    "bitness": 64,
                    "boost": "1.74.0",
                    "libtorrent": "2.0.8.0",
                    "openssl": "3.0.11",
                    "qt": "5.15.8",
                    "zlib": "1.2.13",
                }
            )
        ),
        "app/preferences": Route(_const(lambda s: dict(s.prefs))),
        "app/setPreferences": Route(set_preferences, post_only=True),
        "app/defaultSavePath": Route(_const(lambda s: Reply(s.prefs["save_path"]))),
        "transfer/info": Route(transfer_info),
        "transfer/downloadLimit": Route(_const(lambda s: Reply(str(s.dl_rate_limit)))),
        "transfer/uploadLimit": Route(_const(lambda s: Reply(str(s.up_rate_limit)))),
        "transfer/setDownloadLimit": Route(set_limit("dl_rate_limit"), post_only=True),
        "transfer/setUploadLimit": Route(set_limit("up_rate_limit"), post_only=True),
        "sync/maindata": Route(maindata),
        "torrents/info": Route(lambda s, p, _: views.torrents_info(s, p)),
        "torrents/properties": Route(one_hash(views.properties)),
        "torrents/files": Route(one_hash(views.files)),
        "torrents/trackers": Route(one_hash(views.trackers)),
        "torrents/categories": Route(
            _const(lambda s: {n: dict(c) for n, c in s.categories.items()})
        ),
        "torrents/tags": Route(_const(lambda s: list(s.tags))),
        "torrents/add": Route(add, post_only=True),
        "torrents/delete": Route(delete, post_only=True),
        "torrents/recheck": Route(each(actions.recheck), post_only=True),
        "torrents/reannounce": Route(each(actions.reannounce), post_only=True),
        "torrents/setCategory": Route(set_category, post_only=True),
        "torrents/createCategory": Route(create_category, post_only=True),
        "torrents/editCategory": Route(edit_category, post_only=True),
        "torrents/removeCategories": Route(remove_categories, post_only=True),
        "torrents/addTags": Route(tags_of(actions.add_tags), post_only=True),
        "torrents/removeTags": Route(tags_of(actions.remove_tags), post_only=True),
        "torrents/createTags": Route(tags_of(actions.create_tags, False), post_only=True),
        "torrents/deleteTags": Route(tags_of(actions.delete_tags, False), post_only=True),
        "torrents/filePrio": Route(file_prio, post_only=True),
        "torrents/setShareLimits": Route(share_limits, post_only=True),
        "torrents/setForceStart": Route(force_start, post_only=True),
        "torrents/setLocation": Route(set_location, post_only=True),
    }
    stop, start = (
        ("torrents/stop", "torrents/start") if api.v5 else ("torrents/pause", "torrents/resume")
    )
    table[stop] = Route(each(actions.pause), post_only=True)
    table[start] = Route(each(actions.resume), post_only=True)
    if api.v5:
        table["torrents/count"] = Route(_const(lambda s: Reply(str(len(s.torrents)))))
    if api.webapi_tuple >= (2, 11, 3):
        table["torrents/setTags"] = Route(set_tags, post_only=True)
    return table


def authenticate(store: Store) -> Session:
    """Bearer API key (5.2 mode) or the session cookie; else 401/403 like qBittorrent."""
    key = store.config.api_key
    header = bottle.request.get_header("Authorization", "")
    if store.api.modern_auth and key and header.startswith("Bearer "):
        if hmac.compare_digest(header[7:].encode(), key.encode()):
            return store.api_key_session()
        raise HttpError(401, "Unauthorized")
    session = store.session(bottle.request.get_cookie(cookie_name(store)))
    if session is None:
        raise HttpError(403, "Forbidden")
    return session


def install(app: bottle.Bottle, store: Store) -> None:
    """Mount /api/v2/<scope>/<method> on app."""
    table = routes(store)
    missing = "Endpoint does not exist" if store.api.modern_auth else "Not Found"

    @app.route("/api/v2/<scope>/<method>", method=["GET", "POST"])
    def dispatch(scope: str, method: str) -> Any:
        params = {k: v for k, v in bottle.request.params.decode().items()}
        try:
            with store.lock:
                store.requests += 1
                store.tick()
                route = table.get(f"{scope}/{method}")
                session = None
                if route is None or not route.public:
                    session = authenticate(store)
                if route is None:
                    raise HttpError(404, missing)
                if route.post_only and bottle.request.method != "POST":
                    raise HttpError(405, "Method Not Allowed")
                result = route.fn(store, params, session)
                store.cost.record(
                    f"{scope}/{method}",
                    bottle.request.method,
                    bottle.request.get_header("User-Agent", ""),
                    session.label if session is not None else "-",
                )
        except HttpError as exc:
            return _reply(Reply(exc.body, exc.status))
        if isinstance(result, Reply):
            return _reply(result)
        if result is None:
            return _reply(Reply("", 204 if store.api.modern_auth else 200))
        return _reply(Reply(json.dumps(result, separators=(",", ":")), 200, JSON))


def _reply(reply: Reply) -> str:
    bottle.response.status = reply.status
    bottle.response.content_type = reply.ctype
    if reply.cookie:
        name, value = reply.cookie
        bottle.response.set_cookie(name, value, path="/", httponly=True, samesite="Strict")
    return reply.body if reply.status != 204 else ""
