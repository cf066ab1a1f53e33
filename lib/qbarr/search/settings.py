"""Typed search settings read from an instance's ``[[Search]]`` section.

configspec.ini types each key and rejects negative limits and unknown modes;
:mod:`qbarr.configchecks` adds the checks a configspec cannot express (a request source
enabled without a URL or key, requests on Lidarr), so the values here are usable as read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qbarr.configchecks import REQUEST_SOURCES


@dataclass(frozen=True)
class RequestSettings:
    """One request source (``[[[Overseerr]]]`` or ``[[[Ombi]]]``)."""

    name: str
    enabled: bool = False
    url: str = ""
    api_key: str = field(default="", repr=False)
    approved_only: bool = True
    is_4k: bool = False
    request_limit: int = 5
    poll_every: float = 300.0

    @classmethod
    def from_section(cls, name: str, sec: Mapping[str, Any]) -> RequestSettings:
        return cls(
            name=name,
            enabled=bool(sec.get("Enabled", False)),
            url=str(sec.get("URL", "") or "").rstrip("/"),
            api_key=str(sec.get("APIKey", "") or ""),
            approved_only=bool(sec.get("ApprovedOnly", True)),
            is_4k=bool(sec.get("Is4K", False)),
            request_limit=int(sec.get("RequestLimit", 5)),
            poll_every=float(sec.get("PollEvery", 300.0)),
        )


@dataclass(frozen=True)
class SearchSettings:
    """The ``[[Search]]`` settings of one instance, with the defaults of configspec.ini."""

    kind: str = "radarr"
    enabled: bool = False
    search_missing: bool = True
    search_cutoff_unmet: bool = True
    search_upgrades: bool = False
    search_limit: int = 3
    search_delay: float = 30.0
    search_cooldown: float = 86400.0
    max_per_day: int = 250
    max_per_hour: int = 0
    search_in_reverse: bool = False
    unmonitored: bool = False
    search_specials: bool = False
    series_mode: str = "smart"
    recent_days: int = 7
    rss_sync_every: float = 0.0
    research_cooldown: float = 600.0
    wanted_refresh: float = 900.0
    requests: tuple[RequestSettings, ...] = ()

    @classmethod
    def from_section(cls, kind: str, sec: Mapping[str, Any]) -> SearchSettings:
        """Build from a validated ``[[Search]]`` section (a missing key takes its default)."""
        d = cls()
        requests = tuple(
            RequestSettings.from_section(name, sec[name])
            for name in REQUEST_SOURCES
            if isinstance(sec.get(name), Mapping)
        )
        return cls(
            kind=kind,
            enabled=bool(sec.get("Enabled", d.enabled)),
            search_missing=bool(sec.get("SearchMissing", d.search_missing)),
            search_cutoff_unmet=bool(sec.get("SearchCutoffUnmet", d.search_cutoff_unmet)),
            search_upgrades=bool(sec.get("SearchUpgrades", d.search_upgrades)),
            search_limit=int(sec.get("SearchLimit", d.search_limit)),
            search_delay=float(sec.get("SearchDelay", d.search_delay)),
            search_cooldown=float(sec.get("SearchCooldown", d.search_cooldown)),
            max_per_day=int(sec.get("MaxSearchesPerDay", d.max_per_day)),
            max_per_hour=int(sec.get("MaxSearchesPerHour", d.max_per_hour)),
            search_in_reverse=bool(sec.get("SearchInReverse", d.search_in_reverse)),
            unmonitored=bool(sec.get("Unmonitored", d.unmonitored)),
            search_specials=bool(sec.get("SearchSpecials", d.search_specials)),
            series_mode=str(sec.get("SearchBySeries", d.series_mode)),
            recent_days=int(sec.get("RecentDays", d.recent_days)),
            rss_sync_every=float(sec.get("RssSyncEvery", d.rss_sync_every)),
            research_cooldown=float(sec.get("ReSearchCooldown", d.research_cooldown)),
            wanted_refresh=float(sec.get("WantedRefresh", d.wanted_refresh)),
            requests=requests,
        )

    @property
    def hourly_cap(self) -> int | None:
        """Searches allowed in any rolling hour (None = no hourly cap).

        ``MaxSearchesPerHour = 0`` spreads the daily budget evenly over the day
        (ceil(MaxSearchesPerDay / 24)); -1 turns the hourly cap off.
        """
        if self.max_per_hour > 0:
            return self.max_per_hour
        if self.max_per_hour < 0 or self.max_per_day <= 0:
            return None
        return max(1, math.ceil(self.max_per_day / 24))

    @property
    def enabled_requests(self) -> tuple[RequestSettings, ...]:
        return tuple(r for r in self.requests if r.enabled)

    @property
    def request_limit(self) -> int | None:
        """Request searches allowed per request window (sum over enabled sources).

        None (no limit) when no source is enabled: requests then only come from callers
        that pass them explicitly (tests, a future source) and are paced like the rest.
        """
        sources = self.enabled_requests
        return sum(r.request_limit for r in sources) if sources else None

    @property
    def request_window(self) -> float:
        """The window RequestLimit counts in: the shortest PollEvery of the sources."""
        polls = [r.poll_every for r in self.enabled_requests]
        return min(polls) if polls else 300.0


def settings_for(instance: Any) -> SearchSettings:
    """SearchSettings of a :class:`qbarr.config.Instance`."""
    return SearchSettings.from_section(instance.kind, instance.section["Search"])
