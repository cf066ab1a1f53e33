"""The bottle app of one Arr simulator: the documented API plus /sim/ control.

API routes answer with the field names, types and paging envelope of the
OpenAPI documents (checked by tests/contract/test_arr_contract.py); they need
the API key in `X-Api-Key` (or `?apikey=`), like the real Arrs. The control
routes live in `control.py`.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import bottle

from qbarr.sim.arr import downloads as dl
from qbarr.sim.arr import effects
from qbarr.sim.arr import resources as res
from qbarr.sim.arr.commands import CommandError
from qbarr.sim.arr.engine import SimArr
from qbarr.sim.arr.history import resource as history_resource
from qbarr.sim.arr.media_routes import add_media_routes
from qbarr.sim.arr.replies import as_json, dumps, fail, q_bool, q_int

UTC = UTC


def build_app(sim: SimArr, api_key: str) -> bottle.Bottle:
    """The API routes for sim.kind under /api/v3 (Radarr, Sonarr) or /api/v1 (Lidarr)."""
    app = bottle.Bottle()
    kind = sim.kind
    prefix = "/api/v1" if kind == "lidarr" else "/api/v3"
    lib = sim.lib

    def api(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def handler(*args: Any, **kwargs: Any) -> Any:
                sim.count_call(f"{method} {prefix}{path}")
                given = (
                    bottle.request.headers.get("X-Api-Key")
                    or bottle.request.query.get("apikey")
                    or ""
                )
                if not hmac.compare_digest(given.encode(), api_key.encode()):
                    return bottle.HTTPResponse(status=401, body="")
                return fn(*args, **kwargs)

            app.route(prefix + path, method, handler)
            return handler

        return wrap

    def now() -> datetime:
        return datetime.now(UTC)

    @api("GET", "/system/status")
    def system_status() -> str:
        return as_json(res.system_status(kind, bottle.request.environ.get("qbarr.url_base", "")))

    @api("GET", "/downloadclient")
    def download_clients() -> str:
        specs = sim.download_client_specs()
        return as_json([res.download_client(kind, i, s) for i, s in enumerate(specs, 1)])

    # -- queue ---------------------------------------------------------------

    @api("GET", "/queue")
    def queue() -> str:
        page, size = q_int("page", 1, 1), q_int("pageSize", 10, 1)
        sort_key = bottle.request.query.get("sortKey") or "timeleft"
        direction = bottle.request.query.get("sortDirection") or "ascending"
        unknown_flag = {
            "radarr": "includeUnknownMovieItems",
            "sonarr": "includeUnknownSeriesItems",
            "lidarr": "includeUnknownArtistItems",
        }[kind]
        records = sim.queue()
        if not q_bool(unknown_flag, False):
            field = {"radarr": "movieId", "sonarr": "episodeId", "lidarr": "albumId"}[kind]
            records = [r for r in records if r.get(field) is not None]
        ordered = dl.sort_records(records, sort_key, direction)
        chunk = [embed(dict(r)) for r in ordered[(page - 1) * size : page * size]]
        return as_json(res.paging(page, size, sort_key, direction, len(ordered), chunk))

    def embed(record: dict[str, Any]) -> dict[str, Any]:
        """includeMovie / includeSeries / includeEpisode / includeArtist / includeAlbum."""
        when = now()
        if kind == "radarr" and q_bool("includeMovie", False) and record.get("movieId"):
            record["movie"] = res.movie(lib, lib.items[record["movieId"]], when)
        if kind == "sonarr" and record.get("episodeId"):
            item = lib.items[record["episodeId"]]
            if q_bool("includeSeries", False):
                record["series"] = res.series(
                    lib, lib.parents[item.parent_id], when, with_stats=False
                )
            if q_bool("includeEpisode", False):
                record["episode"] = res.episode(lib, item, when)
        if kind == "lidarr" and record.get("albumId"):
            item = lib.items[record["albumId"]]
            if q_bool("includeArtist", False):
                record["artist"] = res.artist(lib, lib.parents[item.parent_id], when)
            if q_bool("includeAlbum", False):
                record["album"] = res.album(lib, item, when)
        return record

    @api("DELETE", "/queue/<item_id:int>")
    def delete_queue(item_id: int) -> Any:
        try:
            found = sim.delete_queue(
                item_id,
                q_bool("removeFromClient", True),
                q_bool("blocklist", False),
                q_bool("skipRedownload", False),
            )
        except Exception as exc:  # qBittorrent refused or is down: the Arr answers 500
            return fail(500, f"Failed to remove from download client: {type(exc).__name__}")
        if not found:
            return fail(404, "NotFound")
        bottle.response.status = 200
        return ""

    # -- commands ------------------------------------------------------------

    @api("POST", "/command")
    def post_command() -> Any:
        try:
            payload = json.loads(bottle.request.body.read() or b"null")
        except ValueError:
            return fail(400, "The request body is not valid JSON")
        try:
            command = sim.commands.create(
                payload, user_agent=bottle.request.headers.get("User-Agent")
            )
        except CommandError as exc:
            return fail(400, str(exc), exc.errors)
        # the real Arrs answer 201 Created (the documents list 200)
        return as_json(sim.commands.resource(command), status=201)

    @api("GET", "/command")
    def list_commands() -> str:
        return as_json([sim.commands.resource(c) for c in sim.commands.visible()])

    @api("GET", "/command/<command_id:int>")
    def get_command(command_id: int) -> Any:
        command = sim.commands.all.get(command_id)
        if command is None:
            return fail(404, "NotFound")
        return as_json(sim.commands.resource(command))

    @api("DELETE", "/command/<command_id:int>")
    def cancel_command(command_id: int) -> Any:
        if command_id not in sim.commands.all:
            return fail(404, "NotFound")
        sim.commands.cancel(command_id)
        return ""

    # -- wanted ----------------------------------------------------------------

    def wanted(which: str) -> str:
        page, size = q_int("page", 1, 1), q_int("pageSize", 10, 1)
        sort_key = bottle.request.query.get("sortKey")
        direction = bottle.request.query.get("sortDirection") or "default"
        total, items, used_key, used_dir = lib.page(
            which, q_bool("monitored", True), sort_key, direction, page, size
        )
        include = {
            "series": q_bool("includeSeries", False),
            "file": q_bool("includeEpisodeFile", False),
            "artist": q_bool("includeArtist", False),
        }
        when = now()
        records = [res.media(lib, item, when, **include) for item in items]
        return as_json(res.paging(page, size, sort_key or used_key, used_dir, total, records))

    @api("GET", "/wanted/missing")
    def wanted_missing() -> str:
        return wanted("missing")

    @api("GET", "/wanted/cutoff")
    def wanted_cutoff() -> str:
        return wanted("cutoff")

    # -- profiles, tags, blocklist -----------------------------------------------

    @api("GET", "/qualityprofile")
    def quality_profiles() -> str:
        return as_json(res.quality_profiles(kind))

    @api("GET", "/qualityprofile/<profile_id:int>")
    def quality_profile(profile_id: int) -> Any:
        found = [p for p in res.quality_profiles(kind) if p["id"] == profile_id]
        return as_json(found[0]) if found else fail(404, "NotFound")

    @api("GET", "/tag")
    def tags() -> str:
        return as_json(res.tags())

    @api("GET", "/tag/<tag_id:int>")
    def tag(tag_id: int) -> Any:
        found = [t for t in res.tags() if t["id"] == tag_id]
        return as_json(found[0]) if found else fail(404, "NotFound")

    @api("GET", "/blocklist")
    def blocklist() -> str:
        page, size = q_int("page", 1, 1), q_int("pageSize", 10, 1)
        direction = bottle.request.query.get("sortDirection") or "descending"
        with sim.lock:
            entries = sorted(
                sim.blocklist, key=lambda e: (e.date, e.id), reverse=direction != "ascending"
            )
            records = [
                effects.blocklist_resource(sim, e) for e in entries[(page - 1) * size : page * size]
            ]
        return as_json(
            res.paging(
                page,
                size,
                bottle.request.query.get("sortKey") or "date",
                direction,
                len(entries),
                records,
            )
        )

    @api("GET", "/history")
    def history() -> str:
        page, size = q_int("page", 1, 1), q_int("pageSize", 10, 1)
        direction = bottle.request.query.get("sortDirection") or "descending"
        download_id = bottle.request.query.get("downloadId") or None
        with sim.lock:
            events = sim.history.select(download_id, direction != "ascending")
            records = [history_resource(lib, e) for e in events[(page - 1) * size : page * size]]
        return as_json(
            res.paging(
                page, size, bottle.request.query.get("sortKey") or "date", direction,
                len(events), records,
            )
        )  # fmt: skip

    add_media_routes(app, api, sim, now)

    @app.error(404)
    @app.error(405)
    def not_found(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json; charset=utf-8"
        return dumps({"message": "NotFound"})

    @app.error(500)
    def server_error(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json; charset=utf-8"
        return dumps({"message": f"Internal error: {type(error.exception).__name__}"})

    return app


def with_url_base(app: Callable, url_base: str) -> Callable:
    """Serve the app below a URL base (/radarr), like the Arrs' UrlBase setting."""
    base = "/" + url_base.strip("/") if url_base.strip("/") else ""

    def wsgi(environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        environ["qbarr.url_base"] = base
        if base and (path == base or path.startswith(base + "/")):
            environ["PATH_INFO"] = path[len(base) :] or "/"
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + base
        return app(environ, start_response)

    return wsgi
