"""Minimal media lookups of the Arr simulators (GET by id, and small filtered lists).

Radarr: movie, movie/{id}. Sonarr: series, series/{id}, episode (seriesId,
seasonNumber, episodeIds), episode/{id}, episodefile (seriesId). Lidarr: artist,
artist/{id}, album (artistId, albumIds), album/{id}, trackfile (artistId). Enough for a
search program to look up what a wanted record points at and the custom-format score of
files. The editors (PUT movie/editor, series/editor, artist/editor) change the quality
profile, as a temporary-profile switch does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import bottle

from qbarr.sim.arr import resources as res
from qbarr.sim.arr.engine import SimArr
from qbarr.sim.arr.library import PROFILES
from qbarr.sim.arr.replies import as_json, fail, q_bool, q_int, q_ints


def add_media_routes(
    app: bottle.Bottle, api: Callable, sim: SimArr, now: Callable[[], datetime]
) -> None:

    lib = sim.lib
    kind = sim.kind

    def item_or_404(item_id: int, render: Callable[[Any], dict[str, Any]]) -> Any:
        item = lib.items.get(item_id)
        return as_json(render(item)) if item is not None else fail(404, "NotFound")

    def editor(ids_field: str) -> Any:
        """PUT <media>/editor {<ids_field>: [...], qualityProfileId}: the bulk profile change."""
        import json

        try:
            body = json.loads(bottle.request.body.read() or b"{}")
        except ValueError:
            return fail(400, "The request body is not valid JSON")
        ids = body.get(ids_field) if isinstance(body, dict) else None
        profile = body.get("qualityProfileId") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            return fail(400, f"'{ids_field}' must be a list of ids")
        if profile is not None:
            if profile not in PROFILES[kind]:
                return fail(400, f"QualityProfile with ID '{profile}' does not exist")
            lib.set_profile(ids, profile)
        bottle.response.status = 200
        return ""

    if kind == "radarr":

        @api("GET", "/movie")
        def movies() -> str:
            tmdb = q_int("tmdbId", 0)
            items = [
                i for i in lib.items.values() if not tmdb or res.tmdb_id("radarr", i.id) == tmdb
            ]
            when = now()
            return as_json([res.movie(lib, i, when) for i in items])

        @api("GET", "/movie/<item_id:int>")
        def movie(item_id: int) -> Any:
            return item_or_404(item_id, lambda i: res.movie(lib, i, now()))

        @api("PUT", "/movie/editor")
        def movie_editor() -> Any:
            return editor("movieIds")

    if kind == "sonarr":

        @api("GET", "/series")
        def all_series() -> str:
            tvdb = q_int("tvdbId", 0)
            when = now()
            return as_json(
                [
                    res.series(lib, p, when)
                    for p in lib.parents.values()
                    if not tvdb or res.tvdb_id(p.id) == tvdb
                ]
            )

        @api("GET", "/series/<series_id:int>")
        def one_series(series_id: int) -> Any:
            parent = lib.parents.get(series_id)
            return as_json(res.series(lib, parent, now())) if parent else fail(404, "NotFound")

        @api("GET", "/episode")
        def episodes() -> Any:
            ids = q_ints("episodeIds")
            series_id = q_int("seriesId", 0)
            if not ids and not series_id:
                return fail(400, "seriesId or episodeIds must be provided")
            season = bottle.request.query.get("seasonNumber")
            chosen = (
                [lib.items[i] for i in ids if i in lib.items] if ids else lib.children(series_id)
            )
            if season not in (None, ""):
                chosen = [i for i in chosen if str(i.season) == season]
            when = now()
            include_series = q_bool("includeSeries", False)
            return as_json(
                [
                    res.episode(lib, i, when, include_series, q_bool("includeEpisodeFile", False))
                    for i in sorted(chosen, key=lambda i: (i.season, i.number))
                ]
            )

        @api("GET", "/episode/<item_id:int>")
        def episode(item_id: int) -> Any:
            return item_or_404(item_id, lambda i: res.episode(lib, i, now(), True, True))

        @api("GET", "/episodefile")
        def episode_files() -> Any:
            series_id = q_int("seriesId", 0)
            if not series_id:
                return fail(400, "seriesId or episodeFileIds must be provided")
            found = [e for e in lib.children(series_id) if e.has_file]
            return as_json([res.episode_file(lib, e) for e in found])

        @api("PUT", "/series/editor")
        def series_editor() -> Any:
            return editor("seriesIds")

    if kind == "lidarr":

        @api("GET", "/artist")
        def artists() -> str:
            when = now()
            return as_json([res.artist(lib, p, when) for p in lib.parents.values()])

        @api("GET", "/artist/<artist_id:int>")
        def artist(artist_id: int) -> Any:
            parent = lib.parents.get(artist_id)
            return as_json(res.artist(lib, parent, now())) if parent else fail(404, "NotFound")

        @api("GET", "/album")
        def albums() -> str:
            ids = q_ints("albumIds")
            artist_id = q_int("artistId", 0)
            if ids:
                chosen = [lib.items[i] for i in ids if i in lib.items]
            elif artist_id:
                chosen = lib.children(artist_id)
            else:
                chosen = list(lib.items.values())
            when = now()
            return as_json([res.album(lib, i, when) for i in chosen])

        @api("GET", "/album/<item_id:int>")
        def album(item_id: int) -> Any:
            return item_or_404(item_id, lambda i: res.album(lib, i, now(), include_artist=True))

        @api("GET", "/trackfile")
        def track_files() -> Any:
            artist_id = q_int("artistId", 0)
            if not artist_id:
                return fail(400, "artistId, albumId or trackFileIds must be provided")
            found = [a for a in lib.children(artist_id) if a.has_file]
            return as_json([res.track_file(lib, a) for a in found])

        @api("PUT", "/artist/editor")
        def artist_editor() -> Any:
            return editor("artistIds")
