"""A typed, version-neutral view of one qBittorrent torrent object.

qBittorrent 4.x says ``pausedUP``/``pausedDL``, 5.x says ``stoppedUP``/``stoppedDL`` for the
same thing; the policy only ever sees the 5.x names (``state``), while ``raw_state`` keeps what
qBittorrent sent for the journal. Missing or malformed fields get harmless defaults: a torrent
object from ``sync/maindata`` may lack fields a later diff fills in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qbarr.policy.settings import normalize_host
from qbarr.policy.trackers import TrackerView, view_of

INFINITE_ETA = 8640000  # qBittorrent's "infinite" ETA (100 days)

STATE_ALIASES = {"pausedUP": "stoppedUP", "pausedDL": "stoppedDL"}

STALL_STATES = frozenset({"stalledDL", "metaDL", "forcedMetaDL"})
ACTIVE_DL_STATES = frozenset({"downloading", "forcedDL"})
DOWNLOAD_STATES = STALL_STATES | ACTIVE_DL_STATES
WAIT_STATES = frozenset(
    {
        "checkingUP",
        "checkingDL",
        "checkingResumeData",
        "moving",
        "allocating",
        "queuedDL",
        "unknown",
    }
)
SEED_STATES = frozenset({"uploading", "stalledUP", "queuedUP", "forcedUP", "stoppedUP"})
STOPPED_STATES = frozenset({"stoppedUP", "stoppedDL"})
KNOWN_STATES = (
    STALL_STATES
    | ACTIVE_DL_STATES
    | WAIT_STATES
    | SEED_STATES
    | STOPPED_STATES
    | {"error", "missingFiles"}
)


def canonical_state(state: str) -> str:
    """The 5.x name of a state (``pausedDL`` -> ``stoppedDL``); unknown strings -> ``unknown``."""
    state = STATE_ALIASES.get(state, state)
    return state if state in KNOWN_STATES else "unknown"


@dataclass(frozen=True)
class TorrentFacts:
    """The fields of a torrent the rules use, typed."""

    hash: str
    name: str
    state: str
    raw_state: str
    category: str
    tags: frozenset[str]
    progress: float
    amount_left: int
    size: int
    completed: int
    ratio: float
    seeding_time: float
    eta: int
    availability: float
    added_on: float
    last_activity: float
    content_path: str
    tracker_host: str
    private: bool | None
    trackers: TrackerView | None = None  # the reader's last look-up of its trackers

    @property
    def complete(self) -> bool:
        """All wanted data is there and qBittorrent treats the torrent as a seed."""
        return _complete(self.state, self.amount_left, self.progress)

    @property
    def stopped(self) -> bool:
        return self.state in STOPPED_STATES

    def age(self, now: float, first_seen: float) -> float:
        """Seconds since the torrent was added (qBittorrent's added_on, else when qbarr first
        saw it)."""
        start = self.added_on if self.added_on > 0 else first_seen
        return max(0.0, now - start)

    @classmethod
    def from_qbt(cls, torrent_hash: str, t: Mapping[str, Any]) -> TorrentFacts:
        raw = str(t.get("state") or "unknown")
        tags = frozenset(x.strip() for x in str(t.get("tags") or "").split(",") if x.strip())
        private = t.get("private", t.get("is_private"))
        return cls(
            hash=torrent_hash.lower(),
            name=str(t.get("name") or ""),
            state=canonical_state(raw),
            raw_state=raw,
            category=str(t.get("category") or ""),
            tags=tags,
            progress=_float(t.get("progress"), 0.0),
            amount_left=_int(t.get("amount_left"), 0),
            size=_int(t.get("size"), 0),
            completed=_int(t.get("completed"), 0),
            ratio=_float(t.get("ratio"), 0.0),
            seeding_time=_float(t.get("seeding_time"), 0.0),
            eta=_int(t.get("eta"), INFINITE_ETA),
            availability=_float(t.get("availability"), -1.0),
            added_on=_float(t.get("added_on"), 0.0),
            last_activity=_float(t.get("last_activity"), 0.0),
            content_path=str(t.get("content_path") or ""),
            tracker_host=normalize_host(t.get("tracker")),
            private=bool(private) if isinstance(private, (bool, int)) else None,
            trackers=view_of(t),
        )


def _complete(state: str, amount_left: int, progress: float) -> bool:
    """The one definition of "complete" (state in its 5.x spelling)."""
    return state in SEED_STATES and amount_left == 0 and progress >= 0.9999


def is_complete(torrent: Mapping[str, Any]) -> bool:
    """:attr:`TorrentFacts.complete` of a raw torrent object (for the loop's own bookkeeping)."""
    return _complete(
        canonical_state(str(torrent.get("state") or "")),
        _int(torrent.get("amount_left"), 0),
        _float(torrent.get("progress"), 0.0),
    )


def needs_files(torrent: Mapping[str, Any]) -> bool:
    """Whether the loop should fetch ``torrents/files`` for this torrent (for unwanted-files).

    Only incomplete downloads with metadata are judged: not complete torrents, magnets without
    metadata, errored or checking ones.
    """
    state = canonical_state(str(torrent.get("state") or ""))
    if state in ("metaDL", "forcedMetaDL", "missingFiles", "error") or state.startswith("checking"):
        return False
    return not is_complete(torrent)


def _float(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value)


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value)


def _norm_path(path: str) -> str:
    return os.path.normpath(path).rstrip("/") if path else ""


def shared_content(torrents: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Hashes whose content path is shared with ANOTHER torrent (same path, or one inside the
    other).

    Pass every torrent qBittorrent has (all categories): a cross-seeded copy in another
    category still reads the same files, so deleting "with data" would break it.
    """
    paths: dict[str, str] = {}
    count: dict[str, int] = {}
    for h, t in torrents.items():
        p = _norm_path(str(t.get("content_path") or ""))
        if p:
            paths[h] = p
            count[p] = count.get(p, 0) + 1
    ancestors: set[str] = set()
    for p in count:
        parent = os.path.dirname(p)
        while parent and parent not in ("/", "."):
            ancestors.add(parent)
            parent = os.path.dirname(parent)
    shared = set()
    for h, p in paths.items():
        if count[p] > 1 or p in ancestors:
            shared.add(h.lower())
            continue
        parent = os.path.dirname(p)
        while parent and parent not in ("/", "."):
            if parent in count:
                shared.add(h.lower())
                break
            parent = os.path.dirname(parent)
    return frozenset(shared)
