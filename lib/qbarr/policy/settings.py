"""The settings the policy reads, taken from one Arr section and ``[Settings]`` of config.ini.

Defaults here mirror ``configspec.ini`` exactly (a unit test compares them), so a key missing
from a hand-made mapping behaves like the validated default. Durations are seconds, sizes
bytes. A value <= 0 switches a timer or limit off; every 0 is documented in RULE_DOCS and in
docs/rules.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REMOVE_MODES = ("never", "ratio", "time", "either", "both")
SEED_ACTIONS = ("remove", "pause")
IMPORT_MODES = ("Auto", "Move", "Copy")

DEFAULT_FOLDER_EXCLUSIONS = (r"\bextras?\b", r"\bfeaturettes?\b", r"\bsamples?\b", r"\bscreens?\b")
DEFAULT_NAME_EXCLUSIONS = (r"\bsample\b", r"\btrailer\b", r"\bncop\d*\b", r"\bnced\d*\b")

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
    max_ratio: float = 0.0
    max_seeding_time: float = 0.0
    maximum_eta: float = 0.0
    hit_and_run: bool = False
    hnr_mode: str = "and"
    min_seed_ratio: float = 1.0
    min_seed_days: float = 0.0
    min_download_percent: float = 10.0
    partial_seed_ratio: float = 1.0
    obligation_action: str = "keep"

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
    failed_category: str = "failed"
    recheck_category: str = "recheck"
    protected_tag: str = "qbarr-protect"
    dry_run: bool = False
    brake_max_removals: int = 10
    free_space: int = -1
    re_search: bool = True
    import_mode: str = "Auto"
    ignore_younger_than: float = 180.0
    stalled_delay: float = 900.0
    re_search_stalled: bool = False
    maximum_eta: float = 0.0
    slow_strikes: int = 3
    max_rechecks: int = 2
    case_sensitive: bool = False
    folder_exclusions: tuple[str, ...] = DEFAULT_FOLDER_EXCLUSIONS
    name_exclusions: tuple[str, ...] = DEFAULT_NAME_EXCLUSIONS
    extension_allowlist: tuple[str, ...] = ()
    max_ratio: float = 0.0
    max_seeding_time: float = 0.0
    remove_mode: str = "never"
    seed_action: str = "remove"
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
        s = settings_section
        i = instance_section
        t = _sub(i, "Torrent")
        seed = _sub(t, "SeedingMode")
        return cls(
            kind=kind,
            category=str(i.get("Category", kind)),
            failed_category=str(s.get("FailedCategory", "failed")),
            recheck_category=str(s.get("RecheckCategory", "recheck")),
            protected_tag=str(s.get("ProtectedTag", "qbarr-protect")),
            dry_run=bool(s.get("DryRun", False)),
            brake_max_removals=int(s.get("BrakeMaxRemovals", 10)),
            free_space=int(s.get("FreeSpace", -1)),
            re_search=bool(i.get("ReSearch", True)),
            import_mode=str(i.get("ImportMode", "Auto")),
            ignore_younger_than=float(t.get("IgnoreYoungerThan", 180.0)),
            stalled_delay=float(t.get("StalledDelay", 900.0)),
            re_search_stalled=bool(t.get("ReSearchStalled", False)),
            maximum_eta=float(t.get("MaximumETA", 0.0)),
            slow_strikes=max(1, int(t.get("SlowStrikes", 3))),
            max_rechecks=int(t.get("MaxRechecks", 2)),
            case_sensitive=bool(t.get("CaseSensitiveMatches", False)),
            folder_exclusions=_strings(t.get("FolderExclusionRegex", DEFAULT_FOLDER_EXCLUSIONS)),
            name_exclusions=_strings(t.get("FileNameExclusionRegex", DEFAULT_NAME_EXCLUSIONS)),
            extension_allowlist=_strings(t.get("FileExtensionAllowlist", ())),
            max_ratio=float(seed.get("MaxUploadRatio", 0.0)),
            max_seeding_time=float(seed.get("MaxSeedingTime", 0.0)),
            remove_mode=str(seed.get("RemoveMode", "never")),
            seed_action=str(seed.get("Action", "remove")),
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
        rules.append(
            TrackerRule(
                name=str(name),
                host=host,
                max_ratio=float(entry.get("MaxUploadRatio", 0.0)),
                max_seeding_time=float(entry.get("MaxSeedingTime", 0.0)),
                maximum_eta=float(entry.get("MaximumETA", 0.0)),
                hit_and_run=bool(entry.get("HitAndRun", False)),
                hnr_mode=str(entry.get("HitAndRunMode", "and")),
                min_seed_ratio=float(entry.get("MinSeedRatio", 1.0)),
                min_seed_days=float(entry.get("MinSeedDays", 0.0)),
                min_download_percent=float(entry.get("MinDownloadPercent", 10.0)),
                partial_seed_ratio=float(entry.get("PartialSeedRatio", 1.0)),
                obligation_action=str(entry.get("ObligationAction", "keep")),
            )
        )
    return tuple(rules)
