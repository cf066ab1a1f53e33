"""Search settings: typed values, the hourly share, and clear config errors for bad ones."""

from __future__ import annotations

import textwrap

import pytest

from qbarr.config import ConfigError, load
from qbarr.search.settings import SearchSettings, settings_for

BASE = """
[qBittorrent]
[{name}]
URL = http://127.0.0.1:7878
APIKey = secret-arr-key
Category = {cat}
    [[Search]]
    Enabled = true
{search}
"""


def write(tmp_path, search: str, name: str = "Radarr-Main", cat: str = "radarr"):
    path = tmp_path / "config.ini"
    body = textwrap.indent(textwrap.dedent(search).strip("\n"), "    ") if search else ""
    path.write_text(BASE.format(name=name, cat=cat, search=body))
    return path


def problems(tmp_path, search: str, **kw) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, search, **kw), env={})
    return err.value.problems


def test_defaults(tmp_path):
    cfg = load(write(tmp_path, ""), env={})
    s = settings_for(cfg.instances[0])
    assert s == SearchSettings(kind="radarr", enabled=True, requests=s.requests)
    assert (s.search_limit, s.search_delay, s.search_cooldown, s.max_per_day, s.series_mode) == (
        3,
        30.0,
        86400.0,
        250,
        "smart",
    )
    assert s.hourly_cap == 11
    assert [r.name for r in s.requests] == ["Overseerr", "Ombi"] and s.enabled_requests == ()


def test_typed_values_and_sources(tmp_path):
    cfg = load(
        write(
            tmp_path,
            """
        SearchLimit = 5
        SearchDelay = 2m
        SearchCooldown = 12h
        MaxSearchesPerDay = 0
        SearchBySeries = series
        [[[Overseerr]]]
        Enabled = true
        URL = http://127.0.0.1:5055/
        APIKey = ovkey
        Is4K = true
        PollEvery = 1m
    """,
            name="Sonarr-TV",
            cat="tv",
        ),
        env={},
    )
    s = settings_for(cfg.instances[0])
    assert (
        s.kind,
        s.search_limit,
        s.search_delay,
        s.search_cooldown,
        s.max_per_day,
        s.series_mode,
    ) == ("sonarr", 5, 120.0, 43200.0, 0, "series")
    assert s.hourly_cap is None and s.max_per_hour == 0
    (src,) = s.enabled_requests
    assert (src.name, src.url, src.is_4k, src.poll_every, src.request_limit) == (
        "Overseerr",
        "http://127.0.0.1:5055",
        True,
        60.0,
        5,
    )
    assert "ovkey" not in repr(src)


@pytest.mark.parametrize(
    "search, expected",
    [
        (
            "SearchLimit = -1",
            "[Radarr-Main][Search] SearchLimit = '-1' is invalid: "
            "expected a whole number (at least 1",
        ),
        ("SearchLimit = 0", "[Radarr-Main][Search] SearchLimit = '0' is invalid"),
        ("MaxSearchesPerDay = -5", "[Radarr-Main][Search] MaxSearchesPerDay = '-5' is invalid"),
        ("SearchDelay = -3", "[Radarr-Main][Search] SearchDelay"),
        (
            "SearchCooldown = soon",
            "[Radarr-Main][Search] SearchCooldown = 'soon' is invalid: expected a duration",
        ),
        (
            "SearchBySeries = season",
            "[Radarr-Main][Search] SearchBySeries = 'season' is invalid: expected one of",
        ),
        ("RecentDays = -1", "[Radarr-Main][Search] RecentDays = '-1' is invalid"),
        (
            "MaxSearchesPerHour = -2",
            "[Radarr-Main][Search] MaxSearchesPerHour = '-2' is invalid: "
            "expected a whole number (at least -1",
        ),
    ],
)
def test_bad_values_name_file_section_key(tmp_path, search, expected):
    found = problems(tmp_path, search)
    assert any(expected in line and str(tmp_path / "config.ini") in line for line in found), found


def test_overseerr_without_url_or_key(tmp_path):
    found = problems(
        tmp_path,
        """
        [[[Overseerr]]]
        Enabled = true
    """,
    )
    where = f"{tmp_path / 'config.ini'}: [Radarr-Main][Search][Overseerr]"
    assert any(line.startswith(f"{where} URL is empty: Overseerr is enabled") for line in found), (
        found
    )
    assert any(line.startswith(f"{where} APIKey is empty") for line in found), found


def test_ombi_bad_url_and_requests_on_lidarr(tmp_path):
    found = problems(
        tmp_path,
        """
        [[[Ombi]]]
        Enabled = true
        URL = ombi.local:3579
        APIKey = k
    """,
        name="Lidarr-Music",
        cat="music",
    )
    assert any(
        "[Lidarr-Music][Search][Ombi] URL = 'ombi.local:3579' is invalid: expected an http://"
        in line
        for line in found
    )
    assert any(
        "[Lidarr-Music][Search][Ombi] Enabled = true is invalid: "
        "Ombi requests are for Radarr and Sonarr" in line
        for line in found
    )


def test_disabled_source_needs_nothing(tmp_path):
    load(
        write(
            tmp_path,
            """
        [[[Overseerr]]]
        Enabled = false
    """,
        ),
        env={},
    )


def test_secrets_never_in_messages(tmp_path):
    found = problems(
        tmp_path,
        """
        SearchLimit = -1
        [[[Overseerr]]]
        Enabled = true
        APIKey = very-secret-overseerr
    """,
    )
    assert not any("very-secret-overseerr" in line or "secret-arr-key" in line for line in found)


def test_hourly_limit_setting(tmp_path):
    cfg = load(write(tmp_path, "MaxSearchesPerHour = 20"), env={})
    assert settings_for(cfg.instances[0]).hourly_cap == 20
    cfg = load(write(tmp_path, "MaxSearchesPerHour = -1"), env={})
    assert settings_for(cfg.instances[0]).hourly_cap is None
