"""The Arr simulator's history: what happened to each download, as ``GET history`` lists it.

The Arrs keep history for months, unlike their command list (finished commands for minutes),
so it is where a client finds out, long after, whether a download was imported. The
simulator records the events qbarr reads: ``grabbed`` when a release is sent to qBittorrent,
the kind's import event when a scan imports it (Radarr and Sonarr ``downloadFolderImported``
per movie or episode; Lidarr ``downloadImported`` per album), ``downloadFailed`` when a
queue item is deleted with blocklist. Records have the fields of each kind's
HistoryResource in the published documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qbarr.sim.arr.library import Library
from qbarr.sim.arr.resources import iso, quality

IMPORTED = {
    "radarr": "downloadFolderImported",
    "sonarr": "downloadFolderImported",
    "lidarr": "downloadImported",
}
MAX_EVENTS = 100_000  # a long bench keeps memory bounded: the oldest go first


@dataclass
class Event:
    id: int
    event_type: str
    download_id: str  # upper-case hash, as the Arrs store a qBittorrent download id
    media_id: int | None
    title: str
    quality_id: int
    date: datetime
    data: dict[str, str] = field(default_factory=dict)


class History:
    """Every event, oldest first; ``page()`` answers ``GET history``."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._next_id = 1

    def add(
        self,
        event_type: str,
        download_hash: str,
        media_ids: tuple[int, ...],
        title: str,
        quality_id: int,
        date: datetime,
        **data: str,
    ) -> None:
        for media_id in media_ids or (None,):
            self.events.append(
                Event(
                    self._next_id,
                    event_type,
                    download_hash.upper(),
                    media_id,
                    title,
                    quality_id,
                    date,
                    dict(data),
                )
            )
            self._next_id += 1
        del self.events[:-MAX_EVENTS]

    def select(self, download_id: str | None, descending: bool) -> list[Event]:
        found = [
            e
            for e in self.events
            if download_id is None or e.download_id.lower() == download_id.lower()
        ]
        return sorted(found, key=lambda e: (e.date, e.id), reverse=descending)


def resource(lib: Library, event: Event) -> dict[str, Any]:
    """One HistoryResource with the kind's own media id fields."""
    kind = lib.kind
    rec: dict[str, Any] = {
        "id": event.id,
        "sourceTitle": event.title,
        "quality": quality(kind, event.quality_id),
        "customFormats": [],
        "customFormatScore": 0,
        "qualityCutoffNotMet": False,
        "date": iso(event.date),
        "downloadId": event.download_id,
        "eventType": event.event_type,
        "data": dict(event.data),
    }
    item = lib.items.get(event.media_id) if event.media_id is not None else None
    if kind == "radarr":
        rec["movieId"] = item.id if item else 0
        rec["languages"] = [{"id": 1, "name": "English"}]
    elif kind == "sonarr":
        rec["episodeId"] = item.id if item else 0
        rec["seriesId"] = item.parent_id if item else 0
        rec["languages"] = [{"id": 1, "name": "English"}]
    else:
        rec["albumId"] = item.id if item else 0
        rec["artistId"] = item.parent_id if item else 0
        rec["trackId"] = 0
    return rec
