"""Reading the Arr's wanted lists: records -> WantedItem (pure) and the paged crawl (I/O).

The wanted lists are read with the Arr's own ``wanted/missing`` and ``wanted/cutoff``
endpoints, page by page, never by copying the library. A crawl stops at
``MAX_ITEMS`` per list (the planner only needs more candidates than a day's budget)
and is repeated every ``WantedRefresh`` or when the known work is used up, not each
cycle. Upgrades (items whose file met the cutoff) have no wanted endpoint; they come
from the library list, read rarely (``UPGRADE_REFRESH``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from qbarr.search.model import WantedItem

log = logging.getLogger("qbarr.search")

PAGE_SIZE = 250
MAX_ITEMS = 10_000
UPGRADE_REFRESH = 6 * 3600.0


def parse_time(value: Any) -> float | None:
    """ISO 8601 (``2024-05-01T00:00:00Z``) -> Unix seconds; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def sub(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``record[key]`` when it is an object, else {} (the Arrs leave out or null nested objects)."""
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def movie_item(record: Mapping[str, Any], tier: str) -> WantedItem | None:
    """A Radarr MovieResource. Released = the first digital/physical release, else the
    cinema date (what "recently released" means for a download)."""
    movie_id = _int(record.get("id"))
    if movie_id is None:
        return None
    home = [parse_time(record.get(k)) for k in ("digitalRelease", "physicalRelease")]
    dates = [d for d in home if d is not None] or [
        d
        for d in (parse_time(record.get("releaseDate")), parse_time(record.get("inCinemas")))
        if d is not None
    ]
    ext = {k: v for k, v in (("tmdb", _int(record.get("tmdbId"))),) if v is not None}
    year = record.get("year")
    title = str(record.get("title") or "") + (
        f" ({year})" if isinstance(year, int) and year else ""
    )
    return WantedItem(
        media="movie",
        id=movie_id,
        tier=tier,
        title=title,
        monitored=bool(record.get("monitored", True)),
        released=min(dates) if dates else None,
        available=bool(record.get("isAvailable", True)),
        ext_ids=ext,
    )


def episode_item(record: Mapping[str, Any], tier: str) -> WantedItem | None:
    """A Sonarr EpisodeResource (seriesId, seasonNumber, airDateUtc, monitored)."""
    episode_id = _int(record.get("id"))
    series_id = _int(record.get("seriesId"))
    if episode_id is None:
        return None
    season = _int(record.get("seasonNumber"))
    number = _int(record.get("episodeNumber"))
    series = sub(record, "series")
    label = f"S{season or 0:02d}E{number or 0:02d}"
    name = str(series.get("title") or "") if series else ""
    title = " ".join(x for x in (name, label, str(record.get("title") or "")) if x)
    ext = {
        k: v
        for k, v in (("tvdb", _int(series.get("tvdbId")) if series else None),)
        if v is not None
    }
    return WantedItem(
        media="episode",
        id=episode_id,
        tier=tier,
        title=title,
        monitored=bool(record.get("monitored", True))
        and bool(series.get("monitored", True) if series else True),
        released=parse_time(record.get("airDateUtc")) or parse_time(record.get("airDate")),
        series_id=series_id,
        season=season,
        ext_ids=ext,
    )


def album_item(record: Mapping[str, Any], tier: str) -> WantedItem | None:
    """A Lidarr AlbumResource."""
    album_id = _int(record.get("id"))
    if album_id is None:
        return None
    artist = sub(record, "artist")
    name = str(artist.get("artistName") or "") if artist else ""
    title = " - ".join(x for x in (name, str(record.get("title") or "")) if x)
    return WantedItem(
        media="album",
        id=album_id,
        tier=tier,
        title=title,
        monitored=bool(record.get("monitored", True)),
        released=parse_time(record.get("releaseDate")),
        series_id=_int(record.get("artistId")),
    )


PARSERS: dict[str, Callable[[Mapping[str, Any], str], WantedItem | None]] = {
    "radarr": movie_item,
    "sonarr": episode_item,
    "lidarr": album_item,
}


def items_from(kind: str, records: Iterable[Mapping[str, Any]], tier: str) -> list[WantedItem]:
    """Map records of one wanted list to items (records without an id are dropped)."""
    parse = PARSERS[kind]
    return [
        item
        for item in (parse(r, tier) for r in records if isinstance(r, Mapping))
        if item is not None
    ]


def crawl(
    client: Any,
    kind: str,
    which: str,
    monitored: bool,
    max_items: int = MAX_ITEMS,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[], None] = lambda: None,
) -> list[WantedItem]:
    """Every page of ``wanted/missing`` (which='missing') or ``wanted/cutoff`` ('cutoff'),
    up to ``max_items``; raises the client's ArrError on failure. ``on_page`` runs after
    each page (the program beats its heartbeat there during a long crawl)."""
    fetch = client.wanted_missing if which == "missing" else client.wanted_cutoff
    items: list[WantedItem] = []
    page = 1
    while len(items) < max_items:
        records, total = fetch(page=page, page_size=page_size, monitored=monitored)
        items += items_from(kind, records, which)
        on_page()
        if not records or page * page_size >= total:
            break
        page += 1
    if len(items) >= max_items:
        log.info(
            "wanted/%s holds more than %d items: only the first %d are considered",
            which,
            max_items,
            max_items,
        )
    return items[:max_items]


def upgrade_items(kind: str, library: Iterable[Mapping[str, Any]]) -> list[WantedItem]:
    """Upgrade candidates from the library list: Radarr movies with a file, Sonarr series
    with files (searched as series), Lidarr albums with tracks."""
    out: list[WantedItem] = []
    for record in library:
        if not isinstance(record, Mapping):
            continue
        stats = sub(record, "statistics")
        if kind == "radarr" and record.get("hasFile"):
            item = movie_item(record, "upgrade")
        elif kind == "lidarr" and (stats.get("trackFileCount") or 0) > 0:
            item = album_item(record, "upgrade")
        elif (
            kind == "sonarr"
            and (stats.get("episodeFileCount") or 0) > 0
            and _int(record.get("id")) is not None
        ):
            item = WantedItem(
                media="series",
                id=int(record["id"]),
                tier="upgrade",
                title=str(record.get("title") or ""),
                monitored=bool(record.get("monitored", True)),
                released=parse_time(record.get("firstAired")),
                ext_ids={"tvdb": record["tvdbId"]}
                if _int(record.get("tvdbId")) is not None
                else {},
            )
        else:
            item = None
        if item is not None:
            out.append(item)
    return out


def arr_get(client: Any, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """A GET the client has no named method for (library list, series lookup).

    Uses a public ``get`` if the client grows one, else its internal ``_get`` (which
    carries the same retries and typed errors).
    """
    getter = getattr(client, "get", None) or client._get
    return getter(path, dict(params or {}))


# -- custom-format scores (SearchCustomFormatUnmet) -------------------------------------------


def cf_cutoffs(profiles: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Quality profile id -> cutoffFormatScore, for profiles that allow upgrades and care."""
    out = {}
    for p in profiles:
        score = p.get("cutoffFormatScore") if isinstance(p, Mapping) else None
        if (
            isinstance(p.get("id"), int)
            and isinstance(score, int)
            and score > 0
            and p.get("upgradeAllowed", True) is not False
        ):
            out[int(p["id"])] = score
    return out


def _cf_unmet(file: Any, cutoff: int | None) -> bool:
    """The file met the quality cutoff but not the profile's cutoffFormatScore."""
    if cutoff is None or not isinstance(file, Mapping):
        return False
    score = file.get("customFormatScore")
    return isinstance(score, int) and score < cutoff and file.get("qualityCutoffNotMet") is not True


def custom_format_unmet(
    client: Any,
    kind: str,
    profiles: Iterable[Mapping[str, Any]],
    on_owner: Callable[[], None] = lambda: None,
) -> list[WantedItem]:
    """Items whose file is below its profile's cutoffFormatScore (tier ``customformat``).

    Radarr: GET movie (movieFile carries customFormatScore). Sonarr: GET series, then
    GET episode?seriesId&includeEpisodeFile for each series with files on a profile that
    has a cutoffFormatScore. Lidarr: GET artist, then GET album?artistId and
    trackfile?artistId for each such artist (an album is unmet when one of its files is).
    """
    cutoffs = cf_cutoffs(profiles)
    if not cutoffs:
        return []
    out: list[WantedItem] = []
    if kind == "radarr":
        for m in arr_get(client, "movie") or []:
            if isinstance(m, Mapping) and _cf_unmet(
                m.get("movieFile"), cutoffs.get(m.get("qualityProfileId", 0))
            ):
                item = movie_item(m, "customformat")
                out += [item] if item else []
        return out
    owners = arr_get(client, "series" if kind == "sonarr" else "artist") or []
    for owner in owners:
        if not isinstance(owner, Mapping) or not isinstance(owner.get("id"), int):
            continue
        cutoff = cutoffs.get(owner.get("qualityProfileId", 0))
        stats = sub(owner, "statistics")
        files = stats.get("episodeFileCount" if kind == "sonarr" else "trackFileCount")
        if cutoff is None or files == 0:
            continue
        if kind == "sonarr":
            episodes = arr_get(
                client, "episode", {"seriesId": owner["id"], "includeEpisodeFile": "true"}
            )
            for e in episodes or []:
                if isinstance(e, Mapping) and _cf_unmet(e.get("episodeFile"), cutoff):
                    item = episode_item(e, "customformat")
                    out += [item] if item else []
        else:
            unmet = {
                f.get("albumId")
                for f in arr_get(client, "trackfile", {"artistId": owner["id"]}) or []
                if _cf_unmet(f, cutoff)
            }
            if unmet:
                for a in arr_get(client, "album", {"artistId": owner["id"]}) or []:
                    if isinstance(a, Mapping) and a.get("id") in unmet:
                        item = album_item(a, "customformat")
                        out += [item] if item else []
        on_owner()
    return out


def full_seasons(
    series: Iterable[Mapping[str, Any]], missing: Mapping[tuple[int, int], int]
) -> frozenset[tuple[int, int]]:
    """(series id, season) whose monitored episodes are all missing: the season statistics'
    episodeCount (monitored episodes aired or with a file) equals the missing count and no
    episode of it has a file."""
    out = set()
    for s in series:
        if not isinstance(s, Mapping) or not isinstance(s.get("id"), int):
            continue
        for season in s.get("seasons") or []:
            if not isinstance(season, Mapping) or not season.get("monitored", True):
                continue
            number = season.get("seasonNumber")
            stats = sub(season, "statistics")
            key = (int(s["id"]), number) if isinstance(number, int) else None
            count = stats.get("episodeCount")
            if (
                key is not None
                and isinstance(count, int)
                and count >= 2
                and missing.get(key, 0) >= count
                and not stats.get("episodeFileCount")
            ):
                out.add(key)
    return frozenset(out)
