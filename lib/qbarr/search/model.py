"""Plain data shared by the search planner, the program loop and the search journal
(qbarr.searchlog).

Everything here is immutable and free of I/O so that the planner can be tested with
tables and properties. Item keys (``movie:123``, ``episode:456``, ``series:7``,
``album:9``) are what the ``searches`` and ``search_cooldowns`` tables store; the same
keys are used by the Arr managers' re-searches, which is how both paths share cooldowns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Why an item is wanted, in the order the planner serves them ("customformat": the file met
# the quality cutoff but its custom-format score is below the profile's cutoffFormatScore).
TIERS = ("request", "recent", "missing", "cutoff", "customformat", "upgrade")
TIER_RANK = {name: rank for rank, name in enumerate(TIERS)}

# Arr command names that count as "a search running in the Arr".
SEARCH_STATUSES_RUNNING = frozenset({"queued", "started"})


def item_key(media: str, media_id: int) -> str:
    """``movie:123`` and friends: the key of one searchable thing."""
    return f"{media}:{int(media_id)}"


@dataclass(frozen=True)
class WantedItem:
    """One movie, episode or album the Arr reports as wanted.

    ``released`` is the release / air date (Unix seconds) or None when the Arr does not
    know it; ``available`` is False for things not released yet (never searched).
    ``ext_ids`` carries ``tmdb`` / ``tvdb`` / ``imdb`` ids used to match requests.
    """

    media: str  # movie | episode | album
    id: int
    tier: str  # missing | cutoff | customformat | upgrade
    title: str = ""
    monitored: bool = True
    released: float | None = None
    available: bool = True
    series_id: int | None = None
    season: int | None = None
    ext_ids: Mapping[str, int] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return item_key(self.media, self.id)

    @property
    def cooldown_keys(self) -> tuple[str, ...]:
        """Keys whose recent search makes this item too fresh (an episode's series too)."""
        if self.media == "episode" and self.series_id is not None:
            return (self.key, item_key("series", self.series_id))
        return (self.key,)


@dataclass(frozen=True)
class RequestItem:
    """An approved, unavailable request from Overseerr or Ombi, mapped to Arr ids.

    ``media`` is ``movie`` (``tmdb`` id) or ``series`` (``tvdb`` id); ``source`` names
    the request service; ``requested_at`` orders requests (oldest first). ``arr_id`` is
    the Arr's own id once resolved (the Sonarr series id of a TVDB request); without it
    requests match wanted items by their external ids.
    """

    source: str
    media: str
    tmdb: int | None = None
    tvdb: int | None = None
    request_id: int | None = None
    requested_at: float = 0.0
    title: str = ""
    arr_id: int | None = None


@dataclass(frozen=True)
class PlannedSearch:
    """One search command to send now.

    ``command`` is the :meth:`search_media` mode (``movie``, ``episode``, ``season``,
    ``series``, ``album``); ``ids`` the media ids passed to it; ``keys`` every item key to
    record (a series search records the series and each covered episode; a season search
    each covered episode, so other seasons are not cooled down).
    """

    command: str
    ids: tuple[int, ...]
    keys: tuple[str, ...]
    reason: str
    title: str = ""
    series_id: int | None = None
    detail: str = ""
    season: int | None = None

    @property
    def key(self) -> str:
        """The key shown first in the journal (the series for a series search)."""
        return self.keys[0]


@dataclass(frozen=True)
class Usage:
    """What the journal says about recent searches of one instance (all paths).

    ``*_frees_at`` are when the oldest search of each window leaves it (the earliest
    time a spent budget gives a slot back); qbarr.searchlog computes them.
    """

    last_24h: int = 0
    last_hour: int = 0
    requests_in_window: int = 0
    last_command_at: float | None = None
    day_frees_at: float | None = None
    hour_frees_at: float | None = None
    requests_frees_at: float | None = None


@dataclass(frozen=True)
class Plan:
    """The planner's answer: what to send now, why nothing else, and when to look again.

    ``blocked`` is one of ``""`` (nothing blocked), ``limit`` (SearchLimit reached),
    ``delay`` (SearchDelay not elapsed), ``budget`` (daily budget spent), ``hourly``
    (hourly share spent), ``idle`` (nothing eligible). ``pending`` counts eligible
    search units not sent this time. ``wake_at`` is the earliest time a new plan could
    send something (None: only new data can change the answer).
    """

    searches: tuple[PlannedSearch, ...] = ()
    blocked: str = ""
    pending: int = 0
    wake_at: float | None = None
    skipped: Mapping[str, int] = field(default_factory=dict)
