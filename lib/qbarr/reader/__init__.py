"""One reader per qBittorrent, whose snapshot every manager of that qBittorrent uses.

Several Arr instances usually share one qBittorrent. Instead of one poll per manager, the
manager that holds the qBittorrent's lock file runs a reader thread that polls qBittorrent
(:mod:`~qbarr.reader.plan`: what to ask and how often, by version) and publishes what changed
into the database (:mod:`~qbarr.reader.feed`); every manager, that one included, reads its
snapshot from there (:mod:`~qbarr.reader.source`, the manager's snapshot source). N
instances cost one poll. docs/architecture.md ("Inside an Arr manager") explains the choice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbarr import lazy

from .feed import FeedState, Follower, feed_state
from .plan import PlanSettings

if TYPE_CHECKING:
    from .source import CLIENT, FeedSource, FeedStale

# The source (the reader thread, the qBittorrent client, httpx) on first use: the web UI
# reads the feed (.feed) and never polls.
__getattr__ = lazy.exports(
    __name__, {"CLIENT": "source", "FeedSource": "source", "FeedStale": "source"}
)

__all__ = [
    "CLIENT",
    "FeedSource",
    "FeedStale",
    "FeedState",
    "Follower",
    "PlanSettings",
    "feed_state",
]
