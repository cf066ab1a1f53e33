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


@pytest.mark.parametrize(
    "url, reason",
    [
        ("127.0.0.1:18080", "no http:// or https:// scheme"),
        ("htp:/radarr host", "contains whitespace"),
        ("htp:/radarr", "no http:// or https:// scheme"),
        ("ftp://127.0.0.1:7878", "no http:// or https:// scheme"),
        ("http://127.0.0.1:99999", "port 99999 is not a number from 1 to 65535"),
        ("http://127.0.0.1:0", "port 0 is not a number from 1 to 65535"),
        ("http://:7878", "no host"),
        ("http://", "no host"),
    ],
)
def test_bad_urls_are_refused_naming_the_key(tmp_path: Path, url: str, reason: str) -> None:
    text = BASE.format(password="pw").replace("URL = http://127.0.0.1:7878", f"URL = {url}")
    [line] = problems(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'config.ini'}: [Radarr-A] URL = {url!r} is invalid: ")
    assert reason in line and "a URL such as http://127.0.0.1:7878" in line
    text = BASE.format(password="pw").replace("URL = http://127.0.0.1:8080", f"URL = {url}")
    [line] = problems(tmp_path, text)
    assert f"[qBittorrent] URL = {url!r} is invalid" in line


def test_good_urls_pass(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace(
        "URL = http://127.0.0.1:7878", "URL = https://[::1]:443/radarr/"
    )
    assert (
        load(write(tmp_path, text), env={}).instance("Radarr-A").url == "https://[::1]:443/radarr/"
    )
    # an optional URL (a request source that is off) may stay empty
    text += "    [[Search]]\n        [[[Overseerr]]]\n        URL =\n"
    load(write(tmp_path, text), env={})


def test_missing_qbittorrent_section_is_refused(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace(
        "[qBittorrent]\nURL = http://127.0.0.1:8080\nPassword = pw\n", ""
    )
    [line] = problems(tmp_path, text)
    assert line == (
        f"{tmp_path / 'config.ini'}: [qBittorrent] section is missing (it says where "
        "qBittorrent is: URL, Username, Password)"
    )
    # the environment may provide it (Docker)
    load(write(tmp_path, text), env={"QBARR__QBITTORRENT__URL": "http://127.0.0.1:8080"})


def test_empty_file_is_one_clear_error(tmp_path: Path) -> None:
    for text in ("", "\n\n", "# only a comment\n"):
        [line] = problems(tmp_path, text)
        assert line == (
            f"{tmp_path / 'config.ini'}: the file holds no settings (empty, or only comments); "
            "`qbarr init` writes a starter config.ini"
        )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.format(password="pw").encode())
    assert [i.name for i in load(path, env={}).instances] == ["Radarr-A", "Sonarr-B"]


@pytest.mark.parametrize(
    "name",
    [
        "Radarr-$(touch${IFS}x)",
        "Radarr-a;b",
        "Radarr-`id`",
        "Radarr-a|b",
        "Radarr-a'b",
        "Radarr-100%",
        "Sonarr-Anime & Kids",
        "-Radarr",
    ],
)
def test_instance_names_are_restricted_to_a_safe_set(tmp_path: Path, name: str) -> None:
    text = BASE.format(password="pw").replace("[Radarr-A]", f"[{name}]")
    [line] = problems(tmp_path, text)
    assert line == (
        f"{tmp_path / 'config.ini'}: [{name}]: the section name may only hold letters, digits, "
        "spaces and - _ . (it becomes a program name and a process title)"
    )


def test_instance_names_with_spaces_dots_and_letters_pass(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace("[Radarr-A]", "[Radarr-4K Filme_v1.2]")
    assert load(write(tmp_path, text), env={}).instances[0].name == "Radarr-4K Filme_v1.2"


@pytest.mark.parametrize(
    "broken",
    [
        'Password = "new-Secret-777',  # unbalanced quote
        'Password = """new-Secret-777',  # unterminated multiline value
        "Password = pw\nPassword = new-Secret-777",  # duplicate key
        'Password = "new-Secret-7\nnew-Secret-777"',  # a line break inside the password
    ],
)
def test_parse_errors_never_show_a_secret(tmp_path: Path, broken: str) -> None:
    text = BASE.format(password="pw").replace("Password = pw", broken)
    lines = problems(tmp_path, text)
    assert lines and all("new-Secret-7" not in line for line in lines), lines
    assert all(line.startswith(f"{tmp_path / 'config.ini'}: line ") for line in lines), lines


def test_parse_errors_show_non_secret_lines(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace("[WebUI]", "[WebUI\nPort = 1")
    [line] = problems(tmp_path, text)
    assert "line 5" in line and "'[WebUI'" in line


def test_key_outside_any_section_is_reported(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "LogLevel = DEBUG\n" + BASE.format(password="pw"))
    assert "'LogLevel' is outside any section" in line


@pytest.mark.parametrize(
    "webui, expected",
    [
        ("", "[WebUI] needs a Token (`qbarr init` generates one) or a Password"),
        ("Token =\nPassword =\n", "[WebUI] needs a Token"),
        ("AuthDisabled = true\nHost = 0.0.0.0\n", "AuthDisabled = true is refused with Host"),
    ],
)
def test_suite_checks_refuse_a_web_ui_that_cannot_start(
    tmp_path: Path, webui: str, expected: str
) -> None:
    text = BASE.format(password="pw").replace("[WebUI]\n", f"[WebUI]\n{webui}")
    load(write(tmp_path, text), env={})  # fine for a manager
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), env={}, suite=True)
    [line] = info.value.problems
    assert line.startswith(f"{tmp_path / 'config.ini'}: ") and expected in line


def test_suite_checks_accept_auth_in_the_allowed_ways(tmp_path: Path) -> None:
    for webui in (
        "Token = abcdefgh\n",
        "Password = hunter22\n",
        "AuthDisabled = true\n",
        "AuthDisabled = true\nHost = 0.0.0.0\nAllowInsecureExposure = true\n",
    ):
        text = BASE.format(password="pw").replace("[WebUI]\n", f"[WebUI]\n{webui}")
        load(write(tmp_path, text), env={}, suite=True)


def test_an_empty_list_value_is_the_empty_list(tmp_path: Path) -> None:
    # config.ini.example shows "# FileExtensionAllowlist =": uncommented, it must load
    text = BASE.format(password="pw") + "    [[Torrent]]\n    FileExtensionAllowlist =\n"
    inst = load(write(tmp_path, text), env={}).instance("Sonarr-B")
    assert inst.section["Torrent"]["FileExtensionAllowlist"] == []


def test_a_single_list_value_is_a_list_of_one(tmp_path: Path) -> None:
    text = BASE.format(password="pw") + "    [[Torrent]]\n    FileExtensionAllowlist = .mkv\n"
    inst = load(write(tmp_path, text), env={}).instance("Sonarr-B")
    assert inst.section["Torrent"]["FileExtensionAllowlist"] == [".mkv"]


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    text = BASE.format(password="pw").replace(
        "[WebUI]\n", "[WebUI]\nTrustedProxies = 10.0.0.2, proxy.lan\n"
    )
    [line] = problems(tmp_path, text)
    assert "[WebUI] TrustedProxies" in line and "'proxy.lan' is not an IP address" in line
    text = text.replace("proxy.lan", "172.16.0.0/12")
    cfg = load(write(tmp_path, text), env={})
    assert cfg.webui["TrustedProxies"] == ["10.0.0.2", "172.16.0.0/12"]


def test_a_list_from_the_environment_is_split_like_one_in_the_file(tmp_path: Path) -> None:
    env = {"QBARR__WEBUI__ALLOWEDHOSTS": "nas.lan, qbarr.example.org"}
    cfg = load(write(tmp_path, BASE.format(password="pw")), env=env)
    assert cfg.webui["AllowedHosts"] == ["nas.lan", "qbarr.example.org"]
