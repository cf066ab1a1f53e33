"""JSON resources exactly as the OpenAPI documents name and type them.

Every schema of the Arr documents has `additionalProperties: false`, so these
builders only emit documented fields (the contract tests prove it). Dates are
ISO 8601 UTC with a `Z`, spans are .NET TimeSpans ("00:01:30").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qbarr.sim.arr.library import (
    CF_CUTOFF,
    PROFILES,
    QUALITIES,
    TAGS,
    Item,
    Library,
    Parent,
    episode_tvdb_id,
    tmdb_id,
    tvdb_id,
)

UTC = UTC
VERSIONS = {"radarr": "6.0.3.10276", "sonarr": "4.0.19.2979", "lidarr": "2.14.5.4824"}
STARTED = datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: float | None) -> str | None:
    """A .NET TimeSpan string (d.hh:mm:ss) as the Arrs send for timeleft/duration."""
    if seconds is None or seconds < 0:
        return None
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    frac = f".{int((seconds - whole) * 1e7):07d}" if seconds != whole else ""
    head = f"{days}." if days else ""
    return f"{head}{hours:02d}:{minutes:02d}:{secs:02d}{frac}"


def quality(kind: str, quality_id: int) -> dict[str, Any]:
    """A QualityModel {quality, revision}."""
    for qid, name, source, resolution in QUALITIES[kind]:
        if qid == quality_id:
            q: dict[str, Any] = {"id": qid, "name": name}
            if kind == "radarr":
                q.update(source=source, resolution=resolution, modifier="none")
            elif kind == "sonarr":
                q.update(source=source, resolution=resolution)
            return {"quality": q, "revision": {"version": 1, "real": 0, "isRepack": False}}
    return {
        "quality": {"id": 0, "name": "Unknown"},
        "revision": {"version": 1, "real": 0, "isRepack": False},
    }


def system_status(kind: str, url_base: str = "") -> dict[str, Any]:
    app = {"radarr": "Radarr", "sonarr": "Sonarr", "lidarr": "Lidarr"}[kind]
    data: dict[str, Any] = {
        "appName": app,
        "instanceName": f"{app} (qbarr simulator)",
        "version": VERSIONS[kind],
        "buildTime": "2025-10-25T00:00:00Z",
        "isDebug": False,
        "isProduction": True,
        "isAdmin": False,
        "isUserInteractive": False,
        "startupPath": f"/opt/{kind}",
        "appData": f"/config/{kind}",
        "osName": "debian",
        "osVersion": "12",
        "isNetCore": True,
        "isLinux": True,
        "isOsx": False,
        "isWindows": False,
        "isDocker": False,
        "mode": "console",
        "branch": "master",
        "authentication": "forms",
        "migrationVersion": 240,
        "urlBase": url_base,
        "runtimeVersion": "8.0.12",
        "runtimeName": ".NET",
        "startTime": iso(STARTED),
        "packageUpdateMechanism": "builtIn",
        "databaseType": "sqLite",
        "databaseVersion": "3.46.1",
    }
    return data


def quality_profiles(kind: str) -> list[dict[str, Any]]:
    out = []
    order = [q[0] for q in QUALITIES[kind]]
    for pid, (name, cutoff) in PROFILES[kind].items():
        items = [
            {
                "quality": quality(kind, qid)["quality"],
                "items": [],
                "allowed": pid == 1 or order.index(qid) >= max(0, order.index(cutoff) - 2),
            }
            for qid in order
        ]
        profile: dict[str, Any] = {
            "id": pid,
            "name": name,
            "upgradeAllowed": True,
            "cutoff": cutoff,
            "items": items,
            "minFormatScore": 0,
            "cutoffFormatScore": CF_CUTOFF.get(pid, 0),
            "formatItems": [],
        }
        if kind != "lidarr":
            profile["minUpgradeFormatScore"] = 1
        if kind == "radarr":
            profile["language"] = {"id": 1, "name": "English"}
        out.append(profile)
    return out


def tags() -> list[dict[str, Any]]:
    return [{"id": i, "label": label} for i, label in enumerate(TAGS, start=1)]


# -- media -------------------------------------------------------------------


def movie(lib: Library, item: Item, now: datetime) -> dict[str, Any]:
    released = item.released
    digital = released
    status = "released" if released <= now else "announced"
    data: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "originalTitle": item.title,
        "sortTitle": item.sort_title,
        "sizeOnDisk": 4_000_000_000 if item.has_file else 0,
        "status": status,
        "inCinemas": iso(released),
        "digitalRelease": iso(digital),
        "physicalRelease": iso(released),
        "releaseDate": iso(released),
        "year": item.year,
        "path": f"/movies/{item.title} ({item.year})",
        "qualityProfileId": item.profile_id,
        "hasFile": item.has_file,
        "movieFileId": item.file_id if item.has_file else 0,
        "monitored": item.monitored,
        "minimumAvailability": "released",
        "isAvailable": released <= now,
        "runtime": 100 + item.id % 50,
        "tmdbId": tmdb_id("radarr", item.id),
        "imdbId": f"tt{9000000 + item.id}",
        "titleSlug": f"{tmdb_id('radarr', item.id)}",
        "rootFolderPath": "/movies",
        "genres": [],
        "tags": list(item.tags),
        "added": iso(item.added),
        "lastSearchTime": iso(item.last_search),
        "statistics": {
            "movieFileCount": 1 if item.has_file else 0,
            "sizeOnDisk": 4_000_000_000 if item.has_file else 0,
            "releaseGroups": [],
        },
    }
    if item.has_file:
        data["movieFile"] = {
            "id": item.file_id,
            "movieId": item.id,
            "relativePath": f"{item.title} ({item.year}).mkv",
            "path": f"/movies/{item.title} ({item.year})/{item.title} ({item.year}).mkv",
            "size": 4_000_000_000,
            "dateAdded": iso(item.file_added),
            "quality": quality("radarr", item.quality_id),
            "customFormatScore": item.cf_score,
            "qualityCutoffNotMet": not lib.cutoff_met(item),
        }
    return data


def series(lib: Library, parent: Parent, now: datetime, with_stats: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": parent.id,
        "title": parent.title,
        "sortTitle": parent.sort_title,
        "status": "ended" if parent.ended else "continuing",
        "ended": parent.ended,
        "year": parent.year,
        "path": f"/tv/{parent.title}",
        "qualityProfileId": parent.profile_id,
        "seasonFolder": True,
        "monitored": parent.monitored,
        "monitorNewItems": "all",
        "useSceneNumbering": False,
        "runtime": 45,
        "tvdbId": tvdb_id(parent.id),
        "tvRageId": 0,
        "tvMazeId": 0,
        "tmdbId": tmdb_id("sonarr", parent.id),
        "seriesType": "standard",
        "titleSlug": parent.title.lower().replace(" ", "-"),
        "rootFolderPath": "/tv",
        "genres": [],
        "tags": list(parent.tags),
        "added": iso(parent.added),
        "firstAired": iso(datetime(parent.year, 1, 1, tzinfo=UTC)),
        "languageProfileId": 1,
    }
    if with_stats:
        episodes = lib.children(parent.id)
        seasons = sorted({e.season for e in episodes})
        data["seasons"] = [
            {
                "seasonNumber": s,
                "monitored": s > 0,
                "statistics": season_statistics([e for e in episodes if e.season == s], now),
            }
            for s in seasons
        ]
        have = sum(1 for e in episodes if e.has_file)
        data["statistics"] = {
            "seasonCount": len([s for s in seasons if s > 0]),
            "episodeFileCount": have,
            "episodeCount": len(episodes),
            "totalEpisodeCount": len(episodes),
            "sizeOnDisk": have * 1_000_000_000,
            "releaseGroups": [],
            "percentOfEpisodes": 100.0 * have / len(episodes) if episodes else 0.0,
        }
    return data


def season_statistics(episodes: list[Item], now: datetime) -> dict[str, Any]:
    """Sonarr's SeasonStatistics: episodeCount = monitored episodes aired or with a file."""
    counted = [e for e in episodes if e.monitored and (e.released <= now or e.has_file)]
    have = sum(1 for e in episodes if e.has_file)
    return {
        "episodeFileCount": have,
        "episodeCount": len(counted),
        "totalEpisodeCount": len(episodes),
        "sizeOnDisk": have * 1_000_000_000,
        "releaseGroups": [],
        "percentOfEpisodes": 100.0 * have / len(counted) if counted else 0.0,
    }


def episode_file(lib: Library, item: Item) -> dict[str, Any]:
    """A Sonarr EpisodeFileResource."""
    return {
        "id": item.file_id,
        "seriesId": item.parent_id,
        "seasonNumber": item.season,
        "relativePath": f"Season {item.season:02d}/{item.title}.mkv",
        "size": 1_000_000_000,
        "dateAdded": iso(item.file_added),
        "quality": quality("sonarr", item.quality_id),
        "customFormatScore": item.cf_score,
        "releaseType": "singleEpisode",
        "qualityCutoffNotMet": not lib.cutoff_met(item),
    }


def track_file(lib: Library, item: Item) -> dict[str, Any]:
    """A Lidarr TrackFileResource (one file stands for an album's tracks in the simulator)."""
    return {
        "id": item.file_id,
        "artistId": item.parent_id,
        "albumId": item.id,
        "path": f"/music/{item.title}/01.flac",
        "size": 40_000_000,
        "dateAdded": iso(item.file_added),
        "quality": quality("lidarr", item.quality_id),
        "customFormatScore": item.cf_score,
        "qualityCutoffNotMet": not lib.cutoff_met(item),
    }


def episode(
    lib: Library,
    item: Item,
    now: datetime,
    include_series: bool = False,
    include_file: bool = False,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "seriesId": item.parent_id,
        "tvdbId": episode_tvdb_id(item.id),
        "episodeFileId": item.file_id if item.has_file else 0,
        "seasonNumber": item.season,
        "episodeNumber": item.number,
        "title": item.title,
        "airDate": item.released.strftime("%Y-%m-%d"),
        "airDateUtc": iso(item.released),
        "lastSearchTime": iso(item.last_search),
        "runtime": 45,
        "hasFile": item.has_file,
        "monitored": item.monitored,
        "unverifiedSceneNumbering": False,
    }
    if include_series:
        data["series"] = series(lib, lib.parents[item.parent_id], now, with_stats=False)
    if include_file and item.has_file:
        data["episodeFile"] = episode_file(lib, item)
    return data


def artist(lib: Library, parent: Parent, now: datetime) -> dict[str, Any]:
    return {
        "id": parent.id,
        "status": "ended" if parent.ended else "continuing",
        "ended": parent.ended,
        "artistName": parent.title,
        "foreignArtistId": f"sim-artist-{parent.id:08d}",
        "tadbId": 0,
        "discogsId": 0,
        "artistType": "Group",
        "path": f"/music/{parent.title}",
        "qualityProfileId": parent.profile_id,
        "metadataProfileId": 1,
        "monitored": parent.monitored,
        "monitorNewItems": "all",
        "rootFolderPath": "/music",
        "genres": [],
        "cleanName": parent.sort_title.replace(" ", ""),
        "sortName": parent.sort_title,
        "tags": list(parent.tags),
        "added": iso(parent.added),
    }


def album(lib: Library, item: Item, now: datetime, include_artist: bool = False) -> dict[str, Any]:
    tracks = 10
    data: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "artistId": item.parent_id,
        "foreignAlbumId": f"sim-album-{item.id:08d}",
        "monitored": item.monitored,
        "anyReleaseOk": True,
        "profileId": item.profile_id,
        "duration": 2_400_000,
        "albumType": "Album",
        "secondaryTypes": [],
        "mediumCount": 1,
        "releaseDate": iso(item.released),
        "genres": [],
        "lastSearchTime": iso(item.last_search),
        "statistics": {
            "trackFileCount": tracks if item.has_file else 0,
            "trackCount": tracks,
            "totalTrackCount": tracks,
            "sizeOnDisk": 400_000_000 if item.has_file else 0,
            "percentOfTracks": 100.0 if item.has_file else 0.0,
        },
    }
    if include_artist:
        data["artist"] = artist(lib, lib.parents[item.parent_id], now)
    return data


def media(lib: Library, item: Item, now: datetime, **include: bool) -> dict[str, Any]:
    """The wanted/missing record of an item for this library's kind."""
    if lib.kind == "radarr":
        return movie(lib, item, now)
    if lib.kind == "sonarr":
        return episode(lib, item, now, include.get("series", False), include.get("file", False))
    return album(lib, item, now, include.get("artist", False))


def paging(
    page: int,
    page_size: int,
    sort_key: str | None,
    direction: str,
    total: int,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "page": page,
        "pageSize": page_size,
        "sortKey": sort_key,
        "sortDirection": direction if direction in ("ascending", "descending") else "default",
        "totalRecords": total,
        "records": records,
    }


CATEGORY_FIELD = {"radarr": "movieCategory", "sonarr": "tvCategory", "lidarr": "musicCategory"}


def download_client(kind: str, client_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    """One DownloadClientResource of a qBittorrent download client, as the Arrs answer
    ``GET downloadclient``: its settings are ``fields`` (name/value pairs); the password comes
    back masked, as the real Arrs send it."""
    values = {
        "host": spec.get("host", "localhost"),
        "port": int(spec.get("port", 8080)),
        "useSsl": bool(spec.get("useSsl", False)),
        "urlBase": spec.get("urlBase", ""),
        "username": spec.get("username", "admin"),
        "password": "********",
        CATEGORY_FIELD[kind]: spec.get("category", kind),
    }
    return {
        "id": client_id,
        "name": spec.get("name", f"qBittorrent {client_id}"),
        "fields": [
            {"order": i, "name": name, "value": value, "advanced": False, "hidden": "visible"}
            for i, (name, value) in enumerate(values.items())
        ],
        "implementationName": "qBittorrent",
        "implementation": "QBittorrent",
        "configContract": "QBittorrentSettings",
        "infoLink": "https://wiki.servarr.com/",
        "tags": [],
        "enable": bool(spec.get("enable", True)),
        "protocol": "torrent",
        "priority": int(spec.get("priority", 1)),
        "removeCompletedDownloads": True,
        "removeFailedDownloads": True,
    }
