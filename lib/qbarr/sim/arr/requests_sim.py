"""Overseerr and Ombi simulators: request lists tied to the Arr simulators' libraries.

The requests point at media of the libraries the Radarr and Sonarr
simulators generate from the same --library / --missing-fraction /
--cutoff-fraction / --seed (generation is deterministic), through the same
TMDB/TVDB ids (`library.tmdb_id`, `library.tvdb_id`) and, for Overseerr,
`media.externalServiceId` = the Radarr movie id / Sonarr series id. With
--radarr-sim / --sonarr-sim the availability follows the running Arr
simulators (their /sim/library), so an import makes a request "available".

Overseerr subset (header X-Api-Key, else 403):
    GET /api/v1/status
    GET /api/v1/request?take&skip&filter&sort   filter: all|approved|available|pending|
        processing|unavailable|failed; sort: added|modified (as Overseerr's request.ts)
    GET /api/v1/request/{id}
Ombi subset (header ApiKey, else 401):
    GET /api/v1/Request/movie, /api/v1/Request/movie/total
    GET /api/v1/Request/tvlite, /api/v1/Request/tv/total
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bottle
import httpx

from qbarr.sim.arr.library import Library, generate, tmdb_id, tvdb_id
from qbarr.sim.arr.resources import iso

log = logging.getLogger("qbarr.sim.requests")
UTC = UTC
PENDING, APPROVED, DECLINED, FAILED = 1, 2, 3, 4
M_UNKNOWN, M_PENDING, M_PROCESSING, M_PARTIAL, M_AVAILABLE = 1, 2, 3, 4, 5


@dataclass
class Request:
    id: int
    media_type: str  # movie | tv
    arr_id: int  # Radarr movie id / Sonarr series id
    status: int
    is4k: bool
    created: datetime
    updated: datetime
    seasons: list[int] = field(default_factory=list)


class RequestBook:
    """The requests and the libraries they point into."""

    def __init__(
        self,
        movies: Library,
        series: Library,
        count: int,
        seed: int,
        approved: float = 0.6,
        declined: float = 0.15,
        four_k: float = 0.1,
    ) -> None:
        self.movies = movies
        self.series = series
        self.requests: list[Request] = []
        self.remote: dict[str, str] = {}
        self._remote_cache: dict[str, tuple[float, dict[int, bool]]] = {}
        self.lock = threading.Lock()
        rng = random.Random(f"requests:{seed}")
        start = datetime.now(UTC) - timedelta(days=60)
        missing = sorted(i.id for i in movies.wanted("missing", True))
        have = sorted(i.id for i in movies.items.values() if i.has_file)
        for number in range(1, count + 1):
            roll = rng.random()
            status = (
                APPROVED if roll < approved else DECLINED if roll < approved + declined else PENDING
            )
            created = start + timedelta(hours=number * 7)
            updated = created + timedelta(hours=rng.randint(0, 48))
            if rng.random() < 0.6 or not series.parents:
                pool = missing if (rng.random() < 0.8 and missing) else (have or missing)
                self.requests.append(
                    Request(
                        number,
                        "movie",
                        rng.choice(pool),
                        status,
                        rng.random() < four_k,
                        created,
                        updated,
                    )
                )
            else:
                series_id = rng.choice(sorted(series.parents))
                seasons = sorted({i.season for i in series.children(series_id) if i.season > 0})
                chosen = seasons[-rng.randint(1, len(seasons)) :] if seasons else [1]
                self.requests.append(
                    Request(
                        number,
                        "tv",
                        series_id,
                        status,
                        rng.random() < four_k,
                        created,
                        updated,
                        chosen,
                    )
                )

    # -- availability --------------------------------------------------------

    def _has_file(self, which: str, ids: list[int]) -> dict[int, bool]:
        """Item has_file, from the running Arr simulator when linked (cached 2 s)."""
        lib = self.movies if which == "radarr" else self.series
        local = {i: lib.items[i].has_file for i in ids if i in lib.items}
        url = self.remote.get(which)
        if not url or not ids:
            return local
        cached = self._remote_cache.get(which)
        if cached and time.monotonic() - cached[0] < 2.0 and all(i in cached[1] for i in ids):
            return cached[1]
        try:
            found = {}
            for start in range(0, len(ids), 500):
                chunk = ",".join(str(i) for i in ids[start : start + 500])
                data = httpx.get(f"{url}/sim/library", params={"ids": chunk}, timeout=5).json()
                found.update({int(k): bool(v["has_file"]) for k, v in data.items()})
            self._remote_cache[which] = (time.monotonic(), found)
            return found
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("cannot read %s simulator library: %s", which, exc)
            return local

    def media_status(self) -> dict[int, int]:
        """Request id -> media status (5 available, 4 partly, 3 processing, 2 pending)."""
        movie_ids = [r.arr_id for r in self.requests if r.media_type == "movie"]
        episodes = {
            r.id: [
                e.id
                for e in self.series.children(r.arr_id)
                if e.season in r.seasons and e.released <= datetime.now(UTC)
            ]
            for r in self.requests
            if r.media_type == "tv"
        }
        movies = self._has_file("radarr", movie_ids)
        tv = self._has_file("sonarr", sorted({e for ids in episodes.values() for e in ids}))
        out = {}
        for r in self.requests:
            if r.media_type == "movie":
                have = [movies.get(r.arr_id, False)]
            else:
                have = [tv.get(e, False) for e in episodes[r.id]] or [False]
            if all(have):
                out[r.id] = M_AVAILABLE
            elif any(have):
                out[r.id] = M_PARTIAL
            else:
                out[r.id] = M_PROCESSING if r.status == APPROVED else M_PENDING
        return out


# -- Overseerr -------------------------------------------------------------------


def overseerr_filter(name: str | None) -> tuple[set[int], set[int]]:
    """(request statuses, media statuses) of an Overseerr filter, as in its request route."""
    every_media = {M_UNKNOWN, M_PENDING, M_PROCESSING, M_PARTIAL, M_AVAILABLE}
    not_available = every_media - {M_AVAILABLE}
    return {
        "approved": ({APPROVED}, every_media),
        "processing": ({APPROVED}, not_available),
        "available": ({APPROVED}, {M_AVAILABLE}),
        "pending": ({PENDING}, every_media),
        "unavailable": ({PENDING, APPROVED}, not_available),
        "failed": ({FAILED}, every_media),
    }.get(name or "all", ({PENDING, APPROVED, DECLINED, FAILED}, every_media))


def overseerr_request(book: RequestBook, r: Request, media_status: int) -> dict[str, Any]:
    lib = book.movies if r.media_type == "movie" else book.series
    title = lib.items[r.arr_id].title if r.media_type == "movie" else lib.parents[r.arr_id].title
    user = {
        "id": 1,
        "email": "sim@example.invalid",
        "displayName": "Sim User",
        "userType": 1,
        "permissions": 2,
        "createdAt": iso(r.created),
        "updatedAt": iso(r.created),
        "requestCount": 1,
    }
    media = {
        "id": r.id,
        "mediaType": r.media_type,
        "tmdbId": tmdb_id("radarr" if r.media_type == "movie" else "sonarr", r.arr_id),
        "tvdbId": tvdb_id(r.arr_id) if r.media_type == "tv" else None,
        "imdbId": None,
        "status": M_UNKNOWN if r.is4k else media_status,
        "status4k": media_status if r.is4k else M_UNKNOWN,
        "createdAt": iso(r.created),
        "updatedAt": iso(r.updated),
        "lastSeasonChange": iso(r.created),
        "mediaAddedAt": iso(r.updated) if media_status == M_AVAILABLE else None,
        "serviceId": 0 if not r.is4k else None,
        "serviceId4k": 1 if r.is4k else None,
        "externalServiceId": r.arr_id if not r.is4k else None,
        "externalServiceId4k": r.arr_id if r.is4k else None,
        "externalServiceSlug": title.lower().replace(" ", "-"),
        "ratingKey": None,
    }
    return {
        "id": r.id,
        "status": r.status,
        "createdAt": iso(r.created),
        "updatedAt": iso(r.updated),
        "type": r.media_type,
        "is4k": r.is4k,
        "serverId": 1 if r.is4k else 0,
        "profileId": None,
        "rootFolder": None,
        "languageProfileId": None,
        "tags": [],
        "isAutoRequest": False,
        "media": media,
        "requestedBy": user,
        "modifiedBy": user if r.status != PENDING else None,
        "seasons": [
            {
                "id": r.id * 100 + s,
                "seasonNumber": s,
                "status": r.status,
                "createdAt": iso(r.created),
                "updatedAt": iso(r.updated),
            }
            for s in r.seasons
        ],
        "seasonCount": len(r.seasons),
    }


# -- Ombi ------------------------------------------------------------------------


def ombi_movie(book: RequestBook, r: Request, media_status: int) -> dict[str, Any]:
    item = book.movies.items[r.arr_id]
    available = media_status == M_AVAILABLE
    return {
        "id": r.id,
        "theMovieDbId": tmdb_id("radarr", r.arr_id),
        "imdbId": f"tt{9000000 + r.arr_id}",
        "title": item.title,
        "overview": "",
        "posterPath": None,
        "releaseDate": iso(item.released),
        "digitalReleaseDate": iso(item.released),
        "status": "Released",
        "approved": r.status == APPROVED and not r.is4k,
        "available": available and not r.is4k,
        "denied": r.status == DECLINED and not r.is4k,
        "deniedReason": None,
        "approved4K": r.status == APPROVED and r.is4k,
        "available4K": available and r.is4k,
        "denied4K": r.status == DECLINED and r.is4k,
        "is4kRequest": r.is4k,
        "has4KRequest": r.is4k,
        "requestedDate": iso(r.created),
        "requestedDate4k": iso(r.created) if r.is4k else None,
        "markedAsApproved": iso(r.updated) if r.status == APPROVED else None,
        "markedAsAvailable": iso(r.updated) if available else None,
        "markedAsDenied": iso(r.updated) if r.status == DECLINED else None,
        "requestType": 1,
        "requestedUserId": "sim-user",
        "requestedByAlias": None,
        "source": 2,
        "langCode": "en",
        "rootPathOverride": 0,
        "qualityOverride": 0,
        "subscribed": False,
        "canApprove": False,
        "requestStatus": _ombi_status(r, available),
    }


def ombi_tv(book: RequestBook, r: Request, media_status: int) -> dict[str, Any]:
    parent = book.series.parents[r.arr_id]
    episodes = book.series.children(r.arr_id)
    available = media_status == M_AVAILABLE
    seasons = [
        {
            "id": r.id * 100 + s,
            "seasonNumber": s,
            "childRequestId": r.id,
            "episodes": [
                {
                    "id": e.id,
                    "episodeNumber": e.number,
                    "title": e.title,
                    "airDate": iso(e.released),
                    "available": e.has_file,
                    "approved": r.status == APPROVED,
                    "requested": True,
                    "seasonId": r.id * 100 + s,
                }
                for e in episodes
                if e.season == s
            ],
        }
        for s in r.seasons
    ]
    child = {
        "id": r.id,
        "parentRequestId": r.id,
        "title": parent.title,
        "approved": r.status == APPROVED,
        "available": available,
        "denied": r.status == DECLINED,
        "deniedReason": None,
        "requestedDate": iso(r.created),
        "requestType": 0,
        "requestedUserId": "sim-user",
        "markedAsApproved": iso(r.updated) if r.status == APPROVED else None,
        "markedAsAvailable": iso(r.updated) if available else None,
        "markedAsDenied": iso(r.updated) if r.status == DECLINED else None,
        "seriesType": 0,
        "source": 2,
        "seasonRequests": seasons,
        "requestStatus": _ombi_status(r, available),
    }
    return {
        "id": r.id,
        "tvDbId": tvdb_id(r.arr_id),
        "externalProviderId": tmdb_id("sonarr", r.arr_id),
        "imdbId": None,
        "title": parent.title,
        "overview": "",
        "posterPath": None,
        "background": None,
        "releaseDate": iso(datetime(parent.year, 1, 1, tzinfo=UTC)),
        "status": "Ended" if parent.ended else "Continuing",
        "totalSeasons": len(r.seasons),
        "rootFolder": None,
        "qualityOverride": None,
        "languageProfile": None,
        "childRequests": [child],
    }


def _ombi_status(r: Request, available: bool) -> str:
    if available:
        return "Common.Available"
    return {APPROVED: "Common.ProcessingRequest", DECLINED: "Common.Denied"}.get(
        r.status, "Common.PendingApproval"
    )


# -- app ---------------------------------------------------------------------------


def build_requests_app(
    kind: str, book: RequestBook, api_key: str, calls: dict[str, int]
) -> bottle.Bottle:
    """The bottle app of an Overseerr (kind 'overseerr') or Ombi ('ombi') simulator."""
    app = bottle.Bottle()

    def respond(data: Any, status: int = 200) -> str:
        bottle.response.status = status
        bottle.response.content_type = "application/json; charset=utf-8"
        return json.dumps(data, separators=(",", ":"))

    def guarded(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        header = "X-Api-Key" if kind == "overseerr" else "ApiKey"

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def handler(*args: Any, **kwargs: Any) -> Any:
                calls[f"GET {path}"] = calls.get(f"GET {path}", 0) + 1
                given = bottle.request.headers.get(header) or ""
                if not hmac.compare_digest(given.encode(), api_key.encode()):
                    if kind == "overseerr":
                        return respond(
                            {"message": "You do not have permission to access this endpoint"}, 403
                        )
                    return bottle.HTTPResponse(status=401, body="")
                return fn(*args, **kwargs)

            app.route(path, "GET", handler)
            return handler

        return wrap

    if kind == "overseerr":

        @guarded("/api/v1/status")
        def status() -> str:
            return respond(
                {
                    "version": "1.34.0",
                    "commitTag": "qbarr-sim",
                    "updateAvailable": False,
                    "commitsBehind": 0,
                    "restartRequired": False,
                }
            )

        @guarded("/api/v1/request")
        def requests() -> Any:
            query = bottle.request.query
            try:
                take = int(query.get("take") or 10)
                skip = int(query.get("skip") or 0)
            except ValueError:
                return respond({"message": "take and skip must be numbers"}, 400)
            wanted_status, wanted_media = overseerr_filter(query.get("filter"))
            media_status = book.media_status()
            chosen = [
                r
                for r in book.requests
                if r.status in wanted_status and media_status[r.id] in wanted_media
            ]
            key = (lambda r: r.updated) if query.get("sort") == "modified" else (lambda r: r.id)
            chosen.sort(key=key, reverse=True)
            page = chosen[skip : skip + take]
            return respond(
                {
                    "pageInfo": {
                        "pages": -(-len(chosen) // take) if take else 0,
                        "pageSize": take,
                        "results": len(chosen),
                        "page": skip // take + 1 if take else 1,
                    },
                    "results": [overseerr_request(book, r, media_status[r.id]) for r in page],
                }
            )

        @guarded("/api/v1/request/<request_id:int>")
        def one_request(request_id: int) -> Any:
            found = [r for r in book.requests if r.id == request_id]
            if not found:
                return respond({"message": "Request not found."}, 404)
            return respond(overseerr_request(book, found[0], book.media_status()[request_id]))
    else:

        @guarded("/api/v1/Request/movie")
        def movies() -> str:
            status = book.media_status()
            return respond(
                [
                    ombi_movie(book, r, status[r.id])
                    for r in book.requests
                    if r.media_type == "movie"
                ]
            )

        @guarded("/api/v1/Request/movie/total")
        def movie_total() -> str:
            return respond(sum(1 for r in book.requests if r.media_type == "movie"))

        @guarded("/api/v1/Request/tvlite")
        def tv() -> str:
            status = book.media_status()
            return respond(
                [ombi_tv(book, r, status[r.id]) for r in book.requests if r.media_type == "tv"]
            )

        @guarded("/api/v1/Request/tv/total")
        def tv_total() -> str:
            return respond(sum(1 for r in book.requests if r.media_type == "tv"))

    @app.get("/sim/state")
    def state() -> str:
        status = book.media_status()
        return respond(
            {
                "kind": kind,
                "requests": len(book.requests),
                "by_status": {
                    str(s): sum(1 for r in book.requests if r.status == s)
                    for s in (PENDING, APPROVED, DECLINED, FAILED)
                },
                "available": sum(1 for v in status.values() if v == M_AVAILABLE),
                "api_calls": dict(calls),
                "linked": sorted(book.remote),
            }
        )

    @app.get("/sim/requests")
    def all_requests() -> str:
        status = book.media_status()
        return respond(
            [
                {
                    "id": r.id,
                    "type": r.media_type,
                    "arr_id": r.arr_id,
                    "status": r.status,
                    "is4k": r.is4k,
                    "seasons": r.seasons,
                    "media_status": status[r.id],
                    "tmdbId": tmdb_id("radarr" if r.media_type == "movie" else "sonarr", r.arr_id),
                    "tvdbId": tvdb_id(r.arr_id) if r.media_type == "tv" else None,
                }
                for r in book.requests
            ]
        )

    @app.error(404)
    def not_found(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json; charset=utf-8"
        return json.dumps({"message": "Not Found"})

    return app


def make_book(
    library: int,
    sonarr_library: int | None,
    missing_fraction: float,
    cutoff_fraction: float,
    seed: int,
    count: int,
) -> RequestBook:
    movies = generate("radarr", library, missing_fraction, cutoff_fraction, seed)
    series = generate("sonarr", sonarr_library or library, missing_fraction, cutoff_fraction, seed)
    return RequestBook(movies, series, count, seed)
