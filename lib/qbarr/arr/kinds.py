"""What differs between Radarr v3, Sonarr v3 and Lidarr v1.

One table per kind, so the client and the simulators agree on API version,
command names, the media id fields of a queue record and the "include" query
flags that keep queue pages small.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArrKind:
    """The per-kind facts of one Arr application."""

    name: str  # radarr | sonarr | lidarr
    app_name: str  # appName in system/status
    api_version: str  # v3 | v1
    default_port: int
    scan_command: str  # Downloaded*Scan
    search_command: str  # search of individual media ids
    search_ids_field: str  # movieIds | episodeIds | albumIds
    media_fields: tuple[str, ...]  # id fields of a queue record, in order
    search_media_field: str  # which of media_fields a re-search targets
    queue_params: dict[str, str] = field(default_factory=dict)
    wanted_params: dict[str, str] = field(default_factory=dict)
    failed_states: tuple[str, ...] = ()

    @property
    def api_prefix(self) -> str:
        return f"/api/{self.api_version}"


RADARR = ArrKind(
    name="radarr",
    app_name="Radarr",
    api_version="v3",
    default_port=7878,
    scan_command="DownloadedMoviesScan",
    search_command="MoviesSearch",
    search_ids_field="movieIds",
    media_fields=("movieId",),
    search_media_field="movieId",
    queue_params={"includeUnknownMovieItems": "true", "includeMovie": "false"},
    wanted_params={},
    failed_states=("failedPending", "failed"),
)

SONARR = ArrKind(
    name="sonarr",
    app_name="Sonarr",
    api_version="v3",
    default_port=8989,
    scan_command="DownloadedEpisodesScan",
    search_command="EpisodeSearch",
    search_ids_field="episodeIds",
    media_fields=("seriesId", "episodeId"),
    search_media_field="episodeId",
    queue_params={
        "includeUnknownSeriesItems": "true",
        "includeSeries": "false",
        "includeEpisode": "false",
    },
    wanted_params={"includeSeries": "false", "includeImages": "false"},
    failed_states=("failedPending", "failed"),
)

LIDARR = ArrKind(
    name="lidarr",
    app_name="Lidarr",
    api_version="v1",
    default_port=8686,
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
)

KINDS: dict[str, ArrKind] = {k.name: k for k in (RADARR, SONARR, LIDARR)}


def kind_of(name: str) -> ArrKind:
    """The ArrKind for 'radarr' | 'sonarr' | 'lidarr' (any case)."""
    try:
        return KINDS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown Arr kind {name!r} (expected radarr, sonarr or lidarr)") from None
