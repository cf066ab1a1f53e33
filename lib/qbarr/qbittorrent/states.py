"""Torrent state strings of qBittorrent 4.5 and 5.x, grouped the way rules need them.

5.x renamed pausedUP/pausedDL to stoppedUP/stoppedDL; both spellings are in every
group so callers never branch on the version.
"""

from __future__ import annotations

STOPPED = frozenset({"pausedUP", "pausedDL", "stoppedUP", "stoppedDL"})
STOPPED_UP = frozenset({"pausedUP", "stoppedUP"})
STOPPED_DL = frozenset({"pausedDL", "stoppedDL"})
CHECKING = frozenset({"checkingUP", "checkingDL", "checkingResumeData"})
QUEUED = frozenset({"queuedUP", "queuedDL"})
METADATA = frozenset({"metaDL", "forcedMetaDL"})
STALLED = frozenset({"stalledUP", "stalledDL"})
ERRORED = frozenset({"error", "missingFiles"})
SEEDING = frozenset({"uploading", "stalledUP", "forcedUP", "queuedUP", "checkingUP"})
COMPLETE = SEEDING | STOPPED_UP
DOWNLOADING = frozenset(
    {
        "downloading",
        "metaDL",
        "forcedMetaDL",
        "stalledDL",
        "checkingDL",
        "pausedDL",
        "stoppedDL",
        "queuedDL",
        "forcedDL",
    }
)
ALL = frozenset(
    SEEDING
    | STOPPED
    | CHECKING
    | QUEUED
    | METADATA
    | ERRORED
    | DOWNLOADING
    | {"moving", "unknown", "allocating"}
)
