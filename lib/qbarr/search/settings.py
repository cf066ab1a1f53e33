"""Typed search settings read from an instance's ``[[Search]]`` section.

configspec.ini types each key, rejects negative limits and unknown modes and holds every
default (read here through :func:`qbarr.config.spec_defaults`, never restated);
:mod:`qbarr.configchecks` adds the checks a configspec cannot express (a request source
enabled without a URL or key, requests on Lidarr), so the values here are usable as read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qbarr.config import spec_defaults
from qbarr.configchecks import REQUEST_SOURCES

_SEARCH = spec_defaults()["Arr"]["Search"]
_REQUESTS = _SEARCH[REQUEST_SOURCES[0]]  # every request source has the same defaults
# Not settings (config.ini has no key for them): how long a manager's re-search of an item
# waits after any search of it, and how often the search program re-reads the wanted lists.
RESEARCH_COOLDOWN = 600.0
WANTED_REFRESH = 900.0


@dataclass(frozen=True)
class RequestSettings:
    """One request source (``[[[Overseerr]]]`` or ``[[[Ombi]]]``)."""

    name: str
    enabled: bool = _REQUESTS["Enabled"]
    url: str = _REQUESTS["URL"]
    api_key: str = field(default=_REQUESTS["APIKey"], repr=False)
    approved_only: bool = _REQUESTS["ApprovedOnly"]
    is_4k: bool = _REQUESTS["Is4K"]
    request_limit: int = _REQUESTS["RequestLimit"]
    poll_every: float = _REQUESTS["PollEvery"]

    @classmethod
    def from_section(cls, name: str, section: Mapping[str, Any]) -> RequestSettings:
        sec = {**_REQUESTS, **section}
        return cls(
            name=name,
            enabled=bool(sec["Enabled"]),
            url=str(sec["URL"] or "").rstrip("/"),
            api_key=str(sec["APIKey"] or ""),
            approved_only=bool(sec["ApprovedOnly"]),
            is_4k=bool(sec["Is4K"]),
            request_limit=int(sec["RequestLimit"]),
            poll_every=float(sec["PollEvery"]),
        )


@dataclass(frozen=True)
class SearchSettings:
    """The ``[[Search]]`` settings of one instance, with the defaults of configspec.ini."""

    kind: str = "radarr"
    enabled: bool = _SEARCH["Enabled"]
    search_missing: bool = _SEARCH["SearchMissing"]
    search_cutoff_unmet: bool = _SEARCH["SearchCutoffUnmet"]
    search_upgrades: bool = _SEARCH["SearchUpgrades"]
    search_cf_unmet: bool = _SEARCH["SearchCustomFormatUnmet"]
    search_limit: int = _SEARCH["SearchLimit"]
    search_delay: float = _SEARCH["SearchDelay"]
    search_cooldown: float = _SEARCH["SearchCooldown"]
    max_per_day: int = _SEARCH["MaxSearchesPerDay"]
    max_per_hour: int = _SEARCH["MaxSearchesPerHour"]
    search_in_reverse: bool = _SEARCH["SearchInReverse"]
    unmonitored: bool = _SEARCH["Unmonitored"]
    search_specials: bool = _SEARCH["SearchSpecials"]
    series_mode: str = _SEARCH["SearchBySeries"]
    recent_days: int = _SEARCH["RecentDays"]
    rss_sync_every: float = _SEARCH["RssSyncEvery"]
    research_cooldown: float = RESEARCH_COOLDOWN
    wanted_refresh: float = WANTED_REFRESH
    requests: tuple[RequestSettings, ...] = ()
    use_temp_for_missing: bool = _SEARCH["UseTempForMissing"]
    temp_profile_timeout: float = _SEARCH["TempProfileTimeout"]
    profile_mappings: tuple[tuple[str, str], ...] = ()  # (main profile name, temp name)

    @classmethod
    def from_section(cls, kind: str, section: Mapping[str, Any]) -> SearchSettings:
        """Build from a validated ``[[Search]]`` section (a missing key takes its default)."""
        sec = {**_SEARCH, **section}
        requests = tuple(
            RequestSettings.from_section(name, section[name])
            for name in REQUEST_SOURCES
            if isinstance(section.get(name), Mapping)
        )
        return cls(
            kind=kind,
            enabled=bool(sec["Enabled"]),
            search_missing=bool(sec["SearchMissing"]),
            search_cutoff_unmet=bool(sec["SearchCutoffUnmet"]),
            search_upgrades=bool(sec["SearchUpgrades"]),
            search_cf_unmet=bool(sec["SearchCustomFormatUnmet"]),
            search_limit=int(sec["SearchLimit"]),
            search_delay=float(sec["SearchDelay"]),
            search_cooldown=float(sec["SearchCooldown"]),
            max_per_day=int(sec["MaxSearchesPerDay"]),
            max_per_hour=int(sec["MaxSearchesPerHour"]),
            search_in_reverse=bool(sec["SearchInReverse"]),
            unmonitored=bool(sec["Unmonitored"]),
            search_specials=bool(sec["SearchSpecials"]),
            series_mode=str(sec["SearchBySeries"]),
            recent_days=int(sec["RecentDays"]),
            rss_sync_every=float(sec["RssSyncEvery"]),
            requests=requests,
            use_temp_for_missing=bool(sec["UseTempForMissing"]),
            temp_profile_timeout=float(sec["TempProfileTimeout"]),
            profile_mappings=_mappings(sec.get("QualityProfileMappings")),
        )

    def temp_profile_for(self, main: str) -> str | None:
        """The temporary profile name for a main profile name (None: not mapped or off)."""
        if not self.use_temp_for_missing:
            return None
        return dict(self.profile_mappings).get(main)

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
        return min(polls) if polls else _REQUESTS["PollEvery"]


def _mappings(section: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(section, Mapping):
        return ()
    return tuple(
        (str(k).strip(), str(v).strip())
        for k, v in section.items()
        if not isinstance(v, Mapping) and str(k).strip() and str(v).strip()
    )


def settings_for(instance: Any) -> SearchSettings:
    """SearchSettings of a :class:`qbarr.config.Instance`."""
    return SearchSettings.from_section(instance.kind, instance.section["Search"])
