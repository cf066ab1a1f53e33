"""Several qBittorrents: ``[qBittorrent-<name>]`` sections, and ``Client`` in an Arr section."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbarr.config import ConfigError, load, secrets_of

BASE = """[Settings]
[qBittorrent]
URL = http://127.0.0.1:8080
[qBittorrent-private]
URL = http://127.0.0.1:8081
Password = private-secret-77
IdlePollInterval = 30s
[WebUI]
[Radarr-A]
URL = http://127.0.0.1:7878
APIKey = key-aaaa
Category = movies
[Radarr-B]
URL = http://127.0.0.1:7879
APIKey = key-bbbb
Category = movies
Client = private
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.ini"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), env={})
    return info.value.problems


def test_each_arr_picks_its_client(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, BASE), env={})
    assert cfg.clients == ("qBittorrent", "qBittorrent-private")
    assert cfg.instance("Radarr-A").client == "qBittorrent"
    assert cfg.instance("Radarr-B").client == "qBittorrent-private"
    private = cfg.client("qBittorrent-private")
    assert private["URL"] == "http://127.0.0.1:8081"
    assert private["IdlePollInterval"] == 30.0  # typed as [qBittorrent] is
    assert private["Timeout"] == 15.0  # with [qBittorrent]'s defaults
    assert [i.name for i in cfg.instances_of("qBittorrent-private")] == ["Radarr-B"]
    # one category may be used in two qBittorrents; the client password is a secret
    assert "private-secret-77" in secrets_of(cfg.data)


@pytest.mark.parametrize("given", ["qBittorrent-private", "PRIVATE"])
def test_client_may_be_named_in_full_or_any_case(tmp_path: Path, given: str) -> None:
    cfg = load(write(tmp_path, BASE.replace("Client = private", f"Client = {given}")), env={})
    assert cfg.instance("Radarr-B").client == "qBittorrent-private"


def test_unknown_client_names_the_section_and_the_known_ones(tmp_path: Path) -> None:
    [line] = problems(tmp_path, BASE.replace("Client = private", "Client = public"))
    assert line == (
        f"{tmp_path / 'config.ini'}: [Radarr-B] Client = 'public': no [qBittorrent-public] "
        "section (known clients: (empty) for [qBittorrent], private)"
    )


def test_a_client_section_is_validated_as_a_qbittorrent(tmp_path: Path) -> None:
    text = BASE.replace("URL = http://127.0.0.1:8081", "URL = 127.0.0.1:8081\nCategory = x")
    lines = problems(tmp_path, text)
    assert any("[qBittorrent-private] URL = '127.0.0.1:8081' is invalid" in p for p in lines)
    assert any(
        "[qBittorrent-private] has an unknown setting or section 'Category'" in p for p in lines
    )
    assert len(lines) == 2  # not also "APIKey is missing" as if it were an Arr


def test_one_category_twice_in_one_client_is_refused(tmp_path: Path) -> None:
    [line] = problems(tmp_path, BASE.replace("Client = private\n", ""))
    assert "[Radarr-B] Category = 'movies' is already the category of [Radarr-A]" in line
    assert "[qBittorrent]" in line


def test_client_names_are_restricted(tmp_path: Path) -> None:
    lines = problems(tmp_path, BASE.replace("[qBittorrent-private]", "[qBittorrent-pri/vate]"))
    assert any(
        "[qBittorrent-pri/vate]: the name after qBittorrent- may only hold" in p for p in lines
    )


def test_env_overrides_reach_a_client_section(tmp_path: Path) -> None:
    env = {"QBARR__QBITTORRENT_PRIVATE__URL": "http://127.0.0.1:9091"}
    cfg = load(write(tmp_path, BASE), env=env)
    assert cfg.client("qBittorrent-private")["URL"] == "http://127.0.0.1:9091"


def test_a_change_in_a_client_section_hups_only_its_instances(tmp_path: Path) -> None:
    from qbarr.webui.apply import programs_to_hup

    old = load(write(tmp_path, BASE), env={})
    new = load(write(tmp_path, BASE.replace(":8081", ":8082")), env={})
    assert programs_to_hup(old, new) == {"arr-radarr-b", "search-radarr-b"}
