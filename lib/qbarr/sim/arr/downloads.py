"""Downloads and queue records of a simulated Arr (pure: no I/O, no locks).

A `Download` is what the Arr remembers about a torrent it grabbed (or found
in its category): which media it is for, and whether it was imported,
removed or scripted to fail. `queue_records` turns downloads plus the latest
qBittorrent torrent list into QueueResource objects the way the real Arrs
map qBittorrent states (Radarr's QBittorrent client: stalledDL is a warning,
metaDL is queued, a finished torrent is completed / importPending).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qbarr.sim.arr.library import Library
from qbarr.sim.arr.resources import iso, quality, span

UTC = UTC

# qBittorrent state -> (QueueStatus, client message or None)
STATE_MAP: dict[str, tuple[str, str | None]] = {
    "error": ("warning", "qBittorrent is reporting an error"),
    "missingFiles": ("warning", "The download is missing files"),
    "stalledDL": ("warning", "The download is stalled with no connections"),
    "metaDL": ("queued", "qBittorrent is downloading metadata"),
    "forcedMetaDL": ("queued", "qBittorrent is downloading metadata"),
    "pausedDL": ("paused", None),
    "stoppedDL": ("paused", None),
    "queuedDL": ("queued", None),
    "checkingDL": ("queued", None),
    "checkingResumeData": ("queued", None),
    "allocating": ("queued", None),
    "downloading": ("downloading", None),
    "forcedDL": ("downloading", None),
    "moving": ("downloading", None),
    "uploading": ("completed", None),
    "stalledUP": ("completed", None),
    "queuedUP": ("completed", None),
    "forcedUP": ("completed", None),
    "pausedUP": ("completed", None),
    "stoppedUP": ("completed", None),
    "checkingUP": ("completed", None),
}

# scripted failures: what the real Arrs show (per kind where the enums differ)
FAILURES: dict[str, dict[str, dict[str, Any]]] = {
    "import": {
        "radarr": {
            "state": "importBlocked",
            "status": "warning",
            "queue_status": "completed",
            "messages": [
                {"title": "{title}", "messages": ["Not an upgrade for existing movie file(s)"]}
            ],
        },
        "sonarr": {
            "state": "importBlocked",
            "status": "warning",
            "queue_status": "completed",
            "messages": [
                {"title": "{title}", "messages": ["Not an upgrade for existing episode file(s)"]}
            ],
        },
        "lidarr": {
            "state": "importBlocked",
            "status": "warning",
            "queue_status": "completed",
            "messages": [
                {
                    "title": "{title}",
                    "messages": ["Album match is not close enough: 61.2% vs 80% [Title, Tracks]"],
                }
            ],
        },
    },
    "download": {
        "radarr": {
            "state": "failedPending",
            "status": "error",
            "queue_status": "failed",
            "error": "Download failed: the torrent is corrupt",
        },
        "sonarr": {
            "state": "failedPending",
            "status": "error",
            "queue_status": "failed",
            "error": "Download failed: the torrent is corrupt",
        },
        "lidarr": {
            "state": "downloadFailedPending",
            "status": "error",
            "queue_status": "failed",
            "error": "Download failed: the torrent is corrupt",
        },
    },
}


@dataclass
class Download:
    """One grabbed (or adopted) torrent and the media it is for."""

    hash: str  # lower-case
    media_ids: tuple[int, ...]  # movie / episode / album ids; () = unknown item
    title: str
    quality_id: int
    grabbed: datetime
    source: str = "search"  # search | adopted | control
    indexer: str = "SimIndexer (Prowlarr)"
    failure: dict[str, Any] | None = None
    imported: bool = False
    removed: bool = False
    events: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return not (self.imported or self.removed)


def torrent_complete(torrent: dict[str, Any]) -> bool:
    return float(torrent.get("progress") or 0) >= 1.0 or (
        torrent.get("amount_left") == 0
        and (torrent.get("size") or torrent.get("total_size") or 0) > 0
    )


def failure_fields(kind: str, which: str, title: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The structured failure of one download: defaults per kind, then the caller's fields."""
    base = dict(FAILURES[which][kind])
    base["messages"] = [
        {
            "title": (m.get("title") or "").replace("{title}", title),
            "messages": list(m.get("messages") or []),
        }
        for m in base.get("messages", [])
    ]
    for key in ("state", "status", "queue_status", "messages", "error"):
        if key in overrides and overrides[key] is not None:
            base[key] = overrides[key]
    base["which"] = which
    return base


def queue_records(
    lib: Library,
    downloads: dict[str, Download],
    torrents: dict[str, dict[str, Any]],
    ids: dict[tuple[str, int], int],
    next_id: list[int],
    now: datetime,
) -> list[dict[str, Any]]:
    """All QueueResource records (unsorted). `ids`/`next_id` keep record ids stable."""
    out: list[dict[str, Any]] = []
    for torrent_hash, torrent in torrents.items():
        download = downloads.get(torrent_hash)
        if download is None or not download.active:
            continue
        for media_id in download.media_ids or (0,):
            key = (torrent_hash, media_id)
            if key not in ids:
                ids[key] = next_id[0]
                next_id[0] += 1
            out.append(record(lib, download, torrent, ids[key], media_id, now))
    return out


def record(
    lib: Library,
    download: Download,
    torrent: dict[str, Any],
    record_id: int,
    media_id: int,
    now: datetime,
) -> dict[str, Any]:
    """One QueueResource for (download, media item) with the kind's own fields."""
    kind = lib.kind
    # a magnet without metadata reports size -1 / 0: the Arrs show 0 left of 0
    size = max(0.0, float(torrent.get("size") or torrent.get("total_size") or 0))
    left = max(0.0, float(torrent.get("amount_left") or 0)) if size else 0.0
    eta = torrent.get("eta")
    complete = torrent_complete(torrent)
    status, message = STATE_MAP.get(str(torrent.get("state")), ("downloading", None))
    tracked_state = "importPending" if complete else "downloading"
    tracked_status = "ok"
    messages: list[dict[str, Any]] = []
    error = message
    if download.failure:
        tracked_state = download.failure["state"]
        tracked_status = download.failure["status"]
        status = download.failure.get("queue_status", status)
        messages = download.failure.get("messages") or []
        error = download.failure.get("error") or error
    if not download.media_ids:
        tracked_status = "warning"
        messages = [
            {
                "title": download.title,
                "messages": [
                    {
                        "radarr": "Unknown Movie",
                        "sonarr": "Unknown Series",
                        "lidarr": "Unknown Artist",
                    }[kind]
                ],
            }
        ]
    seconds_left = (
        None
        if complete
        else (float(eta) if isinstance(eta, (int, float)) and 0 <= eta < 8640000 else None)
    )
    added = torrent.get("added_on")
    rec: dict[str, Any] = {
        "id": record_id,
        "quality": quality(kind, download.quality_id),
        "customFormats": [],
        "customFormatScore": 0,
        "size": size,
        "title": download.title or str(torrent.get("name") or ""),
        "estimatedCompletionTime": iso(now + timedelta(seconds=seconds_left))
        if seconds_left is not None
        else None,
        "added": iso(datetime.fromtimestamp(added, UTC))
        if isinstance(added, (int, float)) and added > 0
        else iso(download.grabbed),
        "status": status,
        "trackedDownloadStatus": tracked_status,
        "trackedDownloadState": tracked_state,
        "statusMessages": messages,
        "errorMessage": error,
        "downloadId": download.hash.upper(),
        "protocol": "torrent",
        "downloadClient": "qBittorrent",
        "downloadClientHasPostImportCategory": False,
        "indexer": download.indexer,
        "outputPath": torrent.get("content_path") or torrent.get("save_path"),
        "sizeleft": left,
        "timeleft": span(seconds_left),
    }
    item = lib.items.get(media_id)
    if kind == "radarr":
        rec["movieId"] = item.id if item else None
        rec["languages"] = [{"id": 1, "name": "English"}]
    elif kind == "sonarr":
        rec["seriesId"] = item.parent_id if item else None
        rec["episodeId"] = item.id if item else None
        rec["seasonNumber"] = item.season if item else None
        rec["episodeHasFile"] = bool(item and item.has_file)
        rec["languages"] = [{"id": 1, "name": "English"}]
    else:
        rec["artistId"] = item.parent_id if item else None
        rec["albumId"] = item.id if item else None
        rec["trackFileCount"] = 0
        rec["trackHasFileCount"] = 0
        rec["downloadForced"] = False
    return rec


def sort_records(
    records: list[dict[str, Any]], sort_key: str | None, direction: str
) -> list[dict[str, Any]]:
    """Queue order: timeleft (unknown last), or added / title / progress / status."""
    name = (sort_key or "timeleft").rsplit(".", 1)[-1].lower()
    far = 10**12
    keys = {
        "timeleft": lambda r: (_seconds(r.get("timeleft"), far), r["id"]),
        "estimatedcompletiontime": lambda r: (r.get("estimatedCompletionTime") or "9", r["id"]),
        "added": lambda r: (r.get("added") or "", r["id"]),
        "title": lambda r: ((r.get("title") or "").lower(), r["id"]),
        "progress": lambda r: ((1 - r["sizeleft"] / r["size"]) if r.get("size") else 0, r["id"]),
        "status": lambda r: (r.get("status") or "", r["id"]),
        "size": lambda r: (r.get("size") or 0, r["id"]),
        "id": lambda r: r["id"],
    }
    return sorted(records, key=keys.get(name, keys["timeleft"]), reverse=direction == "descending")


def _seconds(value: str | None, default: int) -> float:
    if not value:
        return default
    days = 0
    if "." in value.split(":")[0]:
        head, value = value.split(".", 1)
        days = int(head)
    h, m, s = value.split(":")
    return days * 86400 + int(h) * 3600 + int(m) * 60 + float(s)
