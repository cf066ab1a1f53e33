"""The /sim/ control API of the Arr simulators (no API key: tests and benches only).

GET    /sim/state             counts, qBittorrent link, commands summary, API calls per route
GET    /sim/commands          every command received (?name=, ?active=1)
POST   /sim/commands/hold     {"held": true}: commands neither start nor finish until
                              {"held": false} (a test decides when they run)
GET    /sim/blocklist         every blocklist entry with hash and media ids
GET    /sim/downloads         every download the Arr knows (hash, media, imported, removed...)
GET    /sim/library           library counts; ?ids=1,2 -> those items; ?wanted=missing|cutoff
                              [&monitored=false][&limit=N] -> wanted item ids
GET    /sim/faults            current fault settings
POST   /sim/faults            set faults (JSON, see faults.py); DELETE /sim/faults clears
POST   /sim/queue/fail        {"hash", "kind": "import"|"download", optional "state",
                               "status", "messages": [{"title","messages"}], "error"}
POST   /sim/queue/clear       {"hash"}: drop a scripted failure
POST   /sim/grab              {"ids": [media ids], "title"?}: grab a release now -> {"hash"}
POST   /sim/poll              read qBittorrent now (instead of waiting --poll-interval)
PUT    /sim/downloadclients  [{"host", "port", "category", "name"?, "enable"?, "useSsl"?,
                              "urlBase"?}]: what GET downloadclient lists (default: the
                              qBittorrent the simulator reads, with its category)
POST   /sim/library/file      {"ids": [media ids], "quality_id"?}: give items a file (as if
                              imported outside qbarr), so they leave wanted/missing
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from qbarr.sim.arr import effects
from qbarr.sim.arr.engine import SimArr
from qbarr.sim.arr.faults import Faults
from qbarr.sim.arr.replies import as_json, fail
from qbarr.sim.arr.resources import iso


def add_control_routes(app: bottle.Bottle, sim: SimArr, faults: Faults) -> None:

    def body() -> dict[str, Any]:
        try:
            data = json.loads(bottle.request.body.read() or b"{}")
        except ValueError:
            raise fail(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise fail(400, "body must be a JSON object")
        return data

    @app.put("/sim/downloadclients")
    def set_download_clients() -> str:
        try:
            data = json.loads(bottle.request.body.read() or b"[]")
        except ValueError:
            raise fail(400, "body is not JSON") from None
        if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
            raise fail(400, "body must be a JSON list of objects")
        with sim.lock:
            sim.download_clients = data
        return as_json({"download_clients": len(data)})

    @app.get("/sim/state")
    def state() -> str:
        return as_json({**sim.state(), "faults": faults.snapshot()})

    @app.get("/sim/commands")
    def commands() -> str:
        name = bottle.request.query.get("name")
        active = bottle.request.query.get("active") in ("1", "true")
        with sim.commands.lock:
            chosen = [
                c
                for c in sim.commands.all.values()
                if (not name or c.name == name) and (not active or c.active)
            ]
            records = [sim.commands.record(c) for c in chosen]
        return as_json({"commands": records, **sim.commands.summary()})

    @app.post("/sim/commands/hold")
    def hold_commands() -> str:
        held = body().get("held")
        if not isinstance(held, bool):
            raise fail(400, "held must be true or false")
        with sim.commands.lock:
            sim.commands.held = held
        return as_json({"held": held})

    @app.get("/sim/blocklist")
    def blocklist() -> str:
        with sim.lock:
            return as_json(
                [
                    {
                        "id": e.id,
                        "hash": e.download.hash,
                        "title": e.download.title,
                        "media_ids": list(e.download.media_ids),
                        "date": iso(e.date),
                        "message": e.message,
                    }
                    for e in sim.blocklist
                ]
            )

    @app.get("/sim/downloads")
    def downloads() -> str:
        with sim.lock:
            return as_json(
                [
                    {
                        "hash": d.hash,
                        "title": d.title,
                        "media_ids": list(d.media_ids),
                        "source": d.source,
                        "imported": d.imported,
                        "removed": d.removed,
                        "failure": d.failure,
                        "in_client": d.hash in sim.view.torrents,
                        "events": d.events,
                    }
                    for d in sim.downloads.values()
                ]
            )

    @app.get("/sim/library")
    def library() -> str:
        lib = sim.lib
        query = bottle.request.query
        if query.get("ids"):
            try:
                ids = [int(x) for x in query.get("ids").split(",") if x.strip()]
            except ValueError:
                return fail(400, "ids must be integers")
            return as_json(
                {
                    str(i): {
                        "id": i,
                        "parent_id": lib.items[i].parent_id,
                        "title": lib.items[i].title,
                        "has_file": lib.items[i].has_file,
                        "monitored": lib.effectively_monitored(lib.items[i]),
                        "cutoff_met": lib.cutoff_met(lib.items[i]),
                        "season": lib.items[i].season,
                        "last_search": iso(lib.items[i].last_search),
                    }
                    for i in ids
                    if i in lib.items
                }
            )
        if query.get("wanted") in ("missing", "cutoff"):
            monitored = query.get("monitored", "true") != "false"
            items = lib.wanted(query.get("wanted"), monitored)
            limit = int(query.get("limit") or len(items))
            return as_json({"total": len(items), "ids": sorted(i.id for i in items)[:limit]})
        return as_json({"kind": lib.kind, **lib.stats()})

    @app.get("/sim/faults")
    def get_faults() -> str:
        return as_json(faults.snapshot())

    @app.post("/sim/faults")
    def set_faults() -> Any:
        try:
            return as_json(faults.update(body()))
        except (ValueError, TypeError) as exc:
            return fail(400, str(exc))

    @app.delete("/sim/faults")
    def clear_faults() -> str:
        return as_json(faults.clear())

    @app.post("/sim/queue/fail")
    def fail_download() -> Any:
        data = body()
        which = data.get("kind", "import")
        if which not in ("import", "download") or not isinstance(data.get("hash"), str):
            return fail(400, "need hash and kind import|download")
        try:
            download = sim.script_failure(data["hash"], which, data)
        except KeyError:
            return fail(404, f"no download {data['hash']}")
        return as_json({"hash": download.hash, "failure": download.failure})

    @app.post("/sim/queue/clear")
    def clear_failure() -> Any:
        data = body()
        try:
            sim.clear_failure(str(data.get("hash", "")))
        except KeyError:
            return fail(404, "no such download")
        return as_json({"ok": True})

    @app.post("/sim/grab")
    def grab() -> Any:
        data = body()
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids or any(i not in sim.lib.items for i in ids):
            return fail(400, "ids must list existing media ids")
        try:
            download = effects.grab_now(sim, ids, data.get("title"))
        except Exception as exc:
            return fail(502, f"qBittorrent refused the grab: {type(exc).__name__}: {exc}")
        return as_json(
            {"hash": download.hash, "title": download.title, "media_ids": list(download.media_ids)}
        )

    @app.post("/sim/library/file")
    def give_files() -> Any:
        data = body()
        ids = data.get("ids")
        if not isinstance(ids, list) or any(i not in sim.lib.items for i in ids):
            return fail(400, "ids must list existing media ids")
        for item_id in ids:
            item = sim.lib.items[item_id]
            sim.lib.give_file(item_id, int(data.get("quality_id") or sim.lib.cutoff_of(item)))
        return as_json({"ids": ids})

    @app.post("/sim/poll")
    def poll() -> str:
        if sim.qbt is not None:
            sim.poll_once()
        return as_json({"torrents": len(sim.view.torrents), "error": sim.view.error})
