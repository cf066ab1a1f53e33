"""What differs between Radarr v3, Sonarr v3 and Lidarr v1: the one home of per-kind facts.

One table per kind: API version, command names, the media id fields of a queue record,
the "include" query flags that keep queue pages small, the search item keys (``movie:3``),
the tracked download states that mean "failed" and what carries a quality profile. The
client, the managers (policy, executor) and the search program read them here. The
simulators keep their own model of the Arrs on purpose, so that a wrong fact here shows up
in the contract tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArrKind:
    """The per-kind facts of one Arr application."""

    name: str  # radarr | sonarr | lidarr
    app_name: str  # appName in system/status
    api_version: str  # v3 | v1
    default_port: int
    media: str  # what one search id is, in search item keys: movie | episode | album
    library_path: str  # the library list (upgrade candidates): movie | series | album
    scan_command: str  # Downloaded*Scan
    search_command: str  # search of individual media ids
    search_ids_field: str  # movieIds | episodeIds | albumIds
    media_fields: tuple[str, ...]  # id fields of a queue record, in order
    search_media_field: str  # which of media_fields a re-search targets
    failed_states: tuple[str, ...]  # trackedDownloadState values that mean "failed"
    profile_owner: str  # what carries the quality profile: movie | series | artist
    profile_owner_ids: str  # its id list in PUT <profile_owner>/editor: movieIds | ...
    series_search_command: str = ""  # Sonarr: search of a whole series (seriesId)
    # history eventType values that say a download was imported (the lookup of a lost import)
    import_events: frozenset[str] = frozenset({"downloadFolderImported"})
    queue_params: dict[str, str] = field(default_factory=dict)
    wanted_params: dict[str, str] = field(default_factory=dict)

    @property
    def api_prefix(self) -> str:
        return f"/api/{self.api_version}"


RADARR = ArrKind(
    name="radarr",
    app_name="Radarr",
    api_version="v3",
    default_port=7878,
    media="movie",
    library_path="movie",
    scan_command="DownloadedMoviesScan",
    search_command="MoviesSearch",
    search_ids_field="movieIds",
    media_fields=("movieId",),
    search_media_field="movieId",
    queue_params={"includeUnknownMovieItems": "true", "includeMovie": "false"},
    wanted_params={},
    failed_states=("failedPending", "failed"),
    profile_owner="movie",
    profile_owner_ids="movieIds",
)

SONARR = ArrKind(
    name="sonarr",
    app_name="Sonarr",
    api_version="v3",
    default_port=8989,
    media="episode",
    library_path="series",
    scan_command="DownloadedEpisodesScan",
    search_command="EpisodeSearch",
    search_ids_field="episodeIds",
    media_fields=("seriesId", "episodeId"),
    search_media_field="episodeId",
    series_search_command="SeriesSearch",
    queue_params={
        "includeUnknownSeriesItems": "true",
        "includeSeries": "false",
        "includeEpisode": "false",
    },
    wanted_params={"includeSeries": "false", "includeImages": "false"},
    failed_states=("failedPending", "failed"),
    profile_owner="series",
    profile_owner_ids="seriesIds",
)

LIDARR = ArrKind(
    name="lidarr",
    app_name="Lidarr",
    api_version="v1",
    default_port=8686,
    media="album",
    library_path="album",
    scan_command="DownloadedAlbumsScan",
    search_command="AlbumSearch",
    search_ids_field="albumIds",
    media_fields=("artistId", "albumId"),
    search_media_field="albumId",
    queue_params={
        "includeUnknownArtistItems": "true",
        "includeArtist": "false",
        "includeAlbum": "false",
    },
    wanted_params={"includeArtist": "false"},
    failed_states=("downloadFailedPending", "downloadFailed", "importFailed"),
    import_events=frozenset({"downloadImported", "trackFileImported"}),
    profile_owner="artist",
    profile_owner_ids="artistIds",
)

KINDS: dict[str, ArrKind] = {k.name: k for k in (RADARR, SONARR, LIDARR)}

# The tracked download states that mean "failed" in any kind (the policy reads the queue of
# every kind the same way).
FAILED_STATES = frozenset(state for k in KINDS.values() for state in k.failed_states)


def kind_of(name: str) -> ArrKind:
    """The ArrKind for 'radarr' | 'sonarr' | 'lidarr' (any case)."""
    try:
        return KINDS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown Arr kind {name!r} (expected radarr, sonarr or lidarr)") from None


def search_target(media: Mapping[str, Any]) -> tuple[ArrKind, int] | None:
    """The kind and id a re-search of one queue record targets (its kind's search_media_field:
    ``{"seriesId": 3, "episodeId": 44}`` -> (SONARR, 44)); None when the record has none.
    The field names of the kinds differ, so the record itself says which kind it is."""
    for kind in KINDS.values():
        value = media.get(kind.search_media_field)
        if isinstance(value, int) and not isinstance(value, bool):
            return kind, value
    return None
