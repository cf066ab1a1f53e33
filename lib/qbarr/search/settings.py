"""Typed search settings read from an instance's ``[[Search]]`` section, and their checks.

configspec.ini already types each key and rejects negative limits and unknown modes;
:func:`validate_instance` adds the checks a configspec cannot express (a request source
enabled without a URL or key, requests on Lidarr). config.load calls it and reports the
lines together with every other problem, each naming the file, section and key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERIES_MODES = ("smart", "episode", "series")
REQUEST_SOURCES = ("Overseerr", "Ombi")


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
    search_cf_unmet: bool = False
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
    use_temp_for_missing: bool = False
    temp_profile_timeout: float = 0.0
    profile_mappings: tuple[tuple[str, str], ...] = ()  # (main profile name, temp name)

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
            search_cf_unmet=bool(sec.get("SearchCustomFormatUnmet", d.search_cf_unmet)),
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
            use_temp_for_missing=bool(sec.get("UseTempForMissing", d.use_temp_for_missing)),
            temp_profile_timeout=float(sec.get("TempProfileTimeout", d.temp_profile_timeout)),
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
        return min(polls) if polls else 300.0


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


def _where(path: Path | str, sections: list[str], key: str) -> str:
    return f"{path}: [{']['.join(sections)}] {key}"


def validate_instance(
    path: Path | str, name: str, kind: str, section: Mapping[str, Any]
) -> list[str]:
    """Cross-field checks of one instance's ``[[Search]]``; one clear line per problem."""
    search = section.get("Search")
    if not isinstance(search, Mapping):
        return []
    problems: list[str] = []
    mode = search.get("SearchBySeries", "smart")
    if mode not in SERIES_MODES:  # configspec catches this too; kept for direct callers
        problems.append(
            f"{_where(path, [name, 'Search'], 'SearchBySeries')} = {mode!r} is invalid: "
            f"expected one of {', '.join(SERIES_MODES)}"
        )
    if search.get("UseTempForMissing") is True:
        if not _mappings(search.get("QualityProfileMappings")):
            problems.append(
                f"{_where(path, [name, 'Search'], 'UseTempForMissing')} = true needs at least one "
                f"line in [{name}][Search][QualityProfileMappings] (Main profile = Temp profile)"
            )
        if search.get("SearchMissing") is False:
            problems.append(
                f"{_where(path, [name, 'Search'], 'UseTempForMissing')} = true is invalid with "
                "SearchMissing = false: the temporary profile is for missing items"
            )
    for source in REQUEST_SOURCES:
        sec = search.get(source)
        if not isinstance(sec, Mapping) or sec.get("Enabled") is not True:
            continue  # not enabled (or not a boolean: configspec reports that one)
        problems += _request_problems(path, [name, "Search", source], kind, source, sec)
    return problems


def _request_problems(
    path: Path | str, where: list[str], kind: str, source: str, sec: Mapping[str, Any]
) -> list[str]:
    problems = []
    url = str(sec.get("URL", "") or "").strip()
    if kind not in ("radarr", "sonarr"):
        problems.append(
            f"{_where(path, where, 'Enabled')} = true is invalid: {source} requests are for "
            f"Radarr and Sonarr instances only (this one is {kind})"
        )
    if not url:
        problems.append(
            f"{_where(path, where, 'URL')} is empty: {source} is enabled, so set its address "
            f"(e.g. http://127.0.0.1:{5055 if source == 'Overseerr' else 3579}) "
            "or set Enabled = false"
        )
    elif not url.lower().startswith(("http://", "https://")):
        problems.append(
            f"{_where(path, where, 'URL')} = {url!r} is invalid: "
            "expected an http:// or https:// address"
        )
    if not str(sec.get("APIKey", "") or "").strip():
        problems.append(
            f"{_where(path, where, 'APIKey')} is empty: {source} is enabled, so set its API key "
            f"(Settings > General in {source}) or set Enabled = false"
        )
    return problems
