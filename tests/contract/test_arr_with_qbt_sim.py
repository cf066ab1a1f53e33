"""The Arr simulators on the qBittorrent simulator (qbarr-sim-qbittorrent), end to end.

With a simulated swarm for added magnets, a release grabbed by a search gets
metadata, downloads and completes in the qBittorrent simulator; the Arr
queue follows it (downloading -> importPending), a scan imports it and a
failure removes and blocklists it. Every exchange is checked against the
OpenAPI documents, as in test_arr_contract.py (which runs on qbittorrent-nox).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from qbarr.arr import ArrClient, make_client
from qbarr.qbittorrent import QbtClient
from qbarr.sim.arr.launch import SimProcess, free_port, start_sim
from qbarr.sim.qbittorrent import spawn
from tests.contract.test_arr_support import KEY, QBT_PASS, QBT_USER, Exchanges
from tests.support.waiting import wait_for

SWARM = {
    "on_add": {
        "meta_after": [0.1, 0.3],
        "size": [4 * 2**20, 8 * 2**20],
        "speed": [8 * 2**20, 16 * 2**20],
        "stall_fraction": 0.0,
    }
}


@pytest.fixture(scope="module")
def qbt_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("qbt-sim")
    scenario = folder / "scenario.json"
    scenario.write_text(json.dumps(SWARM))
    port = free_port()
    process = spawn(
        port,
        "--username",
        QBT_USER,
        "--scenario",
        str(scenario),
        "--refresh-ms",
        "100",
        log_path=str(folder / "qbt-sim.log"),
        env={"QBARR_SIM_QBT_PASSWORD": QBT_PASS},
    )
    try:
        yield process.url
    finally:
        process.stop()


@pytest.fixture(scope="module", params=["radarr", "sonarr", "lidarr"])
def arr_sim(
    request: pytest.FixtureRequest, qbt_sim: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimProcess]:
    sim = start_sim(
        request.param,
        api_key=KEY,
        qbt_url=qbt_sim,
        qbt_username=QBT_USER,
        qbt_password=QBT_PASS,
        library=400,
        missing_fraction=0.2,
        search_duration=0.2,
        grab_probability=1.0,
        poll_interval=0.2,
        log_dir=tmp_path_factory.mktemp("arr-sim-logs"),
    )
    try:
        yield sim
    finally:
        assert sim.stop() == 0
        assert KEY not in sim.log() and QBT_PASS not in sim.log()


@pytest.fixture
def client(arr_sim: SimProcess) -> Iterator[ArrClient]:
    exchanges = Exchanges(arr_sim.kind)
    arr = exchanges.attach(make_client(arr_sim.kind, arr_sim.url, KEY, timeout=15))
    try:
        yield arr
    finally:
        arr.close()
    assert exchanges.validate() > 0


def command_done(client: ArrClient, command_id: int) -> dict | None:
    command = client.get_command(command_id)
    return command if command["status"] == "completed" else None


def test_grab_download_import_on_the_qbittorrent_simulator(
    client: ArrClient, arr_sim: SimProcess, qbt_sim: str
) -> None:
    kind = client.kind
    field = {"radarr": "movieId", "sonarr": "episodeId", "lidarr": "albumId"}[kind]
    records, missing = client.wanted_missing(page=2, page_size=2)
    search = client.search_media([r["id"] for r in records])
    wait_for(lambda: command_done(client, search["id"]), what="the search")
    hashes = set(
        next(
            c["grabs"]
            for c in arr_sim.control("GET", "/sim/commands")["commands"]
            if c["id"] == search["id"]
        )
    )
    assert len(hashes) == 2

    def both_complete() -> list | None:
        ready = [
            i
            for i in client.queue()
            if i.download_id in hashes and i.tracked_state == "importPending"
        ]
        return ready if len(ready) == 2 else None

    items = wait_for(both_complete, timeout=60, what="both downloads complete in the Arr queue")
    assert sorted(i.media[field] for i in items) == sorted(r["id"] for r in records)
    assert all(i.status == "completed" and i.sizeleft == 0 and i.size for i in items)

    done, failed = items
    scan = client.scan(done.output_path or "/downloads", done.download_id)
    result = wait_for(lambda: command_done(client, scan["id"]), what="the import")
    assert result["message"].startswith("Imported")
    assert done.download_id not in {i.download_id for i in client.queue()}
    assert client.wanted_missing(page_size=1)[1] == missing - 1

    client.delete_queue(failed.id, remove_from_client=True, blocklist=True, skip_redownload=True)
    with QbtClient(qbt_sim, QBT_USER, QBT_PASS) as qbt:
        wait_for(
            lambda: failed.download_id not in {t["hash"] for t in qbt.torrents_info(category=kind)},
            what="the failed torrent to leave qBittorrent",
        )
        kept = [t for t in qbt.torrents_info(category=kind) if t["hash"] == done.download_id]
        assert kept and kept[0]["progress"] == 1, "an imported torrent keeps seeding"
    blocked = arr_sim.control("GET", "/sim/blocklist")
    assert [b["media_ids"] for b in blocked if b["hash"] == failed.download_id] == [
        [failed.media[field]]
    ]
