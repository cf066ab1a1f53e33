"""Minimal media lookups of the Arr simulators (GET by id, and small filtered lists).

Radarr: movie, movie/{id}. Sonarr: series, series/{id}, episode (seriesId,
seasonNumber, episodeIds), episode/{id}. Lidarr: artist, artist/{id}, album
(artistId, albumIds), album/{id}. Enough for a search program to look up what
a wanted record points at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import bottle

from qbarr.sim.arr import resources as res
from qbarr.sim.arr.engine import SimArr
from qbarr.sim.arr.replies import as_json, fail, q_bool, q_int, q_ints


def add_media_routes(
    app: bottle.Bottle, api: Callable, sim: SimArr, now: Callable[[], datetime]
) -> None:

    lib = sim.lib
    kind = sim.kind

    def item_or_404(item_id: int, render: Callable[[Any], dict[str, Any]]) -> Any:
        item = lib.items.get(item_id)
        return as_json(render(item)) if item is not None else fail(404, "NotFound")

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
