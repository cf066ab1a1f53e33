"""PolicySettings from config.ini, the shared-content helper and the rule docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr.config import load
from qbarr.policy import (
    RULE_DOCS,
    RULES,
    PolicyConfigError,
    PolicySettings,
    default_allowlist,
    needs_files,
    shared_content,
)

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
[Settings]
FailedCategory = broken
RecheckCategory = again
ProtectedTag = keepme
DryRun = true
BrakeMaxRemovals = 3
FreeSpace = 100G

[qBittorrent]
URL = http://127.0.0.1:8080

[Sonarr-TV]
URL = http://127.0.0.1:8989
APIKey = k
Category = tv
ReSearch = false
ImportMode = Copy
    [[Torrent]]
    IgnoreYoungerThan = 5m
    StalledDelay = 30m
    ReSearchStalled = true
    MaximumETA = 2d
    SlowStrikes = 5
    MaxRechecks = 1
    CaseSensitiveMatches = true
    FolderExclusionRegex = \\bextras\\b,
    FileNameExclusionRegex = ,
    FileExtensionAllowlist = .mkv, srt
        [[[SeedingMode]]]
        MaxUploadRatio = 2.5
        MaxSeedingTime = 7d
        RemoveMode = either
        Action = pause
        [[[Trackers]]]
            [[[[Priv]]]]
            Host = https://tracker.priv.example:443/announce
            MaxUploadRatio = 4
            HitAndRun = true
            HitAndRunMode = or
            MinSeedRatio = 1.5
            MinSeedDays = 3
            MinDownloadPercent = 20
            PartialSeedRatio = 0.5
            ObligationAction = pause
            MaximumETA = 1h
"""

MINIMAL = """
[qBittorrent]
[Radarr-Main]
URL = http://127.0.0.1:7878
APIKey = k
Category = radarr
"""


def test_from_a_real_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(CONFIG)
    cfg = load(path, env={})
    inst = cfg.instance("Sonarr-TV")
    s = PolicySettings.from_config(inst.section, cfg.settings, inst.kind)
    assert (s.kind, s.category, s.failed_category, s.recheck_category, s.protected_tag) == (
        "sonarr",
        "tv",
        "broken",
        "again",
        "keepme",
    )
    assert s.free_space == 100 * 1024**3
    assert (s.re_search, s.import_mode) == (False, "Copy")
    assert (s.ignore_younger_than, s.stalled_delay, s.re_search_stalled) == (300, 1800, True)
    assert (s.maximum_eta, s.slow_strikes, s.max_rechecks, s.case_sensitive) == (
        2 * 86400,
        5,
        1,
        True,
    )
    assert s.folder_exclusions == (r"\bextras\b",) and s.name_exclusions == ()
    assert s.allowlist == (".mkv", ".srt")
    assert (s.max_ratio, s.max_seeding_time, s.remove_mode, s.seed_action) == (
        2.5,
        7 * 86400,
        "either",
        "pause",
    )
    (t,) = s.trackers
    assert (t.name, t.host, t.max_ratio, t.hit_and_run, t.hnr_mode) == (
        "Priv",
        "tracker.priv.example",
        4,
        True,
        "or",
    )
    assert (t.min_seed_ratio, t.min_seed_days, t.min_download_percent, t.partial_seed_ratio) == (
        1.5,
        3,
        20,
        0.5,
    )
    assert (t.obligation_action, t.maximum_eta) == ("pause", 3600)


def test_defaults_mirror_the_configspec(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(MINIMAL)
    cfg = load(path, env={})
    inst = cfg.instance("Radarr-Main")
    from_file = PolicySettings.from_config(inst.section, cfg.settings, inst.kind)
    from_nothing = PolicySettings.from_config({"Category": "radarr"}, {}, "radarr")
    assert from_file == from_nothing == PolicySettings()


def test_the_example_config_loads(tmp_path: Path) -> None:
    cfg = load(REPO / "config.ini.example", env={})
    for inst in cfg.instances:
        PolicySettings.from_config(inst.section, cfg.settings, inst.kind)


def test_bad_regex_is_a_clear_error() -> None:
    with pytest.raises(PolicyConfigError, match="FileNameExclusionRegex"):
        PolicySettings.from_config(
            {"Torrent": {"FileNameExclusionRegex": ["(unclosed"]}}, {}, "radarr"
        )


def test_tracker_without_host_is_an_error() -> None:
    with pytest.raises(PolicyConfigError, match="Host"):
        PolicySettings.from_config({"Torrent": {"Trackers": {"X": {"Host": ""}}}}, {}, "radarr")


def test_default_allowlists() -> None:
    assert ".mkv" in default_allowlist("radarr") and ".srt" in default_allowlist("sonarr")
    assert ".flac" in default_allowlist("lidarr") and ".mkv" not in default_allowlist("lidarr")


def test_shared_content() -> None:
    torrents = {
        "a": {"content_path": "/d/Movie"},
        "b": {"content_path": "/d/Movie/"},  # same folder
        "c": {"content_path": "/d/Other/file.mkv"},
        "d": {"content_path": "/d/Other"},  # c is inside d
        "e": {"content_path": "/d/Alone"},
        "f": {"content_path": "/d/Alone2"},  # a prefix of the string, not of the path
        "g": {"content_path": ""},
    }
    assert shared_content(torrents) == {"a", "b", "c", "d"}


def test_needs_files() -> None:
    assert needs_files({"state": "downloading", "amount_left": 5})
    assert needs_files({"state": "pausedDL", "amount_left": 5})
    assert not needs_files({"state": "metaDL", "amount_left": 0})
    assert not needs_files({"state": "stalledUP", "amount_left": 0, "progress": 1})
    assert not needs_files({"state": "pausedUP", "amount_left": 0, "progress": 1})
    assert not needs_files({"state": "checkingDL", "amount_left": 5})


def test_every_rule_is_documented_and_docs_md_is_current() -> None:
    assert set(RULE_DOCS) == set(RULES) and len(RULES) == 16
    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"`{rule}`" in text, rule


def test_the_defaults_are_read_from_the_configspec() -> None:
    from qbarr.config import spec_defaults
    from qbarr.policy import TrackerRule

    spec = spec_defaults()
    assert spec["Arr"]["Torrent"]["StalledDelay"] == 900.0 == PolicySettings().stalled_delay
    assert spec["Settings"]["FreeSpace"] == -1 == PolicySettings().free_space
    tracker = TrackerRule(name="t", host="example.org")
    assert (tracker.min_download_percent, tracker.hnr_mode) == (10.0, "and")
    assert tracker.min_seed_ratio == spec["Tracker"]["MinSeedRatio"]
    assert "Host" not in spec["Tracker"] and "URL" not in spec["Arr"]  # no default: required
