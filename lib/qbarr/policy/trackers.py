"""What a torrent's trackers said, as the reader last looked them up (pure).

The reader publishes, with a torrent's fields, ``qbarr_trackers``: ``{"at": when, "rows":
[{"url", "status", "msg"}]}`` (``torrents/trackers`` without the DHT/PeX/LSD rows). Status 0
disabled, 1 not contacted yet, 2 working, 3 updating, 4 not working; qBittorrent 5.2 adds 5
tracker error and 6 unreachable. The messages arrive like file lists: they are inputs of the
policy, never fetched inside it.

:func:`verdict`: ``unregistered`` when every tracker fails with a message of
``UnregisteredMessages``; ``error`` when every tracker fails otherwise (or some with such a
message and some without); ``ok`` when one works (or is still being asked), or when
qBittorrent's own ``tracker`` field names a working tracker (the look-up may be older);
``unknown`` when there is no look-up or no tracker to judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRACKERS_KEY = "qbarr_trackers"
FAILING = frozenset({4, 5, 6})


@dataclass(frozen=True)
class TrackerRow:
    url: str
    status: int
    msg: str


@dataclass(frozen=True)
class TrackerView:
    at: float
    rows: tuple[TrackerRow, ...]

    def messages(self) -> list[str]:
        """The failing trackers' messages, for the journal (``qbarr why`` shows them)."""
        return [f"{r.url}: {r.msg or 'not working'}" for r in self.rows if r.status in FAILING]


def view_of(t: Mapping[str, Any]) -> TrackerView | None:
    info = t.get(TRACKERS_KEY)
    if not isinstance(info, Mapping):
        return None
    rows = []
    for r in info.get("rows") or ():
        if isinstance(r, Mapping):
            try:
                rows.append(
                    TrackerRow(
                        str(r.get("url") or ""), int(r.get("status") or 0), str(r.get("msg") or "")
                    )
                )
            except (TypeError, ValueError):
                continue
    try:
        at = float(info.get("at") or 0)
    except (TypeError, ValueError):
        at = 0.0
    return TrackerView(at, tuple(rows))


def matches(msg: str, patterns: Sequence[str]) -> bool:
    low = msg.lower()
    return any(p and p.lower() in low for p in patterns)


def verdict(view: TrackerView | None, working_tracker: str, patterns: Sequence[str]) -> str:
    if working_tracker:
        return "ok"
    if view is None:
        return "unknown"
    real = [r for r in view.rows if r.status != 0]
    if not real:
        return "unknown"
    if not all(r.status in FAILING for r in real):
        return "ok"
    if all(matches(r.msg, patterns) for r in real):
        return "unregistered"
    return "error"
