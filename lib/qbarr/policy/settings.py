"""The settings the policy reads, taken from one Arr section and ``[Settings]`` of config.ini.

Every default is read from ``configspec.ini`` (:func:`qbarr.config.spec_defaults`), never
restated here, so a key missing from a hand-made mapping, or a field left out when a test
builds the dataclass, behaves like the validated default. Durations are seconds, sizes
bytes. A value <= 0 switches a timer or limit off; every 0 is documented in RULE_DOCS and in
docs/rules.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from qbarr.config import spec_defaults

REMOVE_MODES = ("never", "ratio", "time", "either", "both")
SEED_ACTIONS = ("remove", "pause")

_SPEC = spec_defaults()
_SETTINGS, _ARR, _TRACKER = _SPEC["Settings"], _SPEC["Arr"], _SPEC["Tracker"]
_TORRENT, _SEEDING = _ARR["Torrent"], _ARR["Torrent"]["SeedingMode"]

VIDEO_EXTENSIONS = (
    ".mkv",
    ".mk3d",
    ".mp4",
    ".m4v",
    ".avi",
    ".mov",
    ".wmv",
    ".asf",
    ".mpg",
    ".mpeg",
    ".m2v",
    ".m2ts",
    ".mts",
    ".ts",
    ".webm",
    ".vob",
    ".ifo",
    ".bup",
    ".iso",
    ".img",
    ".divx",
    ".xvid",
    ".flv",
    ".ogv",
    ".ogm",
    ".rmvb",
    ".wtv",
)
SUBTITLE_EXTENSIONS = (".srt", ".ass", ".ssa", ".sub", ".idx", ".sup", ".vtt", ".smi")
AUDIO_EXTENSIONS = (
    ".flac",
    ".mp3",
    ".m4a",
    ".m4b",
    ".aac",
    ".ogg",
    ".oga",
    ".opus",
    ".wav",
    ".wma",
    ".ape",
    ".wv",
    ".alac",
    ".aif",
    ".aiff",
    ".dsf",
    ".dff",
    ".mka",
    ".mpc",
)
# Suffixes of data still being written: qBittorrent's ".!qB" (stripped before matching) and
# its ".parts" piece file are never what excludes a file.
PARTIAL_SUFFIXES = (".!qb",)
ALWAYS_ALLOWED = (".parts",)


def default_allowlist(kind: str) -> tuple[str, ...]:
    """The built-in FileExtensionAllowlist of an Arr kind (used when the setting is empty)."""
    if kind == "lidarr":
        return AUDIO_EXTENSIONS
    return VIDEO_EXTENSIONS + SUBTITLE_EXTENSIONS


class PolicyConfigError(ValueError):
    """A setting cannot be used by the policy (e.g. a regex that does not compile)."""


@dataclass(frozen=True)
class TrackerRule:
    """One ``[[[Trackers]]]`` entry: limits that override SeedingMode, and hit-and-run rules."""

    name: str
    host: str
    max_ratio: float = _TRACKER["MaxUploadRatio"]
    max_seeding_time: float = _TRACKER["MaxSeedingTime"]
    maximum_eta: float = _TRACKER["MaximumETA"]
    hit_and_run: bool = _TRACKER["HitAndRun"]
    hnr_mode: str = _TRACKER["HitAndRunMode"]
    min_seed_ratio: float = _TRACKER["MinSeedRatio"]
    min_seed_days: float = _TRACKER["MinSeedDays"]
    min_download_percent: float = _TRACKER["MinDownloadPercent"]
    partial_seed_ratio: float = _TRACKER["PartialSeedRatio"]
    obligation_action: str = _TRACKER["ObligationAction"]

    def matches(self, host: str | None) -> bool:
        """The torrent's tracker host is this Host or one of its subdomains."""
        if not host:
            return False
        return host == self.host or host.endswith("." + self.host)


@dataclass(frozen=True)
class PolicySettings:
    """Everything ``decide()`` needs from config.ini, typed and with defaults."""

    kind: str = "radarr"
    category: str = "radarr"
    failed_category: str = _SETTINGS["FailedCategory"]
    recheck_category: str = _SETTINGS["RecheckCategory"]
    protected_tag: str = _SETTINGS["ProtectedTag"]
    free_space: int = _SETTINGS["FreeSpace"]
    re_search: bool = _ARR["ReSearch"]
    import_mode: str = _ARR["ImportMode"]
    ignore_younger_than: float = _TORRENT["IgnoreYoungerThan"]
    stalled_delay: float = _TORRENT["StalledDelay"]
    re_search_stalled: bool = _TORRENT["ReSearchStalled"]
    maximum_eta: float = _TORRENT["MaximumETA"]
    slow_strikes: int = _TORRENT["SlowStrikes"]
    max_rechecks: int = _TORRENT["MaxRechecks"]
    case_sensitive: bool = _TORRENT["CaseSensitiveMatches"]
    folder_exclusions: tuple[str, ...] = tuple(_TORRENT["FolderExclusionRegex"])
    name_exclusions: tuple[str, ...] = tuple(_TORRENT["FileNameExclusionRegex"])
    extension_allowlist: tuple[str, ...] = tuple(_TORRENT["FileExtensionAllowlist"])
    verify_media: bool = _TORRENT["VerifyMedia"]
    max_ratio: float = _SEEDING["MaxUploadRatio"]
    max_seeding_time: float = _SEEDING["MaxSeedingTime"]
    remove_mode: str = _SEEDING["RemoveMode"]
    seed_action: str = _SEEDING["Action"]
    trackers: tuple[TrackerRule, ...] = ()
    _folder_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _name_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _allowlist: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    _tracker_cache: dict[str, TrackerRule | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.remove_mode not in REMOVE_MODES:
            raise PolicyConfigError(
                f"RemoveMode = {self.remove_mode!r}: expected one of {', '.join(REMOVE_MODES)}"
            )
        if self.seed_action not in SEED_ACTIONS:
            raise PolicyConfigError(f"Action = {self.seed_action!r}: expected remove or pause")
        flags = 0 if self.case_sensitive else re.IGNORECASE
        object.__setattr__(
            self, "_folder_re", _compile("FolderExclusionRegex", self.folder_exclusions, flags)
        )
        object.__setattr__(
            self, "_name_re", _compile("FileNameExclusionRegex", self.name_exclusions, flags)
        )
        object.__setattr__(self, "_allowlist", self._effective_allowlist())

    # -- derived values ---------------------------------------------------

    @property
    def folder_re(self) -> re.Pattern[str] | None:
        return self._folder_re

    @property
    def name_re(self) -> re.Pattern[str] | None:
        return self._name_re

    @property
    def allowlist(self) -> tuple[str, ...]:
        """The effective extension allowlist (lower case, with dots); ``("*",)`` allows all.
        Computed once: the files rule asks for it for every unfinished torrent every cycle."""
        return self._allowlist

    def _effective_allowlist(self) -> tuple[str, ...]:
        entries = self.extension_allowlist or default_allowlist(self.kind)
        out = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            out.append(entry if entry == "*" or entry.startswith(".") else "." + entry)
        return tuple(out)

    def tracker_for(self, host: str | None) -> TrackerRule | None:
        """The most specific tracker rule matching a host (longest Host wins)."""
        key = host or ""
        if key not in self._tracker_cache:
            found = [t for t in self.trackers if t.matches(host)]
            self._tracker_cache[key] = (
                max(found, key=lambda t: (len(t.host), t.name)) if found else None
            )
        return self._tracker_cache[key]

    @property
    def any_hit_and_run(self) -> bool:
        return any(t.hit_and_run for t in self.trackers)

    # -- construction -------------------------------------------------------

    @classmethod
    def from_config(
        cls, instance_section: Mapping[str, Any], settings_section: Mapping[str, Any], kind: str
    ) -> PolicySettings:
        """Build from a validated Arr section (``Instance.section``) and ``Config.settings``.

        Missing keys take the configspec defaults, so plain dicts work in tests.
        """
        s = {**_SETTINGS, **settings_section}
        i = {**_ARR, **instance_section}
        t = {**_TORRENT, **_sub(i, "Torrent")}
        seed = {**_SEEDING, **_sub(t, "SeedingMode")}
        return cls(
            kind=kind,
            category=str(i.get("Category", kind)),
            failed_category=str(s["FailedCategory"]),
            recheck_category=str(s["RecheckCategory"]),
            protected_tag=str(s["ProtectedTag"]),
            free_space=int(s["FreeSpace"]),
            re_search=bool(i["ReSearch"]),
            import_mode=str(i["ImportMode"]),
            ignore_younger_than=float(t["IgnoreYoungerThan"]),
            stalled_delay=float(t["StalledDelay"]),
            re_search_stalled=bool(t["ReSearchStalled"]),
            maximum_eta=float(t["MaximumETA"]),
            slow_strikes=max(1, int(t["SlowStrikes"])),
            max_rechecks=int(t["MaxRechecks"]),
            case_sensitive=bool(t["CaseSensitiveMatches"]),
            folder_exclusions=_strings(t["FolderExclusionRegex"]),
            name_exclusions=_strings(t["FileNameExclusionRegex"]),
            extension_allowlist=_strings(t["FileExtensionAllowlist"]),
            verify_media=bool(t["VerifyMedia"]),
            max_ratio=float(seed["MaxUploadRatio"]),
            max_seeding_time=float(seed["MaxSeedingTime"]),
            remove_mode=str(seed["RemoveMode"]),
            seed_action=str(seed["Action"]),
            trackers=_trackers(_sub(t, "Trackers")),
        )


def _sub(section: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = section.get(name) if hasattr(section, "get") else None
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    return tuple(str(v).strip() for v in value if str(v).strip())


def _compile(key: str, patterns: tuple[str, ...], flags: int) -> re.Pattern[str] | None:
    if not patterns:
        return None
    for pattern in patterns:
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            raise PolicyConfigError(
                f"{key}: {pattern!r} is not a valid regular expression ({exc})"
            ) from None
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags)


def normalize_host(value: str | None) -> str:
    """``https://Tracker.Example.org:443/announce`` or ``tracker.example.org`` ->
    ``tracker.example.org``."""
    if not value:
        return ""
    text = str(value).strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def _trackers(section: Mapping[str, Any]) -> tuple[TrackerRule, ...]:
    rules = []
    for name in sorted(section):
        entry = section[name]
        if not isinstance(entry, Mapping):
            continue
        host = normalize_host(entry.get("Host"))
        if not host:
            raise PolicyConfigError(
                f"[[[Trackers]]] [[[[{name}]]]] Host is missing or not a host name"
            )
        e = {**_TRACKER, **entry}
        rules.append(
            TrackerRule(
                name=str(name),
                host=host,
                max_ratio=float(e["MaxUploadRatio"]),
                max_seeding_time=float(e["MaxSeedingTime"]),
                maximum_eta=float(e["MaximumETA"]),
                hit_and_run=bool(e["HitAndRun"]),
                hnr_mode=str(e["HitAndRunMode"]),
                min_seed_ratio=float(e["MinSeedRatio"]),
                min_seed_days=float(e["MinSeedDays"]),
                min_download_percent=float(e["MinDownloadPercent"]),
                partial_seed_ratio=float(e["PartialSeedRatio"]),
                obligation_action=str(e["ObligationAction"]),
            )
        )
    return tuple(rules)
