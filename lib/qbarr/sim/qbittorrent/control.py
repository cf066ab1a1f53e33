"""The unauthenticated control API under /sim/ (JSON in, JSON out).

GET    /sim/state                  summary: counts by state, sessions, seq, time, faults
GET    /sim/torrents/<hash>        one torrent's inner state and rendered fields
POST   /sim/torrents               add or modify torrents: a spec object or a list of specs
POST   /sim/torrents/<hash>        modify one torrent with a spec
DELETE /sim/torrents/<hash>        remove one torrent (as if deleted in qBittorrent)
GET    /sim/faults                 current fault settings and how many were injected
POST   /sim/faults                 set any of latency, jitter, error_rate, error_status,
                                   error_next, malformed_rate, malformed_next, hang, path
DELETE /sim/faults                 clear all faults
POST   /sim/sessions/drop          forget every login session (clients must log in again)
POST   /sim/restart                like restarting qBittorrent: sessions and sync state gone,
                                   session counters reset, every torrent checkingResumeData for
                                   a moment, real-data torrents whose files vanished -> missingFiles
POST   /sim/clock                  {"advance": seconds} jump forward; {"time_scale": x}
POST   /sim/server                 {"free_space_on_disk", "dl_rate_limit", "up_rate_limit",
                                    "connection_status"}
POST   /sim/scenario               generate torrents from a scenario object (see scenario.py)
POST   /sim/tick                   run one simulation step now (ignores the refresh interval)
GET    /sim/requests?since=T       the last 5,000 API requests after epoch T: at, method, path,
                                   agent (User-Agent), session (s1, s2, ... per login; never the
                                   cookie)
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import bottle

import qbarr.sim.qbittorrent.scenario as scenario

from .disk import restart_check
from .errors import HttpError
from .faults import Faults
from .store import Store


def _body() -> Any:
    try:
        return json.loads(bottle.request.body.read() or b"{}")
    except ValueError as exc:
        raise HttpError(400, "body is not JSON") from exc


def _json(value: Any, status: int = 200) -> str:
    bottle.response.status = status
    bottle.response.content_type = "application/json"
    return json.dumps(value)


def state(store: Store, faults: Faults) -> dict[str, Any]:
    by_state = Counter(t.out.get("state") for t in store.torrents.values())
    return {
        "api": store.api.name,
        "version": store.api.app,
        "webapi": store.api.webapi,
        "torrents": len(store.torrents),
        "by_state": dict(by_state),
        "categories": sorted(store.categories),
        "tags": sorted(store.tags),
        "sessions": len(store.sessions),
        "seq": store.seq,
        "ticks": store.ticks,
        "requests": store.requests,
        "live": len(store.live),
        "time": store.clock.now(),
        "time_scale": store.clock.scale,
        "free_space_on_disk": store.free_space(),
        "faults": faults.view(),
        **store.cost.view(),
    }


def requests_log(store: Store, since: float) -> dict[str, Any]:
    return {"requests": [r for r in store.cost.requests if r["at"] > since]}


def torrent_view(store: Store, h: str) -> dict[str, Any]:
    t = store.torrents.get(h.lower())
    if t is None:
        raise HttpError(404, "no such torrent")
    inner = {
        k: getattr(t, k)
        for k in (
            "paused",
            "queued",
            "forced",
            "error",
            "missing",
            "real_data",
            "has_metadata",
            "seeds",
            "leechs",
            "dl_rate",
            "ul_rate",
            "stall_at",
            "error_at",
            "meta_at",
            "checking_until",
            "resume_until",
            "moving_until",
        )
    }
    return {
        "hash": t.hash,
        "fields": dict(t.out),
        "inner": inner,
        "files": [
            {"path": f.path, "size": f.size, "priority": f.priority, "done": f.done}
            for f in t.files
        ],
    }


def upsert(store: Store, specs: list[dict[str, Any]]) -> list[str]:
    now = store.clock.now()
    store.bump()
    hashes = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise HttpError(400, "a torrent spec must be an object")
        t = store.torrents.get(str(spec.get("hash", "")).lower())
        try:
            if t is None:
                t = scenario.new_torrent(store, spec, now)
                store.insert(t, now)
            else:
                store.touch(t, now)
                scenario.apply_spec(store, t, spec, now)
                for tag in t.tags:
                    store.ensure_tag(tag)
                if t.category:
                    store.ensure_category(t.category, "")
                store.commit(t, now)
        except (KeyError, TypeError, ValueError) as exc:
            raise HttpError(400, f"bad torrent spec: {exc}") from exc
        hashes.append(t.hash)
    return hashes


def restart(store: Store) -> None:
    now = store.clock.now()
    store.drop_sessions()
    store.bump()
    store.totals["dl_info_data"] = store.totals["up_info_data"] = 0.0
    for t in store.torrents.values():
        store.touch(t, now)
        t.downloaded_session = t.uploaded_session = 0.0
        restart_check(t)
        t.resume_until = now + 0.5
        store.schedule(t, t.resume_until, "timer")
        store.commit(t, now)
    store.update_server_state(now)


def server(store: Store, body: dict[str, Any]) -> None:
    if "free_space_on_disk" in body:
        store.free_base, store.written = int(body["free_space_on_disk"]), 0.0
    if "dl_rate_limit" in body:
        store.dl_rate_limit = max(0, int(body["dl_rate_limit"]))
    if "up_rate_limit" in body:
        store.up_rate_limit = max(0, int(body["up_rate_limit"]))
    if "connection_status" in body:
        store.connection_status = str(body["connection_status"])
    store.bump()
    store.update_server_state(store.clock.now())


def install(app: bottle.Bottle, store: Store, faults: Faults) -> None:
    def guarded(fn):  # type: ignore[no-untyped-def]
        def handler(*args: Any, **kwargs: Any) -> str:
            try:
                with store.lock:
                    return _json(fn(*args, **kwargs))
            except HttpError as exc:
                return _json({"error": exc.body}, exc.status)
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)

        return handler

    def post_torrents() -> dict[str, Any]:
        body = _body()
        return {"hashes": upsert(store, body if isinstance(body, list) else [body])}

    def post_one(h: str) -> dict[str, Any]:
        return {"hashes": upsert(store, [{**_body(), "hash": h}])}

    def delete_one(h: str) -> dict[str, Any]:
        store.bump()
        if store.remove(h.lower()) is None:
            raise HttpError(404, "no such torrent")
        return {"removed": h.lower()}

    def clock() -> dict[str, Any]:
        body = _body()
        store.tick(force=True)
        if "advance" in body:
            store.clock.advance(float(body["advance"]))
        if "time_scale" in body:
            store.clock.set_scale(float(body["time_scale"]))
        store.tick(force=True)
        return {"time": store.clock.now(), "time_scale": store.clock.scale}

    def gen() -> dict[str, Any]:
        now = store.clock.now()
        store.bump()
        made = scenario.generate(store, _body(), now)
        for t in made:
            if t.hash not in store.torrents:
                store.insert(t, now)
        return {"added": len(made)}

    def clear_faults() -> dict[str, Any]:
        faults.reset()
        return faults.view()

    def post_restart() -> dict[str, Any]:
        restart(store)
        return {"restarted": True}

    def post_server() -> dict[str, Any]:
        server(store, _body())
        return dict(store.server_state)

    def post_tick() -> dict[str, Any]:
        store.tick(force=True)
        return {"seq": store.seq}

    routes = [
        ("/sim/state", "GET", lambda: state(store, faults)),
        ("/sim/torrents", "POST", post_torrents),
        ("/sim/torrents/<h>", "GET", lambda h: torrent_view(store, h)),
        ("/sim/torrents/<h>", "POST", post_one),
        ("/sim/torrents/<h>", "DELETE", delete_one),
        ("/sim/faults", "GET", faults.view),
        ("/sim/faults", "POST", lambda: faults.update(_body())),
        ("/sim/faults", "DELETE", clear_faults),
        ("/sim/sessions/drop", "POST", lambda: {"dropped": store.drop_sessions()}),
        ("/sim/restart", "POST", post_restart),
        ("/sim/clock", "POST", clock),
        ("/sim/server", "POST", post_server),
        ("/sim/scenario", "POST", gen),
        ("/sim/tick", "POST", post_tick),
        (
            "/sim/requests",
            "GET",
            lambda: requests_log(store, float(bottle.request.query.get("since") or 0)),
        ),
    ]
    for path, method, fn in routes:
        app.route(path, method=method, callback=guarded(fn))
