"""qBitrr's config.toml -> qbarr's config.ini: the executable form of README "qbarr and qBitrr".

Pure: :func:`convert` takes the parsed TOML (``tomllib.load``) and returns a
:class:`Conversion` with the qbarr config tree and a report of every key: converted (old ->
new, secrets masked), without a counterpart (and why), and the qBitrr behaviours qbarr has
in a different form. :func:`render` writes the tree as config.ini text. The command
``qbarr import-qbitrr`` (programs/commands/import_qbitrr.py) does the file I/O.

Units: qBitrr's durations are plain numbers in a per-key unit (seconds, or minutes for
``StalledDelay``, ``RssSyncTimer``, ``TempProfileResetTimeoutMinutes``) or strings with
a suffix (``"2w"``); qbarr's are ``90s`` / ``15m`` / ``2h`` / ``7d``. qBitrr's ``-1``
means "off" / "never" almost everywhere; qbarr's is ``0`` (``FreeSpace`` keeps ``-1``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from configobj import ConfigObj

from qbarr.arr.kinds import kind_of
from qbarr.config import MASK, SECRET_KEYS

ARR_PREFIXES = ("Radarr", "Sonarr", "Lidarr")
LOG_LEVELS = {
    "CRITICAL": "ERROR",
    "ERROR": "ERROR",
    "WARNING": "WARNING",
    "NOTICE": "INFO",
    "INFO": "INFO",
    "DEBUG": "DEBUG",
    "TRACE": "DEBUG",
}
REMOVE_MODES = {-1: "never", 1: "ratio", 2: "time", 3: "either", 4: "both"}
SERIES_MODES = {
    "smart": "smart",
    True: "series",
    "true": "series",
    False: "episode",
    "false": "episode",
}
PLACEHOLDER = "CHANGE_ME"
_SUFFIX = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400}

# qBitrr keys with no counterpart, and why (section kind -> key -> reason).
NO_COUNTERPART: dict[str, dict[str, str]] = {
    "Settings": {
        "ConfigVersion": "qbarr's config has no version; unknown keys are reported by name",
        "Logging": "supervisord always keeps a log per program (10 MB x 5)",
        "CompletedDownloadFolder": "qbarr uses qBittorrent's content paths",
        "FreeSpaceFolder": "qbarr uses qBittorrent's own free-space figure of its download disk",
        "AutoPauseResume": "qbarr pauses only for FreeSpace and never resumes what you paused",
        "NoInternetSleepTimer": "qbarr backs off on any network error ([Settings] RetryBackoffMax)",
        "Tagless": "qbarr keeps its state in its database and adds no tags of its own",
        "PingURLS": "qbarr does not ping anything",
        "FFprobeAutoUpdate": "qbarr uses the system's ffprobe ([[Torrent]] VerifyMedia) and "
        "never downloads one",
        "AutoUpdateEnabled": "update with pip or a new image",
        "AutoUpdateCron": "update with pip or a new image",
        "AutoUpdateChannel": "update with pip or a new image",
        "AutoRestartProcesses": "supervisord and qbarr's watchdog restart programs",
        "MaxProcessRestarts": "the watchdog retries FATAL programs with backoff "
        "([Settings] RestartBackoffMax)",
        "ProcessRestartWindow": "the watchdog retries with backoff ([Settings] RestartBackoffMax)",
        "ProcessRestartDelay": "the watchdog retries with backoff ([Settings] RestartBackoffMax)",
        "ProcessSpawnTimeoutSeconds": "supervisord starts the programs",
    },
    "WebUI": {
        "BehindHttpsProxy": "put the proxy in front; the web UI needs no setting for it",
        "UrlBase": "qbarr's web UI has no URL base setting",
        "LocalAuthEnabled": "qbarr's login form uses [WebUI] Password (or the token)",
        "OIDCEnabled": "qbarr has no OIDC login",
        "Username": "qbarr's login user is always admin",
        "PasswordHash": "a bcrypt hash cannot become a password: set [WebUI] Password",
        "AllowInsecureTokenQuery": "qbarr takes the token only in the Authorization header",
        "LiveArr": "a preference of qBitrr's web UI",
        "GroupSonarr": "a preference of qBitrr's web UI",
        "GroupLidarr": "a preference of qBitrr's web UI",
        "Theme": "a preference of qBitrr's web UI",
        "ViewDensity": "a preference of qBitrr's web UI",
        "OIDC": "qbarr has no OIDC login",
    },
    "qBit": {
        "SkipTLSVerify": "qbarr always verifies TLS",
        "ManagedCategories": "qbarr manages only the categories of its Arr instances",
        "MatchSubcategories": "qbarr matches the category exactly",
        "CategorySeeding": "qbarr manages only the categories of its Arr instances",
    },
    "Arr": {
        "SkipTLSVerify": "qbarr always verifies TLS",
        "RefreshDownloadsTimer": "qbarr reads the Arr's queue itself and imports at once",
        "ArrErrorCodesToBlocklist": "qbarr reads the queue's structured states, never English "
        "messages (rule import-failed)",
        "MatchSubcategories": "qbarr matches the category exactly",
    },
    "Search": {
        "SearchByYear": "qbarr orders by tier, never-searched first, then newest release",
        "SearchAgainOnSearchCompletion": "qbarr searches an item again after SearchCooldown",
        "ForceMinimumCustomFormat": "qbarr never deletes downloads for their custom-format score",
        "KeepTempProfile": "qbarr always switches back (once the item is no longer missing)",
        "ForceResetTempProfiles": "qbarr switches back when due; UseTempForMissing = false "
        "switches every item back",
        "ProfileSwitchRetryAttempts": "the journal retries a failed switch 5 times with backoff",
        "MainQualityProfile": "converted into QualityProfileMappings",
        "TempQualityProfile": "converted into QualityProfileMappings",
    },
    "Torrent": {
        "AutoDelete": "qbarr never deletes files outside qBittorrent; VerifyMedia fails "
        "unreadable downloads instead",
        "MaximumDeletablePercentage": "qbarr's rules apply at any progress; hit-and-run "
        "obligations protect what must seed",
    },
    "SeedingMode": {
        "DownloadRateLimitPerTorrent": "qbarr sets no rate limits (use qBittorrent's)",
        "UploadRateLimitPerTorrent": "qbarr sets no rate limits (use qBittorrent's)",
    },
    "Tracker": {
        "Name": "used as the name of the [[[[section]]]]",
        "Priority": "qbarr does not reorder qBittorrent's queue",
        "SortTorrents": "qbarr does not reorder qBittorrent's queue",
        "TrackerUpdateBuffer": "qbarr counts qBittorrent's seeding time as it is",
        "AddTrackerIfMissing": "qbarr does not edit tracker lists",
        "RemoveIfExists": "qbarr does not edit tracker lists",
        "SuperSeedMode": "qbarr does not change torrent options",
        "AddTags": "qbarr adds no tags",
        "DownloadRateLimit": "qbarr sets no rate limits (use qBittorrent's)",
        "UploadRateLimit": "qbarr sets no rate limits (use qBittorrent's)",
    },
}

DIFFERENT = (
    "qBitrr's MaximumETA acted as an idle limit for downloads up to MaximumDeletablePercentage "
    "(no transfer for that long); qbarr's MaximumETA fails a download whose ETA stays above it "
    "for SlowStrikes checks in a row, and stalled downloads are handled by StalledDelay.",
    "qBitrr resumed stopped torrents inside their seeding allowance every cycle; qbarr never "
    "resumes a torrent you paused (only those it paused for free space).",
    "qBitrr's import scan was effectively never sent in its default configuration; qbarr sends "
    "the Arr's Downloaded*Scan once, as soon as a torrent is complete.",
    "qBitrr matched failed imports by English message text (ArrErrorCodesToBlocklist); qbarr "
    "reads the queue's structured states (rule import-failed).",
    "qBitrr kept 'allowed to seed / stalled / free-space' state in tags; qbarr keeps it in its "
    "database (qbarr why HASH), and its only tag is ProtectedTag, set here to qBitrr-ignored so "
    "torrents you tagged stay untouched.",
    "qBitrr deleted torrents whose seeding limits were met; qbarr does the same "
    "(SeedingMode Action = remove), or pauses them with Action = pause.",
)


@dataclass
class Conversion:
    """The qbarr config tree and what happened to every qBitrr key."""

    config: dict[str, Any] = field(default_factory=dict)
    converted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=lambda: list(DIFFERENT))

    def report(self) -> str:
        lines = [f"converted ({len(self.converted)}):"]
        lines += [f"  {line}" for line in self.converted]
        lines.append(f"no counterpart in qbarr ({len(self.dropped)}):")
        lines += [f"  {line}" for line in self.dropped]
        lines.append("done differently by qbarr:")
        lines += [f"  - {line}" for line in self.different]
        return "\n".join(lines)


# -- values ---------------------------------------------------------------------------------


def _is_url(value: Any) -> bool:
    text = str(value or "").strip().lower()
    return text.startswith(("http://", "https://")) and len(text) > len("https://")


def seconds(value: Any, unit: float = 1.0) -> float | None:
    """A qBitrr duration in seconds: a number in ``unit`` seconds, or ``"15m"`` / ``"2w"``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) * unit
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([smhdwM]?)\s*", str(value))
    if not match:
        return None
    number, suffix = match.groups()
    return float(number) * (_SUFFIX[suffix] if suffix else unit)


def duration(total: float) -> str:
    """qbarr's spelling: ``15m``, ``2h``, ``7d``, else seconds."""
    total = int(round(total))
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total and total % size == 0:
            return f"{total // size}{suffix}"
    return f"{total}s"


def off_or_duration(value: Any, unit: float = 1.0) -> str | None:
    """-1 / 0 / negative = off -> ``0``; a positive duration -> qbarr's spelling."""
    s = seconds(value, unit)
    if s is None:
        return None
    return "0" if s <= 0 else duration(s)


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_secret(key: str) -> bool:
    """API keys, passwords, tokens and client secrets, whatever the section calls them."""
    low = key.lower()
    return low in SECRET_KEYS or low.endswith(("apikey", "password", "token", "secret"))


def _shown(key: str, value: Any) -> str:
    if is_secret(key) and value not in ("", None):
        return MASK
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(empty)"
    return str(value)


# -- the walk --------------------------------------------------------------------------------


class _Converter:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.out = Conversion()

    def put(
        self, where: str, key: str, value: Any, target: list[str], new_key: str, new: Any
    ) -> None:
        """Set ``new_key = new`` in the qbarr section ``target`` and report it."""
        node = self.out.config
        for part in target:
            node = node.setdefault(part, {})
        node[new_key] = new
        dest = "][".join(target)
        secret = is_secret(key) or is_secret(new_key)
        old_text = MASK if secret and value not in ("", None) else _shown(key, value)
        new_text = MASK if secret and new not in ("", None) else _shown(new_key, new)
        self.out.converted.append(
            f"[{where}] {key} = {old_text} -> [{dest}] {new_key} = {new_text}"
        )

    def drop(self, where: str, key: str, why: str) -> None:
        self.out.dropped.append(f"[{where}] {key}: {why}")

    def run(self) -> Conversion:
        d = self.data
        self.out.config["Settings"] = {"ProtectedTag": "qBitrr-ignored"}
        self.settings(d.get("Settings") or {})
        self.webui(d.get("WebUI") or {})
        qbit = d.get("qBit") or {}
        self.qbit("qBit", qbit)
        shared = [t for t in qbit.get("Trackers") or [] if isinstance(t, Mapping)]
        for name, section in d.items():
            if not isinstance(section, Mapping) or name in ("Settings", "WebUI", "qBit"):
                continue
            if name.startswith("qBit-"):
                self.qbit(name, section)
            elif name.split("-", 1)[0] in ARR_PREFIXES and "-" in name:
                self.arr(name, section, shared)
            elif name.split("-", 1)[0] == "Readarr":
                self.drop(name, "(section)", "qbarr manages Radarr, Sonarr and Lidarr only")
            else:
                self.drop(name, "(section)", "not a section qBitrr documents")
        self.tracker_messages()
        more = [n for n in self.out.config if n.startswith("qBittorrent-")]
        if more:
            self.out.different.append(
                "qBitrr looked for each Arr's category on every qBittorrent; in qbarr an Arr "
                "instance uses [qBittorrent] unless its Client names another one (e.g. "
                f"Client = {more[0][len('qBittorrent-') :]} for [{more[0]}]): set Client for "
                "each Arr that sends its downloads there. `qbarr check` compares it with the "
                "Arr's own download clients."
            )
        return self.out

    # [Settings] -----------------------------------------------------------------------------

    def settings(self, s: Mapping[str, Any]) -> None:
        for key, value in s.items():
            if key == "ConsoleLevel" and str(value).upper() in LOG_LEVELS:
                self.put(
                    "Settings", key, value, ["Settings"], "LogLevel", LOG_LEVELS[str(value).upper()]
                )
            elif key in ("FailedCategory", "RecheckCategory") and str(value).strip():
                self.put("Settings", key, value, ["Settings"], key, str(value))
            elif key == "FreeSpace":
                text = str(value).strip()
                new = "-1" if text in ("-1", "0", "") else text.upper().rstrip("B")
                self.put("Settings", key, value, ["Settings"], "FreeSpace", new)
            elif key == "LoopSleepTimer" and (sec := seconds(value)) is not None:
                self.put(
                    "Settings", key, value, ["Settings"], "LoopInterval", duration(max(sec, 1))
                )
            elif key in ("IgnoreTorrentsYoungerThan", "SearchLoopDelay"):
                self.out.converted.append(
                    f"[Settings] {key} = {value} -> the default of each instance's "
                    + (
                        "[[Torrent]] IgnoreYoungerThan"
                        if key.startswith("Ignore")
                        else "[[Search]] SearchDelay"
                    )
                )
            elif key in NO_COUNTERPART["Settings"]:
                self.drop("Settings", key, NO_COUNTERPART["Settings"][key])
            else:
                self.drop("Settings", key, "unknown to qbarr")

    # [WebUI] --------------------------------------------------------------------------------

    def webui(self, w: Mapping[str, Any]) -> None:
        for key, value in w.items():
            if key in ("Host", "Port", "Token", "AuthDisabled", "AllowInsecureExposure"):
                if key == "Token" and not value:
                    self.drop("WebUI", key, "empty: keep qbarr's token (qbarr init makes one)")
                    continue
                self.put("WebUI", key, value, ["WebUI"], key, value)
            else:
                self.drop("WebUI", key, NO_COUNTERPART["WebUI"].get(key, "unknown to qbarr"))

    # [qBit] ---------------------------------------------------------------------------------

    def qbit(self, name: str, q: Mapping[str, Any]) -> None:
        """``[qBit]`` -> ``[qBittorrent]``, ``[qBit-<name>]`` -> ``[qBittorrent-<name>]``."""
        target = ["qBittorrent" + name[len("qBit") :]]
        if name != "qBit" and q.get("Disabled") is True:
            self.drop(name, "(section)", "Disabled = true: left out (add it by hand to use it)")
            return
        host = str(q.get("Host") or "localhost").strip()
        port = q.get("Port", 8080)
        url = host if host.startswith(("http://", "https://")) else f"http://{host}:{port}"
        self.put(name, "Host/Port", f"{host}:{port}", target, "URL", url)
        for key, value in q.items():
            if key in ("Host", "Port"):
                continue
            if key == "UserName":
                self.put(name, key, value, target, "Username", str(value))
            elif key == "Password":
                self.put(name, key, value, target, "Password", str(value))
            elif key == "Disabled" and value is True:
                self.drop(name, key, "qbarr needs its [qBittorrent]; written as if enabled")
            elif key == "Disabled":
                self.out.converted.append(f"[{name}] Disabled = {value} -> the section is used")
            elif key == "Trackers" and name != "qBit":
                self.drop(name, key, "tracker rules are read from [qBit] and the Arr sections")
            elif key == "Trackers":
                if value:
                    self.out.converted.append(
                        f"[qBit] Trackers ({len(value)}) -> [[[Trackers]]] of every Arr instance "
                        "(an instance's own entry for the same host wins)"
                    )
            else:
                self.drop(name, key, NO_COUNTERPART["qBit"].get(key, "unknown to qbarr"))

    # Arr sections -------------------------------------------------------------------------

    def arr(self, name: str, a: Mapping[str, Any], shared: list[Mapping[str, Any]]) -> None:
        kind = name.split("-", 1)[0].lower()
        settings = self.data.get("Settings") or {}
        unset = not _is_url(a.get("URI"))  # qBitrr's CHANGE_ME: an instance never set up
        for key, value in a.items():
            if isinstance(value, Mapping):
                continue
            if unset and key in ("URI", "Managed"):
                continue
            if key in ("URI", "APIKey", "Category", "Managed", "ReSearch"):
                new_key = "URL" if key == "URI" else key
                self.put(name, key, value, [name], new_key, value)
            elif key == "importMode":
                mode = str(value).capitalize()
                new = mode if mode in ("Auto", "Move", "Copy") else "Auto"
                self.put(name, key, value, [name], "ImportMode", new)
            elif key == "RssSyncTimer":
                every = off_or_duration(value, 60)
                if every is not None:
                    self.put(name, key, value, [name, "Search"], "RssSyncEvery", every)
            else:
                self.drop(name, key, NO_COUNTERPART["Arr"].get(key, "unknown to qbarr"))
        if "Category" not in a:
            self.put(name, "Category", "(missing)", [name], "Category", name.lower())
        if unset:
            local = f"http://127.0.0.1:{kind_of(kind).default_port}"
            self.put(name, "URI", a.get("URI"), [name], "URL", local)
            self.put(name, "URI", a.get("URI"), [name], "Managed", False)
            self.out.different.append(
                f"[{name}] URI = {a.get('URI')!r} is not an address: written with URL = {local} "
                "and Managed = false; set URL and APIKey, then Managed = true"
            )
        self.torrent(name, a.get("Torrent") or {}, settings, shared)
        self.search(name, kind, a.get("EntrySearch") or {}, settings)

    def torrent(
        self,
        name: str,
        t: Mapping[str, Any],
        settings: Mapping[str, Any],
        shared: list[Mapping[str, Any]],
    ) -> None:
        where, target = f"{name}.Torrent", [name, "Torrent"]
        if "IgnoreTorrentsYoungerThan" not in t and "IgnoreTorrentsYoungerThan" in settings:
            t = {**t, "IgnoreTorrentsYoungerThan": settings["IgnoreTorrentsYoungerThan"]}
        slow_off = t.get("DoNotRemoveSlow", True) is not False
        for key, value in t.items():
            if key in ("SeedingMode", "Trackers"):
                continue
            if key in ("CaseSensitiveMatches", "ReSearchStalled"):
                self.put(where, key, value, target, key, bool(value))
            elif key in ("FolderExclusionRegex", "FileNameExclusionRegex"):
                self.put(where, key, value, target, key, [str(v) for v in value or []])
            elif key == "FileExtensionAllowlist":
                kept = [str(v) for v in value or [] if str(v).lower() not in (".!qb", ".parts")]
                self.put(where, key, value, target, key, kept or ["*"])
            elif key == "IgnoreTorrentsYoungerThan" and (sec := seconds(value)) is not None:
                self.put(
                    where,
                    key,
                    value,
                    target,
                    "IgnoreYoungerThan",
                    duration(max(sec, 0)) if sec > 0 else "0",
                )
            elif key == "StalledDelay" and (new := off_or_duration(value, 60)) is not None:
                self.put(where, key, value, target, "StalledDelay", new)
            elif key == "MaximumETA":
                new = off_or_duration(value)
                if new is None:
                    continue
                if new != "0" and slow_off:
                    self.drop(
                        where,
                        key,
                        f"{value}: DoNotRemoveSlow = true, so qbarr's slow rule stays off",
                    )
                    continue
                self.put(where, key, value, target, "MaximumETA", new)
            elif key == "DoNotRemoveSlow":
                self.out.converted.append(
                    f"[{where}] DoNotRemoveSlow = {value} -> "
                    + ("MaximumETA is left off" if slow_off else "MaximumETA carried over")
                )
            else:
                self.drop(where, key, NO_COUNTERPART["Torrent"].get(key, "unknown to qbarr"))
        self.seeding(name, t.get("SeedingMode") or {})
        self.trackers(
            name, [*shared, *[x for x in t.get("Trackers") or [] if isinstance(x, Mapping)]]
        )

    def seeding(self, name: str, s: Mapping[str, Any]) -> None:
        where, target = f"{name}.Torrent.SeedingMode", [name, "Torrent", "SeedingMode"]
        for key, value in s.items():
            if key == "MaxUploadRatio" and (n := number(value)) is not None:
                self.put(where, key, value, target, key, n if n > 0 else 0)
            elif key == "MaxSeedingTime" and (new := off_or_duration(value)) is not None:
                self.put(where, key, value, target, key, new)
            elif key == "RemoveTorrent" and value in REMOVE_MODES:
                self.put(where, key, value, target, "RemoveMode", REMOVE_MODES[value])
            elif key in ("RemoveDeadTrackers", "RemoveTrackerWithMessage"):
                continue  # tracker_messages(), once every instance is read
            else:
                self.drop(where, key, NO_COUNTERPART["SeedingMode"].get(key, "unknown to qbarr"))

    def tracker_messages(self) -> None:
        """qBitrr's per-instance RemoveDeadTrackers + RemoveTrackerWithMessage -> qbarr's one
        [Settings] RemoveTrackerMessages: the messages of every instance that had it on."""
        messages: list[str] = []
        on: list[str] = []
        for name, section in self.data.items():
            if not isinstance(section, Mapping) or name.split("-", 1)[0] not in ARR_PREFIXES:
                continue
            seeding = (section.get("Torrent") or {}).get("SeedingMode") or {}
            where = f"{name}.Torrent.SeedingMode"
            listed = [str(m) for m in seeding.get("RemoveTrackerWithMessage") or []]
            if seeding.get("RemoveDeadTrackers") is True:
                on.append(name)
                messages += [m for m in listed if m not in messages]
                self.out.converted.append(
                    f"[{where}] RemoveDeadTrackers = true, RemoveTrackerWithMessage "
                    f"({len(listed)}) -> [Settings] RemoveTrackerMessages"
                )
            elif "RemoveDeadTrackers" in seeding or listed:
                self.drop(where, "RemoveDeadTrackers", "false: no tracker is removed for it")
                if listed:
                    self.drop(
                        where, "RemoveTrackerWithMessage", "RemoveDeadTrackers is off, so unused"
                    )
        if messages:
            self.out.config.setdefault("Settings", {})["RemoveTrackerMessages"] = messages
        arrs = [n for n in self.out.config if n.split("-", 1)[0] in ARR_PREFIXES]
        if on and len(on) < len(arrs):
            self.out.different.append(
                "[Settings] RemoveTrackerMessages applies to every instance; in qBitrr only "
                f"{', '.join(on)} removed dead trackers"
            )

    def trackers(self, name: str, entries: list[Mapping[str, Any]]) -> None:
        """Shared ([qBit] Trackers) then the instance's own; the later entry for a host wins."""
        by_host: dict[str, dict[str, Any]] = {}
        names: dict[str, str] = {}
        for t in entries:
            uri = str(t.get("URI") or "").strip()
            host = re.sub(r"^[a-z]+://", "", uri).split("/")[0].split(":")[0].lower()
            if not host:
                self.drop(f"{name}.Torrent.Trackers", str(t.get("Name") or "?"), "no URI")
                continue
            entry: dict[str, Any] = {"Host": host}
            for key, value in t.items():
                if key == "URI":
                    continue
                if key in ("MaxUploadRatio", "MinSeedRatio", "HitAndRunPartialSeedRatio"):
                    n = number(value)
                    new_key = "PartialSeedRatio" if key.startswith("HitAndRun") else key
                    if n is not None and (n > 0 or key != "MaxUploadRatio"):
                        entry[new_key] = n
                elif key in ("MaxSeedingTime", "MaximumETA"):
                    new = off_or_duration(value)
                    if new not in (None, "0"):
                        entry[key] = new
                elif key == "HitAndRunMode":
                    mode = str(value).lower()
                    entry["HitAndRun"] = mode in ("and", "or")
                    if mode in ("and", "or"):
                        entry["HitAndRunMode"] = mode
                elif key == "MinSeedingTimeDays" and (n := number(value)) is not None:
                    entry["MinSeedDays"] = n
                elif key == "HitAndRunMinimumDownloadPercent" and (n := number(value)) is not None:
                    entry["MinDownloadPercent"] = n
                elif key != "Name":
                    self.drop(
                        f"{name}.Torrent.Trackers.{host}",
                        key,
                        NO_COUNTERPART["Tracker"].get(key, "unknown to qbarr"),
                    )
            by_host.setdefault(host, {}).update(entry)
            names[host] = _section_name(str(t.get("Name") or host))
        for host, entry in sorted(by_host.items()):
            target = [name, "Torrent", "Trackers", names[host]]
            node = self.out.config
            for part in target:
                node = node.setdefault(part, {})
            node.update(entry)
            shown = ", ".join(f"{k} = {v}" for k, v in entry.items())
            self.out.converted.append(
                f"[{name}.Torrent.Trackers] {host} -> [{']['.join(target)}] {shown}"
            )

    def search(
        self, name: str, kind: str, e: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> None:
        where, target = f"{name}.EntrySearch", [name, "Search"]
        simple = {
            "SearchMissing": "Enabled",
            "AlsoSearchSpecials": "SearchSpecials",
            "Unmonitored": "Unmonitored",
            "SearchInReverse": "SearchInReverse",
            "DoUpgradeSearch": "SearchUpgrades",
            "QualityUnmetSearch": "SearchCutoffUnmet",
            "CustomFormatUnmetSearch": "SearchCustomFormatUnmet",
            "UseTempForMissing": "UseTempForMissing",
        }
        delay = seconds(settings.get("SearchLoopDelay", -1))
        if e:
            self.put("Settings", "SearchLoopDelay", settings.get("SearchLoopDelay", -1), target,
                     "SearchDelay", duration(delay) if delay and delay > 0 else "30s")  # fmt: skip
        mappings = e.get("QualityProfileMappings")
        if not mappings and e.get("MainQualityProfile") and e.get("TempQualityProfile"):
            mappings = dict(zip(e["MainQualityProfile"], e["TempQualityProfile"], strict=False))
        for key, value in e.items():
            if isinstance(value, Mapping) and key in ("Overseerr", "Ombi"):
                self.requests(name, kind, key, value, e.get("SearchRequestsEvery", 300))
            elif key in simple:
                self.put(where, key, value, target, simple[key], bool(value))
            elif key == "SearchLimit" and isinstance(value, int):
                self.put(where, key, value, target, key, max(1, min(50, value)))
            elif key == "SearchBySeries" and kind == "sonarr" and value in SERIES_MODES:
                self.put(where, key, value, target, key, SERIES_MODES[value])
            elif key == "PrioritizeTodaysReleases" and kind == "sonarr":
                self.put(where, key, value, target, "RecentDays", 1 if value else 0)
            elif key == "TempProfileResetTimeoutMinutes" and (new := off_or_duration(value, 60)):
                self.put(where, key, value, target, "TempProfileTimeout", new)
            elif key == "QualityProfileMappings":
                continue
            elif key == "SearchRequestsEvery":
                continue  # with the request sources
            else:
                self.drop(where, key, NO_COUNTERPART["Search"].get(key, "unknown to qbarr"))
        if mappings:
            for main, temp in mappings.items():
                self.put(where, "QualityProfileMappings", f"{main} = {temp}",
                         [*target, "QualityProfileMappings"], str(main), str(temp))  # fmt: skip

    def requests(self, name: str, kind: str, source: str, r: Mapping[str, Any], every: Any) -> None:
        where, target = f"{name}.EntrySearch.{source}", [name, "Search", source]
        prefix = "Overseerr" if source == "Overseerr" else "Ombi"
        for key, value in r.items():
            if key == f"Search{prefix}Requests":
                enabled = bool(value)
                if enabled and kind == "lidarr":
                    self.drop(where, key, f"{source} requests are for Radarr and Sonarr only")
                    enabled = False
                self.put(where, key, value, target, "Enabled", enabled)
                if enabled and (sec := seconds(every)) is not None:
                    self.put(
                        where.rsplit(".", 1)[0],
                        "SearchRequestsEvery",
                        every,
                        target,
                        "PollEvery",
                        duration(max(sec, 10)),
                    )
            elif key in (f"{prefix}URI", f"{prefix}APIKey"):
                if str(value).strip() in ("", PLACEHOLDER) and not r.get(f"Search{prefix}Requests"):
                    self.drop(where, key, "a placeholder of an unused source")
                    continue
                new_key = "URL" if key.endswith("URI") else "APIKey"
                self.put(where, key, value, target, new_key, str(value).rstrip("/"))
            elif key in ("ApprovedOnly", "Is4K"):
                self.put(where, key, value, target, key, bool(value))
            else:
                self.drop(
                    where,
                    key,
                    "qbarr always verifies TLS" if key == "SkipTLSVerify" else "unknown to qbarr",
                )


def _section_name(text: str) -> str:
    clean = re.sub(r"[\[\]=#,\"']+", "", text).strip()
    return clean or "tracker"


def convert(data: Mapping[str, Any]) -> Conversion:
    """qBitrr's parsed config.toml -> qbarr's config tree and the report (see the module doc)."""
    return _Converter(data).run()


def render(config: Mapping[str, Any]) -> str:
    """The config tree as config.ini text (configobj's own writer, four-space indents)."""
    out = ConfigObj(indent_type="    ", list_values=True, interpolation=False)
    order = ["Settings", "qBittorrent", "WebUI"]
    for name in order + [k for k in config if k not in order]:
        if name in config:
            out[name] = _stringify(config[name])
    out.initial_comment = [
        "# qbarr configuration, converted from a qBitrr config.toml by `qbarr import-qbitrr`.",
        "# Every setting is explained in config.ini.example; `qbarr check` tests it.",
    ]
    return "\n".join(out.write()) + "\n"


def _stringify(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, Mapping):
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = [str(v) for v in value] if value else ""
        elif isinstance(value, float) and value.is_integer():
            out[key] = str(int(value))
        else:
            out[key] = str(value)
    for key, value in node.items():  # subsections after the scalars, as configobj wants
        if isinstance(value, Mapping):
            out[key] = _stringify(value)
    return out
