"""Several qBittorrents, end to end: two real qbittorrent-nox on loopback, an instance on each,
under supervisord.

- Each manager reads its own qBittorrent (one reader per client) and imports a complete
  torrent from it into its own Arr, even with the same category in both qBittorrents.
- ``qbarr check`` logs in to both qBittorrents and reads each Arr's download-client list: no
  warning while they agree; a warning naming the category and the host:port when an Arr sends
  its category to the other qBittorrent, or sends a category nobody watches.
- ``qbarr status`` and /metrics show each qBittorrent's state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, needs_tool
from tests.support.qbt_targets import PASSWORD, USER, RealTarget
from tests.support.torrents import make_torrent, write_random
from tests.system.conftest import TEST_PASSWORD, short_home
from tests.system.manager_helpers import Inst, manager_config, scans_by_hash, start_arr_sim

pytestmark = [pytest.mark.system, needs_tool("qbittorrent-nox", "apt-get install qbittorrent-nox")]

PIECE = 64 * 1024


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[RealTarget, RealTarget]]:
    with ExitStack() as stack:
        first = RealTarget(tmp_path / "qbt1", free_port())
        stack.callback(first.stop)
        second = RealTarget(tmp_path / "qbt2", free_port())
        stack.callback(second.stop)
        yield first, second


def add_complete(qbt: RealTarget, name: str, seed: int) -> str:
    save = Path(qbt.info["save_path"])
    folder = save / name
    write_random(folder / f"{name}.mkv", 200 * 1024, seed=seed)
    torrent = make_torrent(folder, PIECE)
    with qbt.client() as client:
        client.login()
        client.create_category("radarr")
        client.add(torrent_files=[torrent.data], category="radarr", save_path=str(save))
    return torrent.hash


def test_two_qbittorrents_each_with_its_instance(two, suite_factory, tmp_path: Path) -> None:
    first, second = two
    h1 = add_complete(first, "First.Movie.2020.1080p", 1)
    h2 = add_complete(second, "Second.Movie.2020.1080p", 2)
    with ExitStack() as stack:
        arrs = []
        for qbt in (first, second):  # each Radarr reads its own qBittorrent, category radarr
            arr = start_arr_sim(
                qbt.url,
                "radarr",
                tmp_path / "sims",
                qbt_user=USER,
                qbt_password=PASSWORD,
                grab_probability=0.0,
            )
            stack.callback(arr.stop)
            arrs.append(arr)
        instances = [
            Inst("Radarr-One", "radarr", arrs[0].url, torrent={"IgnoreYoungerThan": "0"}),
            Inst(
                "Radarr-Two",
                "radarr",
                arrs[1].url,
                keys={"Client": "second"},
                torrent={"IgnoreYoungerThan": "0"},
            ),
        ]
        home = short_home()
        home.root.mkdir(parents=True, exist_ok=True)
        text = manager_config(
            first.url, instances, {"LoopInterval": "0.5s"}, qbt_user=USER, qbt_password=PASSWORD
        )
        text += (
            f"[qBittorrent-second]\nURL = {second.url}\nUsername = {USER}\n"
            f"Password = {PASSWORD}\nTimeout = 10s\n"
        )
        home.config.write_text(text)
        suite = suite_factory(home=home, arrs=[i.spec for i in instances])

        # qbarr check: both qBittorrents, both Arrs, no warning while they agree
        out = suite.qbarr("check")
        assert out.returncode == 0, out.stdout + out.stderr
        lines = out.stdout.splitlines()
        assert any(x.startswith("ok") and " qBittorrent " in x and first.url in x for x in lines)
        assert any(
            x.startswith("ok") and " qBittorrent-second " in x and second.url in x for x in lines
        )
        assert not [x for x in lines if x.startswith("warn")], lines

        # each manager imports its own qBittorrent's torrent, into its own Arr, once
        def imported() -> bool:
            return scans_by_hash(arrs[0]).get(h1) == 1 and scans_by_hash(arrs[1]).get(h2) == 1

        suite.wait_for(imported, "each torrent imported by its own instance", timeout=120)
        assert h2 not in scans_by_hash(arrs[0]) and h1 not in scans_by_hash(arrs[1])
        feeds = {r["client"]: r for r in suite.query("SELECT * FROM qbt_feed")}
        assert set(feeds) == {"qBittorrent", "qBittorrent-second"}
        assert feeds["qBittorrent"]["reader"] == "arr-radarr-one"
        assert feeds["qBittorrent-second"]["reader"] == "arr-radarr-two"

        # qbarr status, the web UI and /metrics: each qBittorrent's state
        status = suite.qbarr("status").stdout
        v1, v2 = first.info["version"], second.info["version"]
        assert f"qBittorrent [qBittorrent]: ok, {v1} (WebAPI " in status
        assert f"qBittorrent [qBittorrent-second]: ok, {v2} (WebAPI " in status
        assert "read by arr-radarr-one" in status and "read by arr-radarr-two" in status
        assert "Radarr-Two (radarr, qBittorrent [qBittorrent-second]" in status
        port = re.search(r"^Port = (\d+)$", home.config.read_text(), re.M)
        assert port
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port.group(1)}",
            headers={"Authorization": "Bearer test-token-abcdefgh"},
            timeout=30,
        ) as web:
            overview = web.get("/api/overview").json()
            assert {c["client"]: c["up"] for c in overview["clients"]} == {
                "qBittorrent": True,
                "qBittorrent-second": True,
            }
            assert {i["name"]: i["client"] for i in overview["instances"]} == {
                "Radarr-One": "qBittorrent",
                "Radarr-Two": "qBittorrent-second",
            }
            assert 'id="clients"' in web.get("/").text
            metrics = web.get("/metrics").text
        assert 'qbarr_qbittorrent_up{client="qBittorrent-second"} 1.0' in metrics
        assert 'qbarr_qbittorrent_torrents{client="qBittorrent"} 1.0' in metrics

        # the second Radarr now sends its category to the first qBittorrent, and "tv" too
        arrs[1].control(
            "PUT",
            "/sim/downloadclients",
            json=[
                {"name": "wrong", "host": "127.0.0.1", "port": first.port, "category": "radarr"},
                {"name": "tv", "host": "127.0.0.1", "port": second.port, "category": "tv"},
            ],
        )
        out = suite.qbarr("check")
        assert out.returncode == 0, out.stdout
        warns = [x for x in out.stdout.splitlines() if x.startswith("warn")]
        assert len(warns) == 2, warns
        assert f"'wrong' sends category 'radarr' to 127.0.0.1:{first.port}" in warns[0]
        assert "set Client = qBittorrent" in warns[0]
        assert "'tv' sends category 'tv'" in warns[1] and "not watching" in warns[1]
        assert PASSWORD not in out.stdout


def test_a_5x_simulator_next_to_a_45_one(suite_factory, tmp_path: Path) -> None:
    """Two qBittorrent simulators, 4.5 and 5.1, an instance on each, under supervisord: each
    download that completes is imported by its own instance, and each client is read the way
    its version allows (5.x: sync/maindata with rid; 4.5: state lists)."""
    from tests.system.manager_helpers import spec, start_qbt_sim

    with ExitStack() as stack:
        sims, arrs = {}, {}
        for api in ("4", "5.1"):
            sims[api] = start_qbt_sim(tmp_path / f"qbt{api}", "--api", api)
            stack.callback(sims[api].stop)
            arrs[api] = start_arr_sim(sims[api].url, "radarr", tmp_path, grab_probability=0.0)
            stack.callback(arrs[api].stop)
        hashes = {"4": f"{0xA:040x}", "5.1": f"{0xB:040x}"}
        for api, h in hashes.items():
            size = 64 * 2**20
            sims[api].control(
                "POST",
                "/sim/torrents",
                [spec(h, "radarr", "downloading", size=size, progress=0.5, dl_speed=size // 6)],
            )
            arrs[api].control("POST", "/sim/poll")
        instances = [
            Inst("Radarr-Old", "radarr", arrs["4"].url, torrent={"IgnoreYoungerThan": "0"}),
            Inst(
                "Radarr-New",
                "radarr",
                arrs["5.1"].url,
                keys={"Client": "new"},
                torrent={"IgnoreYoungerThan": "0"},
            ),
        ]
        home = short_home()
        home.root.mkdir(parents=True, exist_ok=True)
        text = manager_config(sims["4"].url, instances, {"LoopInterval": "0.5s"})
        text += (
            f"[qBittorrent-new]\nURL = {sims['5.1'].url}\nUsername = admin\n"
            f"Password = {TEST_PASSWORD}\nTimeout = 10s\n"
        )
        home.config.write_text(text)
        suite = suite_factory(home=home, arrs=[i.spec for i in instances])

        def imported() -> bool:
            return all(scans_by_hash(arrs[api]).get(h) == 1 for api, h in hashes.items())

        suite.wait_for(imported, "each download imported by its own instance", timeout=120)
        feeds = {r["client"]: r["version"] for r in suite.query("SELECT * FROM qbt_feed")}

        def asked(api: str) -> set[str]:
            found = sims[api].control("GET", "/sim/requests?since=0")["requests"]
            return {r["path"] for r in found if r["agent"].startswith("qbarr-reader")}

        suite.wait_for(lambda: "torrents/info" in asked("4"), "the 4.5 reader's state lists")
        requests = {api: asked(api) for api in sims}
        assert hashes["5.1"] not in scans_by_hash(arrs["4"])
    assert feeds["qBittorrent"].startswith("v4.") and feeds["qBittorrent-new"].startswith("v5.")
    assert "sync/maindata" in requests["5.1"] and "torrents/info" not in requests["5.1"]
