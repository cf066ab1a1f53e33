"""The Arr clients against the Arr simulators, with a real qbittorrent-nox behind them.

Every request the clients send and every answer they get is checked against
the published OpenAPI documents (tests/contract/specs), and the simulators behave
like the Arrs: a search grabs a release into qBittorrent, a scan imports a
finished download, a delete with blocklist removes the torrent and records
the blocklist entry, a scripted import failure shows the structured fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr.arr import ArrClient, QueueItem, make_client
from qbarr.qbittorrent import QbtClient
from qbarr.sim.arr.launch import SimProcess, start_sim
from tests.contract import test_arr_support
from tests.contract.test_arr_support import KEY, Exchanges, QbtServer
from tests.support.torrents import make_torrent, write_random
from tests.support.waiting import wait_for

# The module-scoped fixture of test_arr_support, bound here so that pytest finds it.
qbt_server = test_arr_support.qbt_server

KINDS = ("radarr", "sonarr", "lidarr")
pytestmark = pytest.mark.qbt


@pytest.fixture(scope="module")
def sims(
    qbt_server: QbtServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SimProcess]]:
    logs = tmp_path_factory.mktemp("sim-logs")
    started: dict[str, SimProcess] = {}
    try:
        for kind in KINDS:
            started[kind] = start_sim(
                kind,
                api_key=KEY,
                qbt_url=qbt_server.url,
                qbt_username=qbt_server.username,
                qbt_password=qbt_server.password,
                library=300,
                missing_fraction=0.2,
                search_duration=0.3,
                grab_probability=1.0,
                poll_interval=0.2,
                log_dir=logs,
            )
        yield started
    finally:
        for sim in started.values():
            sim.stop()
        for sim in started.values():
            assert KEY not in sim.log(), f"{sim.kind} simulator logged the API key"


@pytest.fixture
def qbt(qbt_server: QbtServer) -> Iterator[QbtClient]:
    with QbtClient(qbt_server.url, qbt_server.username, qbt_server.password) as client:
        yield client


@pytest.fixture(params=KINDS)
def arr(
    request: pytest.FixtureRequest, sims: dict[str, SimProcess]
) -> Iterator[tuple[ArrClient, SimProcess, Exchanges]]:
    kind = request.param
    exchanges = Exchanges(kind)
    client = exchanges.attach(make_client(kind, sims[kind].url, KEY, timeout=15))
    try:
        yield client, sims[kind], exchanges
    finally:
        client.close()
    assert exchanges.validate() > 0


def queue_for(client: ArrClient, torrent_hash: str) -> list[QueueItem]:
    return [item for item in client.queue() if item.download_id == torrent_hash]


def finished(client: ArrClient, command_id: int) -> dict | None:
    command = client.get_command(command_id)
    return command if command["status"] in ("completed", "failed") else None


def test_every_client_call_matches_the_published_document(arr, qbt: QbtClient) -> None:
    client, sim, exchanges = arr
    kind = client.kind
    assert client.system_status()["appName"].lower() == kind
    assert client.quality_profiles() and client.tags()
    [listed] = client.download_clients()  # the qBittorrent the simulator reads, as documented
    assert listed["implementation"] == "QBittorrent" and listed["protocol"] == "torrent"
    fields = {f["name"]: f["value"] for f in listed["fields"]}
    assert fields["port"] == int(qbt.url.rsplit(":", 1)[1])

    records, total = client.wanted_missing(page=1, page_size=7)
    expected = sim.control("GET", "/sim/library", params={"wanted": "missing"})["total"]
    assert total == expected and len(records) == 7
    sort_key = {
        "radarr": "movieMetadata.sortTitle",
        "sonarr": "episodes.airDateUtc",
        "lidarr": "albums.releaseDate",
    }[kind]
    page2, _ = client.wanted_missing(
        page=2, page_size=7, sort_key=sort_key, sort_direction="ascending"
    )
    assert len(page2) == 7
    cutoff, cutoff_total = client.wanted_cutoff(page_size=5, monitored=False)
    assert (
        cutoff_total
        == sim.control("GET", "/sim/library", params={"wanted": "cutoff", "monitored": "false"})[
            "total"
        ]
    )

    rss = client.rss_sync()
    assert rss["name"] == "RssSync" and rss["status"] == "queued"
    refresh = client.refresh_monitored_downloads()
    assert {c["id"] for c in client.commands()} >= {rss["id"], refresh["id"]}
    wait_for(lambda: finished(client, rss["id"]), what="RssSync to complete")

    # a search grabs releases into qBittorrent; the queue carries the media ids
    ids = [r["id"] for r in records[:2]]
    search = client.search_media(ids)
    wait_for(
        lambda: finished(client, search["id"]),
        what="the search to complete",
    )
    grabbed = sim.control("GET", "/sim/commands")["commands"]
    hashes = next(c["grabs"] for c in grabbed if c["id"] == search["id"])
    assert len(hashes) == 2
    in_client = wait_for(
        lambda: {t["hash"] for t in qbt.torrents_info(category=kind)} >= set(hashes) and True,
        what="grabs in qBittorrent",
    )
    assert in_client
    sim.control("POST", "/sim/poll")
    items = [i for i in client.queue() if i.download_id in hashes]
    field = {"radarr": "movieId", "sonarr": "episodeId", "lidarr": "albumId"}[kind]
    assert sorted(i.media[field] for i in items) == sorted(ids)
    assert all(i.tracked_state == "downloading" and i.protocol == "torrent" for i in items)

    # a scan of an unfinished download imports nothing
    scan = client.scan(items[0].output_path or "/downloads", items[0].download_id)
    done = wait_for(lambda: finished(client, scan["id"]), what="the scan")
    assert "not finished" in done["message"]
    assert queue_for(client, items[0].download_id)

    # delete with blocklist: out of the queue and out of qBittorrent, blocklisted
    victim = items[0]
    client.delete_queue(victim.id, remove_from_client=True, blocklist=True, skip_redownload=True)
    assert not queue_for(client, victim.download_id)
    wait_for(
        lambda: victim.download_id not in {t["hash"] for t in qbt.torrents_info(category=kind)},
        what="the torrent to leave qBittorrent",
    )
    blocked = sim.control("GET", "/sim/blocklist")
    assert any(b["hash"] == victim.download_id for b in blocked)
    listing = client._http.get("blocklist", params={"page": 1, "pageSize": 50})
    assert listing.json()["totalRecords"] >= 1

    # re-search for failed items: the right command with the right ids
    again = client.search_for([items[1]])
    assert (
        again is not None
        and again["name"]
        == {"radarr": "MoviesSearch", "sonarr": "EpisodeSearch", "lidarr": "AlbumSearch"}[kind]
    )
    assert again["body"][
        {"radarr": "movieIds", "sonarr": "episodeIds", "lidarr": "albumIds"}[kind]
    ] == [items[1].media[field]]
    assert (
        client.search_for(
            [
                QueueItem(
                    id=1,
                    download_id="",
                    title="",
                    status="",
                    tracked_state=None,
                    tracked_status=None,
                )
            ]
        )
        is None
    )

    assert exchanges.operations() >= {
        f"GET /api/{'v1' if kind == 'lidarr' else 'v3'}/{path}"
        for path in (
            "system/status",
            "downloadclient",
            "queue",
            "wanted/missing",
            "wanted/cutoff",
            "qualityprofile",
            "tag",
            "command",
            "command/{id}",
            "blocklist",
        )
    }
    assert any(op.startswith("DELETE") and "queue/{id}" in op for op in exchanges.operations())
    assert any(op.startswith("POST") and op.endswith("/command") for op in exchanges.operations())


def test_a_scan_imports_a_finished_download(arr, qbt: QbtClient, tmp_path: Path) -> None:
    client, sim, exchanges = arr
    kind = client.kind
    payload = write_random(
        tmp_path / "data" / f"{kind}-release.mkv", 256 * 1024, seed=KINDS.index(kind) + 11
    )
    torrent = make_torrent(payload)
    missing_before = client.wanted_missing(page_size=1)[1]
    qbt.add(torrent_files=[torrent.data], category=kind, save_path=str(payload.parent))
    wait_for(
        lambda: any(
            t["hash"] == torrent.hash and t["progress"] >= 1
            for t in qbt.torrents_info(category=kind)
        ),
        what="qBittorrent to finish checking the data",
    )
    sim.control("POST", "/sim/poll")
    item = wait_for(lambda: queue_for(client, torrent.hash), what="the queue item")[0]
    assert item.tracked_state == "importPending" and item.status == "completed"
    media_id = item.media[{"radarr": "movieId", "sonarr": "episodeId", "lidarr": "albumId"}[kind]]

    scan = client.scan(item.output_path or str(payload), item.download_id.upper())
    done = wait_for(lambda: finished(client, scan["id"]), what="the import")
    assert done["status"] == "completed" and done["message"].startswith("Imported"), done
    assert not queue_for(client, torrent.hash)
    library = sim.control("GET", "/sim/library", params={"ids": str(media_id)})
    assert library[str(media_id)]["has_file"] is True
    assert client.wanted_missing(page_size=1)[1] == missing_before - 1
    seeding = [t for t in qbt.torrents_info(category=kind) if t["hash"] == torrent.hash]
    assert seeding and seeding[0]["progress"] == 1  # the torrent stays in qBittorrent
    lookup = {
        "radarr": f"movie/{media_id}",
        "sonarr": f"episode/{media_id}",
        "lidarr": f"album/{media_id}",
    }[kind]
    data = client._http.get(lookup).json()
    assert data.get("hasFile", data.get("statistics", {}).get("trackFileCount")) not in (
        False,
        0,
        None,
    )


def test_scripted_failures_show_structured_queue_fields(arr) -> None:
    client, sim, exchanges = arr
    kind = client.kind
    ids = [r["id"] for r in client.wanted_missing(page=3, page_size=2)[0]]
    grabbed = sim.control("POST", "/sim/grab", json={"ids": ids[:1]})
    sim.control("POST", "/sim/poll")
    wait_for(
        lambda: queue_for(client, grabbed["hash"]),
        what="the grabbed item",
    )

    sim.control("POST", "/sim/queue/fail", json={"hash": grabbed["hash"], "kind": "import"})
    blocked = queue_for(client, grabbed["hash"])[0]
    assert (blocked.tracked_state, blocked.tracked_status) == ("importBlocked", "warning")
    assert blocked.status_messages and blocked.status_messages[0] == blocked.title

    sim.control(
        "POST",
        "/sim/queue/fail",
        json={
            "hash": grabbed["hash"],
            "kind": "download",
            "error": "tracker says: torrent not registered",
        },
    )
    failed = queue_for(client, grabbed["hash"])[0]
    assert failed.tracked_state == (
        "downloadFailedPending" if kind == "lidarr" else "failedPending"
    )
    assert failed.tracked_status == "error" and failed.status == "failed"
    assert failed.error_message == "tracker says: torrent not registered"

    # a blocked import is not imported by a scan
    sim.control(
        "POST",
        "/sim/queue/fail",
        json={
            "hash": grabbed["hash"],
            "kind": "import",
            "messages": [{"title": "x", "messages": ["custom"]}],
        },
    )
    assert queue_for(client, grabbed["hash"])[0].status_messages == ["x", "custom"]
    scan = client.scan("/nowhere", grabbed["hash"])
    done = wait_for(lambda: finished(client, scan["id"]), what="the scan")
    assert done["message"].startswith("Import blocked"), done
    assert queue_for(client, grabbed["hash"])


def test_sonarr_series_search_grabs_a_season_pack(
    sims: dict[str, SimProcess], qbt: QbtClient
) -> None:
    sim = sims["sonarr"]
    exchanges = Exchanges("sonarr")
    with exchanges.attach(make_client("sonarr", sim.url, KEY)) as client:
        records, _ = client.wanted_missing(
            page_size=200, sort_key="episodes.airDateUtc", sort_direction="descending"
        )
        by_series: dict[int, list[dict]] = {}
        for record in records:
            if record["seasonNumber"] > 0:
                by_series.setdefault(record["seriesId"], []).append(record)
        series_id, episodes = max(by_series.items(), key=lambda kv: len(kv[1]))
        command = client.search_media([], series_id=series_id, mode="series")
        assert command["name"] == "SeriesSearch" and command["body"]["seriesId"] == series_id
        wait_for(
            lambda: finished(client, command["id"]),
            what="the series search",
        )
        hashes = next(
            c["grabs"]
            for c in sim.control("GET", "/sim/commands")["commands"]
            if c["id"] == command["id"]
        )
        seasons = {e["seasonNumber"] for e in episodes}
        assert 1 <= len(hashes) <= len(seasons) + 1
        sim.control("POST", "/sim/poll")
        items = wait_for(
            lambda: [i for i in client.queue() if i.download_id in hashes],
            what="season pack queue records",
        )
        assert all(i.media["seriesId"] == series_id for i in items)
        assert len(items) >= len(hashes)  # one record per episode of the pack
        with pytest.raises(ValueError):
            client.search_media([], mode="series")
    exchanges.validate()


def test_simulator_exits_zero_on_sigterm() -> None:
    sim = start_sim("lidarr", api_key=KEY, library=20)
    assert sim.stop() == 0


def test_media_lookups_match_the_documents(arr) -> None:
    client, sim, exchanges = arr
    from qbarr.arr import ArrNotFound

    record = client.wanted_missing(page_size=1)[0][0]
    if client.kind == "radarr":
        one = client.get(f"movie/{record['id']}")
        assert client.get("movie", {"tmdbId": one["tmdbId"]})[0]["id"] == record["id"]
    elif client.kind == "sonarr":
        series = client.get(f"series/{record['seriesId']}")
        assert series["statistics"]["episodeCount"] >= 1
        assert client.get("series", {"tvdbId": series["tvdbId"]})[0]["id"] == series["id"]
        episodes = client.get("episode", {"seriesId": series["id"]})
        assert record["id"] in {e["id"] for e in episodes}
        assert client.get(f"episode/{record['id']}")["seriesId"] == series["id"]
    else:
        artist = client.get(f"artist/{record['artistId']}")
        albums = client.get("album", {"artistId": artist["id"]})
        assert record["id"] in {a["id"] for a in albums}
        assert client.get(f"album/{record['id']}")["artistId"] == artist["id"]
        assert len(client.get("artist")) >= 1
    path = {"radarr": "movie", "sonarr": "episode", "lidarr": "album"}[client.kind]
    with pytest.raises(ArrNotFound):
        client.get(f"{path}/99999999")
