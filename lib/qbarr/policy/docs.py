"""Rule ids in the order they are tried, a plain-words explanation of each, and its tone.

RULE_DOCS is shown by the web UI (the one home of these texts) and copied into
docs/rules.md; a unit test keeps the two in step. RULE_TONE says how the web UI colours a
rule: ``bad`` for the rules that fail torrents, ``good`` for import, ``warn`` for a pause,
``neutral`` for the others.
"""

from __future__ import annotations

RULES: tuple[str, ...] = (
    "protected",
    "manual-fail",
    "manual-recheck",
    "missing-files",
    "errored",
    "unregistered",
    "wait",
    "unwanted-files",
    "stalled",
    "slow",
    "free-space",
    "bad-media",
    "import",
    "import-failed",
    "seeding-done",
    "ok",
)

FAIL_NOTE = (
    "Failing a torrent means: blocklist the release in the Arr (queue delete with "
    "blocklist=true, removeFromClient=false, skipRedownload=true), then delete the torrent in "
    "qBittorrent with its data, then (if ReSearch) send the Arr's search for the same "
    "movie / episodes / album. The data is kept when another torrent shares it, and the "
    "torrent is not deleted at all while a hit-and-run obligation is unmet. While the Arr "
    "does not answer, no torrent is failed (the blocklist must come first): the reason says "
    "it waits for the Arr, and it is failed when the Arr answers again."
)

RULE_DOCS: dict[str, str] = {
    "protected": (
        "The torrent has the ProtectedTag (default qbarr-protect). qbarr never touches it: no "
        "rule runs, its stalled and slow clocks are reset, free space never pauses it (its "
        "remaining download still counts against the free-space budget)."
    ),
    "manual-fail": (
        "You moved the torrent to FailedCategory (default failed). It is failed at once: "
        "blocklisted, deleted with its data and searched again. A torrent in that category "
        "belongs to this instance when qbarr saw it in this instance's category before or the "
        "Arr's queue still lists it."
    ),
    "manual-recheck": (
        "You moved the torrent to RecheckCategory (default recheck). qbarr asks qBittorrent to "
        "recheck it once and puts it back into this instance's category."
    ),
    "missing-files": (
        "qBittorrent reports missingFiles (the data was moved or deleted outside qBittorrent). "
        "The torrent is removed from qBittorrent and, unless it was already imported, the Arr "
        "searches again. The release is not blocklisted: it was not bad."
    ),
    "errored": (
        "qBittorrent reports an error. qbarr rechecks it, at most MaxRechecks times, waiting "
        "60 s after each recheck for the result; still in error after that -> failed. "
        "MaxRechecks = 0 fails at once. While the download disk is short of FreeSpace an "
        "errored torrent is never failed (the error is probably the full disk)."
    ),
    "unregistered": (
        "Every tracker of the torrent fails with a message of UnregisteredMessages "
        '("unregistered", "torrent not found", "infohash not found" ...), as the last '
        "tracker look-up read them (TrackerChecksPerMinute). It is tagged UnregisteredTag at "
        "once and failed when that has lasted UnregisteredGrace (default 1 h; observed time "
        "only); Unregistered = tag only tags it, off turns the rule off. An unmet hit-and-run "
        "obligation does not hold the deletion (the tracker no longer knows the torrent); data "
        "shared with another torrent is still kept. The journal keeps the trackers' messages."
    ),
    "wait": (
        "The torrent is checking, moving or queued for download, or it is younger than "
        "IgnoreYoungerThan (only downloads: a young download is never failed as stalled, slow "
        "or unwanted, but unwanted files are already set to priority 0 and free space can "
        "pause it). With VerifyMedia a complete torrent also waits here while ffprobe checks "
        "its media files before the import. Nothing else happens this cycle."
    ),
    "unwanted-files": (
        "Some files match FolderExclusionRegex / FileNameExclusionRegex or have an extension "
        "outside FileExtensionAllowlist: they are set to priority 0 (not downloaded) once. If "
        "every file is excluded, the torrent is failed. The torrent's root folder is not "
        "matched (it is the release name)."
    ),
    "stalled": (
        "The download cannot progress: stalledDL, metaDL / forcedMetaDL (no metadata), or "
        "downloading with availability below 1. The stall clock starts when qbarr first sees "
        "the stall, is stored in the database, restarts only when the torrent makes progress, "
        "and stops while qbarr cannot see qBittorrent (unreachable, or qbarr not running). "
        "Stalled for longer than StalledDelay "
        "-> failed. StalledDelay = 0 never fails stalled torrents. ReSearchStalled blocklists "
        "the release and searches again as soon as the stall starts, keeping the torrent until "
        "StalledDelay runs out. During the grace period free space may still pause it. "
        "ReannounceStalled asks the trackers for peers once when StalledDelay runs out and "
        "fails the torrent only if it is still stalled 2 minutes later."
    ),
    "slow": (
        "A downloading torrent whose ETA is above MaximumETA (a tracker's MaximumETA wins) for "
        "SlowStrikes cycles in a row is failed. Strikes are not counted (and start again from "
        "zero) while qBittorrent downloads at its global rate limit. MaximumETA = 0 turns the "
        "rule off."
    ),
    "free-space": (
        "With FreeSpace set, budget = free space on the download disk - FreeSpace. Downloads "
        "are walked oldest first; one that needs less than the remaining budget runs, the "
        "others are paused. A download qbarr paused is resumed when it fits again (or when "
        "FreeSpace is turned off); downloads paused by you are never resumed."
    ),
    "bad-media": (
        "VerifyMedia = true: before the import, every wanted video or audio file of the complete "
        "torrent is probed with the system's ffprobe (at most ProbeConcurrency at a time, "
        "ProbeTimeout each, once per file content). A file ffprobe cannot read (an error, no "
        "audio or video stream, zero duration, a container that does not match its extension, "
        "or data that stops before the announced end) fails the torrent: blocklisted, deleted "
        "and searched again; the reason keeps ffprobe's own error line. A check that cannot be "
        "made (no ffprobe, files not visible to qbarr, a probe timing out) lets the import go "
        "ahead and says so."
    ),
    "import": (
        "The torrent is complete (nothing left to download, a seeding state, paused seeds "
        "included), its content path exists and the Arr's queue still lists it as not "
        "imported: qbarr sends the Arr's Downloaded*Scan command for the content path with "
        "downloadClientId and ImportMode, exactly once per torrent, at once, whatever the "
        "seeding rules say."
    ),
    "import-failed": (
        "The Arr's queue reports the download failed (trackedDownloadState failed, "
        "failedPending, importFailed, downloadFailed, downloadFailedPending, or "
        "trackedDownloadStatus error; never the English message text). A complete torrent is "
        "blocklisted and searched again but keeps seeding (seeding rules remove it later); an "
        "incomplete one is failed."
    ),
    "seeding-done": (
        "A complete torrent reached its seeding limits (MaxUploadRatio / MaxSeedingTime of "
        "SeedingMode, a tracker's own limits winning; RemoveMode never / ratio / time / either "
        "/ both; a limit of 0 is never reached), its hit-and-run obligation is met and the Arr "
        "has imported it: it is removed (Action = remove) or paused (Action = pause)."
    ),
    "ok": (
        "Nothing to do: downloading, seeding within its limits, stopped by you, or a limit is "
        "met but an obligation or the import still holds it. The reason says which."
    ),
}

assert tuple(RULE_DOCS) == RULES

# Rules of the search program's own decisions (journal instance "<name>:search"); not torrent
# rules, so not in RULES. Shown by the web UI like RULE_DOCS; docs/search.md explains them.
SEARCH_RULE_DOCS: dict[str, str] = {
    "temp-profile": (
        "UseTempForMissing = true: a missing item is switched from its quality profile to the "
        "looser one QualityProfileMappings names while it is searched, and switched back once "
        "it is no longer missing (a file was imported), after TempProfileTimeout, or when "
        "UseTempForMissing is turned off. The switch-back is planned together with the switch, "
        "so a crash never leaves an item on the temporary profile; a profile changed by hand "
        "meanwhile is left alone."
    ),
}

RULE_TONE: dict[str, str] = {
    "protected": "neutral",
    "manual-fail": "bad",
    "manual-recheck": "neutral",
    "missing-files": "bad",
    "errored": "bad",
    "unregistered": "bad",
    "wait": "neutral",
    "unwanted-files": "bad",
    "stalled": "bad",
    "slow": "bad",
    "free-space": "warn",
    "bad-media": "bad",
    "import": "good",
    "import-failed": "bad",
    "seeding-done": "neutral",
    "ok": "neutral",
}

assert tuple(RULE_TONE) == RULES
