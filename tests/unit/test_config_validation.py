"""config.ini validation: every error names file, section, key, value and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr.config import MASK, ConfigError, load, masked, secrets_of

BASE = """[Settings]
[qBittorrent]
URL = http://127.0.0.1:8080
Password = {password}
[WebUI]
[Radarr-A]
URL = http://127.0.0.1:7878
APIKey = key-aaaa
Category = movies
[Sonarr-B]
URL = http://127.0.0.1:8989
APIKey = key-bbbb
Category = tv
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.ini"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), env=env or {})
    return info.value.problems


def test_valid_file_loads_typed_values(tmp_path: Path) -> None:
    cfg = load(
        write(tmp_path, BASE.format(password="pw") + "[[Torrent]]\nStalledDelay = 15m\n"), env={}
    )
    assert [i.name for i in cfg.instances] == ["Radarr-A", "Sonarr-B"]
    assert cfg.settings["LoopInterval"] == 2.0
    assert cfg.instance("Sonarr-B").section["Torrent"]["StalledDelay"] == 900.0
    assert cfg.instance("arr-radarr-a").kind == "radarr"


def test_missing_key(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace("APIKey = key-aaaa\n", "")
    [line] = problems(tmp_path, text)
    assert (
        line == f"{tmp_path / 'config.ini'}: [Radarr-A] APIKey is missing (expected non-empty text)"
    )


@pytest.mark.parametrize(
    "setting, value, expected",
    [
        (
            "[Settings]\nLoopInterval",
            "soon",
            "expected a duration such as 90, 15m, 2h or 7d (at least 0.2 seconds)",
        ),
        ("[Settings]\nDryRun", "perhaps", "expected true or false"),
        ("[Settings]\nBrakeMaxRemovals", "ten", "expected a whole number (at least 0)"),
        ("[Settings]\nLogLevel", "LOUD", "expected one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_wrong_type_names_section_key_value_and_expectation(
    tmp_path: Path, setting: str, value: str, expected: str
) -> None:
    section, key = setting.split("\n")
    text = BASE.format(password="pw").replace(f"{section}\n", f"{section}\n{key} = {value}\n")
    [line] = problems(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'config.ini'}: {section} {key} = '{value}' is invalid: ")
    assert line.endswith(expected)


def test_unknown_kind_and_explicit_kind(tmp_path: Path) -> None:
    text = BASE.format(password="pw") + "[Plex-Main]\nURL = http://x\nAPIKey = k\nCategory = plex\n"
    lines = problems(tmp_path, text)
    assert any("[Plex-Main]: unknown Arr kind" in line for line in lines)
    text = (
        BASE.format(password="pw")
        + "[Films]\nKind = radarr\nURL = http://x\nAPIKey = k\nCategory = films\n"
    )
    assert load(write(tmp_path, text), env={}).instance("Films").kind == "radarr"
    text = (
        BASE.format(password="pw")
        + "[Films]\nKind = plex\nURL = http://x\nAPIKey = k\nCategory = films\n"
    )
    assert any(
        "[Films] Kind = 'plex' is invalid: expected one of radarr, sonarr, lidarr" in line
        for line in problems(tmp_path, text)
    )


def test_duplicate_category(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace("Category = tv", "Category = movies")
    [line] = problems(tmp_path, text)
    assert "[Sonarr-B] Category = 'movies' is already the category of [Radarr-A]" in line


def test_unknown_setting_is_reported(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace("[Settings]\n", "[Settings]\nLoopIntervall = 3s\n")
    [line] = problems(tmp_path, text)
    assert "[Settings] has an unknown setting or section 'LoopIntervall'" in line


def test_unreadable_and_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "config.ini").mkdir()
    with pytest.raises(ConfigError, match="cannot read the file"):
        load(tmp_path / "config.ini", env={})
    (tmp_path / "config.ini").rmdir()
    (tmp_path / "config.ini").write_bytes(b"[Settings]\n\xff = 1\n")
    with pytest.raises(ConfigError, match=r"line 2: not UTF-8 text"):
        load(tmp_path / "config.ini", env={})
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "missing.ini", env={})


@pytest.mark.parametrize("password", ["a%b", "abc%(def)s", "100%%", "%s%d%"])
def test_percent_in_password_is_read_verbatim(tmp_path: Path, password: str) -> None:
    cfg = load(write(tmp_path, BASE.format(password=password)), env={})
    assert cfg.qbittorrent["Password"] == password
    assert password in secrets_of(cfg.data)
    assert masked(cfg.data)["qBittorrent"]["Password"] == MASK


def test_secret_values_are_masked_in_errors(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace("[WebUI]\n", "[WebUI]\nPassword = x\nPort = nope\n")
    lines = problems(tmp_path, text)
    assert lines and all("key-aaaa" not in line for line in lines)


def test_env_override(tmp_path: Path) -> None:
    env = {"QBARR__SETTINGS__LOOPINTERVAL": "5s", "QBARR__RADARR_A__CATEGORY": "films"}
    cfg = load(write(tmp_path, BASE.format(password="pw")), env=env)
    assert cfg.settings["LoopInterval"] == 5.0
    assert cfg.instance("Radarr-A").category == "films"
    [line] = problems(
        tmp_path, BASE.format(password="pw"), env={"QBARR__SETTINGS__LOOPINTERVAL": "x"}
    )
    assert "[Settings] LoopInterval = 'x' is invalid" in line
