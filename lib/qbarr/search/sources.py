"""Request sources: Overseerr and Ombi (httpx), reduced to RequestItems.

Only what is needed: approved (``ApprovedOnly``), not yet available requests, split by
4K (``Is4K``), with the TMDB id of a movie or the TVDB id of a series. The filtering
is pure (:func:`overseerr_items`, :func:`ombi_items`) and tested on JSON; the clients
only page and translate transport problems into :class:`SourceError`, whose message
names the service and its URL but never the API key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from qbarr import __version__
from qbarr.search.model import RequestItem
from qbarr.search.settings import RequestSettings
from qbarr.search.wanted import parse_time, sub
from qbarr.tls import verify_for

# Overseerr enums (server/constants/media.ts): request status and media status.
OVERSEERR_PENDING, OVERSEERR_APPROVED, OVERSEERR_DECLINED, OVERSEERR_FAILED, OVERSEERR_COMPLETED = (
    1,
    2,
    3,
    4,
    5,
)
MEDIA_AVAILABLE, MEDIA_DELETED = 5, 6
PAGE = 100
MAX_PAGES = 50


class SourceError(Exception):
    """A request service could not be read (unreachable, refused, not its JSON)."""


def overseerr_items(
    results: Iterable[Mapping[str, Any]], settings: RequestSettings
) -> list[RequestItem]:
    """Overseerr ``/api/v1/request`` results -> the requests to search for."""
    out = []
    for req in results:
        if not isinstance(req, Mapping) or bool(req.get("is4k", False)) != settings.is_4k:
            continue
        status = req.get("status")
        if status in (OVERSEERR_DECLINED, OVERSEERR_COMPLETED):
            continue
        if settings.approved_only and status != OVERSEERR_APPROVED:
            continue
        media = sub(req, "media")
        media_status = media.get("status4k" if settings.is_4k else "status")
        if media_status in (MEDIA_AVAILABLE, MEDIA_DELETED):
            continue
        kind = req.get("type") or media.get("mediaType")
        item = _item(
            "overseerr",
            kind,
            media.get("tmdbId"),
            media.get("tvdbId"),
            req.get("id"),
            req.get("createdAt"),
            "",
        )
        if item is not None:
            out.append(item)
    return out


def ombi_items(
    movies: Iterable[Mapping[str, Any]], tv: Iterable[Mapping[str, Any]], settings: RequestSettings
) -> list[RequestItem]:
    """Ombi ``/api/v1/Request/movie`` and ``/tvlite`` lists -> the requests to search for.

    Ombi keeps separate 4K flags on movie requests (``approved4K`` ...); TV has no 4K
    split, so a 4K instance takes no TV requests from Ombi.
    """
    out = []
    suffix = "4K" if settings.is_4k else ""
    for req in movies:
        if not isinstance(req, Mapping):
            continue
        if settings.is_4k and not (req.get("is4kRequest") or req.get("has4KRequest")):
            continue
        if not settings.is_4k and req.get("is4kRequest") and not req.get("approved"):
            continue  # a 4K-only request: it belongs to the 4K instance
        if req.get(f"available{suffix}") or req.get(f"denied{suffix}"):
            continue
        if settings.approved_only and not req.get(f"approved{suffix}"):
            continue
        when = req.get("requestedDate4k" if settings.is_4k else "requestedDate")
        item = _item(
            "ombi", "movie", req.get("theMovieDbId"), None, req.get("id"), when, req.get("title")
        )
        if item is not None:
            out.append(item)
    if settings.is_4k:
        return out
    for req in tv:
        if not isinstance(req, Mapping):
            continue
        children = [c for c in req.get("childRequests") or [] if isinstance(c, Mapping)]
        open_children = [c for c in children if not c.get("available") and not c.get("denied")]
        if settings.approved_only:
            open_children = [c for c in open_children if c.get("approved")]
        if children and not open_children:
            continue
        if not children and (
            req.get("available")
            or req.get("denied")
            or (settings.approved_only and not req.get("approved"))
        ):
            continue
        when = min(
            (c["requestedDate"] for c in open_children if c.get("requestedDate")),
            default=req.get("requestedDate"),
        )
        item = _item("ombi", "tv", None, req.get("tvDbId"), req.get("id"), when, req.get("title"))
        if item is not None:
            out.append(item)
    return out


def _item(
    source: str, kind: Any, tmdb: Any, tvdb: Any, request_id: Any, when: Any, title: Any
) -> RequestItem | None:
    requested = parse_time(when) or 0.0
    rid = request_id if isinstance(request_id, int) else None
    if kind == "movie" and _is_id(tmdb):
        return RequestItem(
            source=source,
            media="movie",
            tmdb=int(tmdb),
            request_id=rid,
            requested_at=requested,
            title=str(title or ""),
        )
    if kind == "tv" and _is_id(tvdb):
        return RequestItem(
            source=source,
            media="series",
            tvdb=int(tvdb),
            request_id=rid,
            requested_at=requested,
            title=str(title or ""),
        )
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class _Source:
    """Shared httpx plumbing: one client per source, errors as SourceError."""

    name = "source"
    key_header = "X-Api-Key"

    def __init__(
        self,
        settings: RequestSettings,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.url = settings.url.rstrip("/")
        self.stats = {"calls": 0, "errors": 0}
        self._http = httpx.Client(
            base_url=self.url,
            headers={
                self.key_header: settings.api_key,
                "Accept": "application/json",
                "User-Agent": f"qbarr/{__version__}",
            },
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            follow_redirects=False,
            transport=transport,
            verify=verify_for(self.url),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.stats["calls"] += 1
        what = f"{self.name} at {self.url}"
        try:
            response = self._http.get(path, params=dict(params or {}))
        except httpx.TimeoutException as exc:
            self.stats["errors"] += 1
            raise SourceError(f"{what} did not answer GET {path} in time") from exc
        except httpx.HTTPError as exc:
            self.stats["errors"] += 1
            raise SourceError(f"{what} is unreachable ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            self.stats["errors"] += 1
            raise SourceError(f"{what} refused the API key ({response.status_code} to GET {path})")
        if response.status_code != 200:
            self.stats["errors"] += 1
            raise SourceError(f"{what} answered {response.status_code} to GET {path}")
        try:
            return response.json()
        except ValueError as exc:
            self.stats["errors"] += 1
            raise SourceError(
                f"{what} answered GET {path} with something that is not JSON"
            ) from exc


class OverseerrSource(_Source):
    """``GET /api/v1/request`` paged by ``take``/``skip``, newest first."""

    name = "Overseerr"

    def fetch(self) -> list[RequestItem]:
        results: list[Mapping[str, Any]] = []
        flt = "approved" if self.settings.approved_only else "all"
        for page in range(MAX_PAGES):
            data = self._get(
                "/api/v1/request",
                {"take": PAGE, "skip": page * PAGE, "filter": flt, "sort": "added"},
            )
            if not isinstance(data, Mapping) or not isinstance(data.get("results"), list):
                raise SourceError(f"Overseerr at {self.url}: /api/v1/request is not a request page")
            batch = data["results"]
            results += batch
            info = sub(data, "pageInfo")
            total = info.get("results")
            if not batch or not isinstance(total, int) or (page + 1) * PAGE >= total:
                break
        return overseerr_items(results, self.settings)


class OmbiSource(_Source):
    """``GET /api/v1/Request/movie`` and ``/api/v1/Request/tvlite`` (whole lists; the lite TV
    list leaves out the episodes)."""

    name = "Ombi"
    key_header = "ApiKey"

    def fetch(self) -> list[RequestItem]:
        movies = self._get("/api/v1/Request/movie")
        tv = self._get("/api/v1/Request/tvlite") if not self.settings.is_4k else []
        if not isinstance(movies, list) or not isinstance(tv, list):
            raise SourceError(f"Ombi at {self.url}: the request lists are not lists")
        return ombi_items(movies, tv, self.settings)


def make_source(
    settings: RequestSettings, timeout: float = 15.0, transport: httpx.BaseTransport | None = None
) -> _Source:
    """The client for one ``[[[Overseerr]]]`` / ``[[[Ombi]]]`` section."""
    cls = {"overseerr": OverseerrSource, "ombi": OmbiSource}[settings.name.lower()]
    return cls(settings, timeout=timeout, transport=transport)
