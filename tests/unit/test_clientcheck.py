"""qbarr.clientcheck: an Arr's download clients against qbarr's config (pure)."""

from __future__ import annotations

from pathlib import Path

from qbarr import clientcheck
from qbarr.config import load
from qbarr.sim.arr.resources import download_client

CONFIG = """[qBittorrent]
URL = http://127.0.0.1:8080
[qBittorrent-private]
URL = http://127.0.0.1:8081
[WebUI]
[Radarr-A]
URL = http://127.0.0.1:7878
APIKey = k
Category = radarr
[Sonarr-B]
URL = http://127.0.0.1:8989
APIKey = k
Category = tv
Client = private
"""


def cfg(tmp_path: Path):
    (tmp_path / "config.ini").write_text(CONFIG)
    return load(tmp_path / "config.ini", env={})


def listed(kind: str, *specs: dict) -> list[dict]:
    return [download_client(kind, i, s) for i, s in enumerate(specs, 1)]


def test_agreeing_lists_give_no_warning(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    a = listed("radarr", {"host": "localhost", "port": 8080, "category": "radarr"})
    assert clientcheck.warnings(c, c.instance("Radarr-A"), a) == []  # localhost = 127.0.0.1
    b = listed("sonarr", {"host": "127.0.0.1", "port": 8081, "category": "tv"})
    assert clientcheck.warnings(c, c.instance("Sonarr-B"), b) == []


def test_a_docker_name_is_a_host_difference_without_a_client_hint(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    a = listed("radarr", {"host": "qbittorrent", "port": 8080, "category": "radarr"})
    [line] = clientcheck.warnings(c, c.instance("Radarr-A"), a)
    assert "sends category 'radarr' to qbittorrent:8080" in line
    assert "Docker service name" in line


def test_category_sent_nowhere_and_disabled_clients_do_not_count(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    a = listed(
        "radarr",
        {"host": "127.0.0.1", "port": 8080, "category": "radarr", "enable": False},
        {"host": "127.0.0.1", "port": 8081, "category": "tv", "name": "private"},
        {"host": "127.0.0.1", "port": 8080, "category": "tv", "name": "public"},
    )
    lines = clientcheck.warnings(c, c.instance("Radarr-A"), a)
    assert lines[0].startswith("sends no download to category 'radarr'")
    # tv in the private client is Sonarr-B's; tv in the default client nobody watches
    assert len(lines) == 2 and "'public' sends category 'tv' to 127.0.0.1:8080" in lines[1]


def test_other_implementations_are_ignored(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    other = {**listed("radarr", {"category": "x"})[0], "implementation": "Transmission"}
    mine = listed("radarr", {"host": "127.0.0.1", "port": 8080, "category": "radarr"})
    assert clientcheck.warnings(c, c.instance("Radarr-A"), [other, *mine]) == []
