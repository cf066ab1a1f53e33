"""Structured queue records.

The managers decide on `tracked_state` / `tracked_status` and the media ids,
never on English status text, so parsing lives here once, as a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qbarr.arr.kinds import ArrKind


@dataclass(frozen=True)
class QueueItem:
    """One record of an Arr queue (one per episode for a Sonarr season pack)."""

    id: int
    download_id: str  # lower-case info hash ("" for a non-torrent item)
    title: str
    status: str
    tracked_state: str | None
    tracked_status: str | None
    status_messages: list[str] = field(default_factory=list)
    error_message: str | None = None
    media: dict[str, int | list[int]] = field(default_factory=dict)
    protocol: str | None = None
    download_client: str | None = None
    output_path: str | None = None
    size: float | None = None
    sizeleft: float | None = None

    def __hash__(self) -> int:  # dict/list fields make the generated hash fail
        return hash((self.id, self.download_id))


def flatten_messages(messages: Any) -> list[str]:
    """statusMessages [{title, messages[]}] -> ["title", "message", ...] without blanks or
    repeats."""
    out: list[str] = []
    if not isinstance(messages, list):
        return out
    for entry in messages:
        if not isinstance(entry, dict):
            continue
        parts = [entry.get("title")] + list(entry.get("messages") or [])
        for text in parts:
            if isinstance(text, str) and text.strip() and text.strip() not in out:
                out.append(text.strip())
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_queue_record(kind: ArrKind, record: dict[str, Any]) -> QueueItem:
    """Turn one QueueResource JSON object into a QueueItem (tolerant of missing fields)."""
    media: dict[str, int | list[int]] = {}
    for name in kind.media_fields:
        value = record.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            media[name] = value
    download_id = record.get("downloadId")
    return QueueItem(
        id=int(record["id"]),
        download_id=download_id.lower() if isinstance(download_id, str) else "",
        title=_text(record.get("title")) or "",
        status=_text(record.get("status")) or "unknown",
        tracked_state=_text(record.get("trackedDownloadState")),
        tracked_status=_text(record.get("trackedDownloadStatus")),
        status_messages=flatten_messages(record.get("statusMessages")),
        error_message=_text(record.get("errorMessage")),
        media=media,
        protocol=_text(record.get("protocol")),
        download_client=_text(record.get("downloadClient")),
        output_path=_text(record.get("outputPath")),
        size=_number(record.get("size")),
        sizeleft=_number(record.get("sizeleft")),
    )
