"""`qbarr import-qbitrr`: qBitrr's config.toml -> a valid qbarr config.ini and a report.

The config qBitrr's own --gen-config writes (tests/data/qbitrr) round-trips to a file that
passes `qbarr check --config-only`; hand-written configs with several instances, trackers,
request sources and secrets convert key by key; an existing config.ini is never overwritten
(--force keeps a .bak) and no secret is ever printed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from qbarr.config import load
from qbarr.qbitrr_import import convert, render

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "tests" / "data" / "qbitrr" / "generated-5.12.12.toml"

HAND = """
[Settings]
ConsoleLevel = "DEBUG"
FreeSpace = "200G"
LoopSleepTimer = 10
SearchLoopDelay = 45
IgnoreTorrentsYoungerThan = 600
FailedCategory = "broken"
Tagless = true

[WebUI]
Host = "127.0.0.1"
Port = 7000
Token = "webui-token-SECRET-1"

[qBit]
Host = "qbt.lan"
Port = 8105
UserName = "me"
Password = "qbt-pass-SECRET-2"

[[qBit.Trackers]]
Name = "Shared Private"
URI = "https://tracker.priv.example:443/announce"
MaxUploadRatio = 2.0
HitAndRunMode = "and"
MinSeedRatio = 1.5
MinSeedingTimeDays = 7
HitAndRunMinimumDownloadPercent = 20
HitAndRunPartialSeedRatio = 2.0
Priority = 10
AddTags = ["priv"]

[qBit-Second]
Host = "other.lan"
Port = 8081
UserName = "two"
Password = "qbt-two-SECRET-9"

[qBit-Old]
Disabled = true
Host = "old.lan"

[Radarr-4K]
URI = "http://radarr.lan:7878"
APIKey = "radarr-key-SECRET-3"
Category = "radarr-4k"
importMode = "Hardlink"
RssSyncTimer = 0
ArrErrorCodesToBlocklist = ["Not an upgrade"]

[Radarr-4K.Torrent]
StalledDelay = -1
MaximumETA = 86400
DoNotRemoveSlow = false
IgnoreTorrentsYoungerThan = "5m"
FileExtensionAllowlist = [".mkv", ".!qB", ".parts"]

[[Radarr-4K.Torrent.Trackers]]
Name = "Override"
URI = "tracker.priv.example"
MaxUploadRatio = 3.0
MaximumETA = "2h"

[Radarr-4K.Torrent.SeedingMode]
MaxUploadRatio = 2.5
MaxSeedingTime = "2w"
RemoveTorrent = 3
UploadRateLimitPerTorrent = 100
RemoveDeadTrackers = true
RemoveTrackerWithMessage = ["No such host is known", "unsupported URL protocol"]

[Radarr-4K.EntrySearch]
SearchMissing = true
SearchLimit = 99
CustomFormatUnmetSearch = true
UseTempForMissing = true
TempProfileResetTimeoutMinutes = 120
QualityProfileMappings = {"Ultra-HD" = "HD-1080p", "HD-1080p" = "Any"}
SearchRequestsEvery = 120

[Radarr-4K.EntrySearch.Overseerr]
SearchOverseerrRequests = true
OverseerrURI = "http://overseerr.lan:5055/"
OverseerrAPIKey = "overseerr-key-SECRET-4"
ApprovedOnly = false
Is4K = true

[Sonarr-TV]
URI = "http://sonarr.lan:8989"
APIKey = "sonarr-key-SECRET-5"
Category = "tv"

[Sonarr-TV.Torrent]
StalledDelay = 30
MaximumETA = 3600

[Sonarr-TV.Torrent.SeedingMode]
RemoveDeadTrackers = false
RemoveTrackerWithMessage = ["skipping tracker announce (unreachable)"]

[Sonarr-TV.EntrySearch]
SearchMissing = false
SearchBySeries = true
PrioritizeTodaysReleases = false

[Sonarr-TV.EntrySearch.Ombi]
SearchOmbiRequests = true
OmbiURI = "http://ombi.lan:3579"
OmbiAPIKey = "ombi-key-SECRET-6"

[Lidarr-Music]
URI = "http://lidarr.lan:8686"
APIKey = "lidarr-key-SECRET-7"
Category = "music"

[Lidarr-Music.EntrySearch.Overseerr]
SearchOverseerrRequests = true
OverseerrURI = "http://overseerr.lan:5055"
OverseerrAPIKey = "overseerr-key-SECRET-4"

[Readarr-Books]
URI = "http://readarr.lan:8787"
APIKey = "readarr-key-SECRET-8"
"""
SECRETS = [f"SECRET-{n}" for n in range(1, 10)]


def qbarr(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBARR__")}
    return subprocess.run(
        [sys.executable, "-m", "qbarr_programs.cli", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_config_qbitrr_generates_round_trips_and_passes_check(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = qbarr(home, "import-qbitrr", str(GENERATED))
    assert out.returncode == 0, out.stderr
    config = home / "config.ini"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    check = qbarr(home, "check", "--config-only")
    assert check.returncode == 0, check.stdout + check.stderr
    cfg = load(config, env={})
    names = ["Sonarr-TV", "Sonarr-Anime", "Radarr-1080", "Radarr-4K", "Lidarr-Music"]
    # qBitrr's generated file has URI = CHANGE_ME: each instance is kept, not managed, until
    # its address is set; the report says so and the web UI token is new (shown once).
    assert [n for n in cfg.data if n in names] == names and not cfg.instances
    assert all(cfg.data[n]["Managed"] is False for n in names)
    assert "Sonarr-TV] URI = 'CHANGE_ME' is not an address" in out.stdout
    assert cfg.webui["Token"] and "web UI token (shown only now" in out.stdout
    # one closing block: what was written, then what to do next (each said once)
    assert out.stdout.count(f"wrote {config}") == 1 and out.stdout.count("next: ") == 1
    tv = cfg.data["Sonarr-TV"]
    assert tv["Torrent"]["StalledDelay"] == 900.0  # 15 (minutes in qBitrr) -> 15m
    assert tv["Torrent"]["IgnoreYoungerThan"] == 180.0
    assert tv["Torrent"]["MaximumETA"] == 0  # -1 -> off
    assert tv["Torrent"]["SeedingMode"]["RemoveMode"] == "never"  # -1
    assert tv["Search"]["Enabled"] is True and tv["Search"]["SearchBySeries"] == "smart"
    assert cfg.settings["ProtectedTag"] == "qBitrr-ignored"
    report = out.stdout
    assert "converted (" in report and "no counterpart in qbarr (" in report
    assert "[Settings] Tagless: qbarr keeps its state in its database" in report
    assert "[Sonarr-TV] ArrErrorCodesToBlocklist: qbarr reads the queue's structured" in report
    assert "MaximumETA acted as an idle limit" in report
    assert "never resumes a torrent you paused" in report


def test_an_existing_config_is_never_overwritten_and_force_keeps_a_backup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.ini"
    config.write_text("# mine\n")
    refused = qbarr(home, "import-qbitrr", str(GENERATED))
    assert refused.returncode == 1 and "not overwritten" in refused.stderr
    assert config.read_text() == "# mine\n"
    forced = qbarr(home, "import-qbitrr", str(GENERATED), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (home / "config.ini.bak").read_text() == "# mine\n"
    assert "[Sonarr-TV]" in config.read_text()


def test_a_hand_written_config_converts_key_by_key_and_prints_no_secret(tmp_path: Path) -> None:
    source = tmp_path / "config.toml"
    source.write_text(HAND)
    home = tmp_path / "home"
    out = qbarr(home, "import-qbitrr", str(source))
    assert out.returncode == 0, out.stderr
    for secret in SECRETS:
        assert secret not in out.stdout + out.stderr, secret
    cfg = load(home / "config.ini", env={})
    assert [i.name for i in cfg.instances] == ["Radarr-4K", "Sonarr-TV", "Lidarr-Music"]
    s, q, w = cfg.settings, cfg.qbittorrent, cfg.webui
    assert (s["LogLevel"], s["FreeSpace"], s["LoopInterval"]) == ("DEBUG", 200 * 2**30, 10.0)
    assert s["FailedCategory"] == "broken"
    assert (q["URL"], q["Username"], q["Password"]) == (
        "http://qbt.lan:8105",
        "me",
        "qbt-pass-SECRET-2",
    )
    assert (w["Host"], w["Port"], w["Token"]) == ("127.0.0.1", 7000, "webui-token-SECRET-1")
    # [qBit-<name>] -> [qBittorrent-<name>]; a Disabled one is left out
    assert cfg.clients == ("qBittorrent", "qBittorrent-Second")
    two = cfg.client("qBittorrent-Second")
    assert (two["URL"], two["Username"], two["Password"]) == (
        "http://other.lan:8081",
        "two",
        "qbt-two-SECRET-9",
    )
    # only the instance that had RemoveDeadTrackers = true gives its messages
    assert s["RemoveTrackerMessages"] == ["No such host is known", "unsupported URL protocol"]

    r = cfg.instance("Radarr-4K").section
    assert (r["URL"], r["APIKey"], r["ImportMode"]) == (
        "http://radarr.lan:7878",
        "radarr-key-SECRET-3",
        "Auto",
    )
    t = r["Torrent"]
    assert t["StalledDelay"] == 0  # -1: never fail stalled torrents
    assert t["MaximumETA"] == 86400.0  # DoNotRemoveSlow = false: carried over
    assert t["IgnoreYoungerThan"] == 300.0
    assert t["FileExtensionAllowlist"] == [".mkv"]
    seed = t["SeedingMode"]
    assert (seed["MaxUploadRatio"], seed["MaxSeedingTime"], seed["RemoveMode"]) == (
        2.5,
        14 * 86400.0,
        "either",
    )
    trackers = t["Trackers"]
    assert list(trackers) == ["Override"]  # the instance's entry for the host wins
    tr = trackers["Override"]
    assert (tr["Host"], tr["MaxUploadRatio"], tr["MaximumETA"]) == (
        "tracker.priv.example",
        3.0,
        7200.0,
    )
    assert (tr["HitAndRun"], tr["MinSeedRatio"], tr["MinSeedDays"]) == (True, 1.5, 7.0)
    assert (tr["MinDownloadPercent"], tr["PartialSeedRatio"]) == (20.0, 2.0)
    search = r["Search"]
    assert search["Enabled"] and search["SearchLimit"] == 50 and search["SearchCustomFormatUnmet"]
    assert search["SearchDelay"] == 45.0 and search["RssSyncEvery"] == 0
    assert search["UseTempForMissing"] and search["TempProfileTimeout"] == 7200.0
    assert dict(search["QualityProfileMappings"]) == {"Ultra-HD": "HD-1080p", "HD-1080p": "Any"}
    o = search["Overseerr"]
    assert (o["Enabled"], o["URL"], o["APIKey"], o["ApprovedOnly"], o["Is4K"]) == (
        True,
        "http://overseerr.lan:5055",
        "overseerr-key-SECRET-4",
        False,
        True,
    )
    assert o["PollEvery"] == 120.0

    tv = cfg.instance("Sonarr-TV").section
    assert tv["Torrent"]["StalledDelay"] == 1800.0 and tv["Torrent"]["MaximumETA"] == 0
    assert tv["Torrent"]["IgnoreYoungerThan"] == 600.0  # [Settings] default applies
    assert list(tv["Torrent"]["Trackers"]) == ["Shared Private"]  # [qBit] Trackers shared
    assert tv["Search"]["Enabled"] is False and tv["Search"]["SearchBySeries"] == "series"
    assert tv["Search"]["RecentDays"] == 0 and tv["Search"]["Ombi"]["Enabled"] is True

    music = cfg.instance("Lidarr-Music").section
    assert music["Search"]["Overseerr"]["Enabled"] is False

    report = out.stdout
    assert "[qBit-Second] Host/Port = other.lan:8081 -> [qBittorrent-Second] URL" in report
    assert "[qBit-Old] (section): Disabled = true" in report
    assert "Client = Second" in report  # how an Arr picks the second qBittorrent
    assert "[Settings] RemoveTrackerMessages applies to every instance" in report
    assert "[Sonarr-TV.Torrent.SeedingMode] RemoveTrackerWithMessage: RemoveDeadTrackers" in report
    assert "[Readarr-Books] (section): qbarr manages Radarr, Sonarr and Lidarr only" in report
    assert "[Sonarr-TV.Torrent] MaximumETA: 3600: DoNotRemoveSlow = true" in report
    assert "Overseerr requests are for Radarr and Sonarr only" in report
    assert "[Radarr-4K.Torrent.SeedingMode] UploadRateLimitPerTorrent: qbarr sets no rate" in report
    assert (
        "[Radarr-4K.Torrent] StalledDelay = -1 -> [Radarr-4K][Torrent] StalledDelay = 0" in report
    )
    assert "APIKey = ******** -> [Radarr-4K] APIKey = ********" in report


def test_the_converter_is_pure_and_its_output_loads(tmp_path: Path) -> None:
    result = convert(tomllib.loads(HAND))
    text = render(result.config)
    path = tmp_path / "config.ini"
    path.write_text(text)
    assert load(path, env={}).instance("Radarr-4K")
    assert not any(secret in result.report() for secret in SECRETS)
    assert "qbt-pass-SECRET-2" in text  # carried over into the file (mode 0600)


def test_a_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[Settings\nx = 1\n")
    out = qbarr(tmp_path / "home", "import-qbitrr", str(bad))
    assert out.returncode == 78 and "is not a readable TOML file" in out.stderr
    assert not (tmp_path / "home" / "config.ini").exists()
