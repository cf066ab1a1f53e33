"""Which torrents' trackers to look up, within a budget (``torrents/trackers`` is one call per
torrent). Pure: the reader calls :meth:`TrackerPlan.pick` at each tick and reports results.

A look-up is made only:

1. when a watched torrent's state or its ``tracker`` field (qBittorrent's first working
   tracker, empty when none works) changed since its last look-up, those without a working
   tracker first;
2. for a torrent with no working tracker, again every ``DEAD_RECHECK`` seconds (that is
   where "unregistered" shows);
3. for a rolling sample of the others, oldest look-up first (none looked at within
   ``SAMPLE_AGE``: a small library is not asked about all the time);

and never more than ``per_minute`` calls a minute per qBittorrent (a token bucket that holds
at most one minute of calls): at 2,000 torrents that is 60 calls a minute by default, where
polling every torrent's trackers every cycle would be thousands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEAD_RECHECK = 300.0  # seconds between look-ups of a torrent without a working tracker
SAMPLE_AGE = 600.0  # the rolling sample looks again at a torrent at most this often
# torrents/trackers rows that are not trackers (DHT, PeX, LSD) start with "** ["
PSEUDO = "** ["


@dataclass
class Looked:
    at: float
    state: str
    tracker: str


@dataclass
class TrackerPlan:
    per_minute: int = 60
    tokens: float = 0.0
    refilled_at: float | None = None
    looked: dict[str, Looked] = field(default_factory=dict)

    def _refill(self, now: float) -> None:
        if self.refilled_at is None:
            self.refilled_at, self.tokens = now, min(float(self.per_minute), 1.0)
            return
        rate = self.per_minute / 60.0
        self.tokens = min(float(self.per_minute), self.tokens + (now - self.refilled_at) * rate)
        self.refilled_at = now

    def pick(self, torrents: Mapping[str, Mapping[str, Any]], now: float) -> list[str]:
        """The hashes to look up now (``torrents``: the watched ones, hash -> fields)."""
        if self.per_minute <= 0:
            return []
        self._refill(now)
        budget = int(self.tokens)
        if budget <= 0:
            return []
        for h in set(self.looked) - set(torrents):
            del self.looked[h]
        changed_dead: list[tuple[float, str]] = []
        changed: list[tuple[float, str]] = []
        dead: list[tuple[float, str]] = []
        rest: list[tuple[float, str]] = []
        for h, t in torrents.items():
            state, tracker = str(t.get("state") or ""), str(t.get("tracker") or "")
            seen = self.looked.get(h)
            no_tracker = not tracker
            if seen is None or seen.state != state or seen.tracker != tracker:
                (changed_dead if no_tracker else changed).append((seen.at if seen else 0.0, h))
            elif no_tracker and now - seen.at >= DEAD_RECHECK:
                dead.append((seen.at, h))
            elif now - seen.at >= SAMPLE_AGE:
                rest.append((seen.at, h))
        chosen: list[str] = []
        for group in (changed_dead, changed, dead, rest):
            if len(chosen) >= budget:
                break
            chosen += [h for _, h in sorted(group)[: budget - len(chosen)]]
        self.tokens -= len(chosen)
        return chosen

    def done(self, h: str, t: Mapping[str, Any], now: float) -> None:
        self.looked[h] = Looked(now, str(t.get("state") or ""), str(t.get("tracker") or ""))


def summary(rows: Iterable[Mapping[str, Any]], now: float) -> dict[str, Any]:
    """What the feed publishes of a torrents/trackers answer: the real trackers' url, status
    and msg (the DHT/PeX/LSD rows left out), and when they were read."""
    return {
        "at": round(now, 1),
        "rows": [
            {
                "url": str(r.get("url")),
                "status": int(r.get("status") or 0),
                "msg": str(r.get("msg") or ""),
            }
            for r in rows
            if not str(r.get("url") or "").startswith(PSEUDO)
        ],
    }
