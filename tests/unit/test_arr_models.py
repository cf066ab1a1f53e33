"""Pure parts of the Arr clients: queue record parsing, kinds, URL cleaning."""

from __future__ import annotations

import pytest

from qbarr.arr import (
    QueueItem,
    flatten_messages,
    kind_of,
    make_client,
    parse_queue_record,
    public_url,
)


def test_parse_radarr_record_lowercases_hash_and_flattens_messages() -> None:
    record = {
        "id": 7,
        "movieId": 12,
        "title": "Some.Movie.2020.1080p",
        "status": "completed",
        "trackedDownloadStatus": "warning",
        "trackedDownloadState": "importBlocked",
        "statusMessages": [
            {
                "title": "Some.Movie.2020.1080p.mkv",
                "messages": ["Not an upgrade for existing movie file(s)"],
            },
            {"title": "Some.Movie.2020.1080p.mkv", "messages": None},
        ],
        "errorMessage": None,
        "downloadId": "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
        "protocol": "torrent",
        "downloadClient": "qBittorrent",
        "outputPath": "/dl/x",
        "size": 100.0,
        "sizeleft": 0,
    }
    item = parse_queue_record(kind_of("radarr"), record)
    assert item == QueueItem(
        id=7,
        download_id="abcdef0123456789abcdef0123456789abcdef01",
        title="Some.Movie.2020.1080p",
        status="completed",
        tracked_state="importBlocked",
        tracked_status="warning",
        status_messages=["Some.Movie.2020.1080p.mkv", "Not an upgrade for existing movie file(s)"],
        error_message=None,
        media={"movieId": 12},
        protocol="torrent",
        download_client="qBittorrent",
        output_path="/dl/x",
        size=100.0,
        sizeleft=0.0,
    )
    assert hash(item)  # usable in sets despite list/dict fields


def test_parse_sonarr_and_lidarr_media_ids_and_unknown_items() -> None:
    sonarr = parse_queue_record(
        kind_of("sonarr"), {"id": 1, "seriesId": 3, "episodeId": 44, "downloadId": None}
    )
    assert sonarr.media == {"seriesId": 3, "episodeId": 44}
    assert sonarr.download_id == "" and sonarr.tracked_state is None
    lidarr = parse_queue_record(kind_of("Lidarr"), {"id": 2, "artistId": 5, "albumId": None})
    assert lidarr.media == {"artistId": 5}
    assert lidarr.status == "unknown"


def test_flatten_messages_ignores_garbage() -> None:
    assert flatten_messages(None) == []
    assert flatten_messages([1, {"title": " ", "messages": ["a", "a", 3]}]) == ["a"]


def test_kind_and_url_handling() -> None:
    with pytest.raises(ValueError):
        kind_of("readarr")
    assert public_url("http://user:pw@h:7878/radarr/?apikey=x#y") == "http://h:7878/radarr"
    with make_client("lidarr", "http://127.0.0.1:8686/lidarr/", "K") as client:
        assert str(client._http.base_url) == "http://127.0.0.1:8686/lidarr/api/v1/"
        assert "K" not in repr(client)
    for bad in ("not a url", "localhost:7878", "ftp://h/radarr"):
        with pytest.raises(ValueError, match="not an http"):
            make_client("radarr", bad, "K")


@pytest.mark.parametrize("name", ["radarr", "sonarr", "lidarr"])
def test_the_kind_facts_match_the_published_openapi_document(name: str) -> None:
    """ArrKind is the one home of these facts, so it is checked against the Arr's own document."""
    import json
    from pathlib import Path

    kind = kind_of(name)
    specs = Path(__file__).resolve().parents[1] / "contract" / "specs"
    document = json.loads((specs / f"{name}-{kind.api_version}.json").read_text())
    schemas = document["components"]["schemas"]
    states = schemas["TrackedDownloadState"]["enum"]
    assert set(kind.failed_states) == {s for s in states if "failed" in s.lower()}
    queue_ids = {k for k in schemas["QueueResource"]["properties"] if k.endswith("Id")}
    assert set(kind.media_fields) == queue_ids - {"downloadId"}
    assert kind.search_media_field in kind.media_fields
    queue_query = document["paths"][f"{kind.api_prefix}/queue"]["get"]["parameters"]
    assert set(kind.queue_params) <= {p["name"] for p in queue_query}


def test_a_queue_records_media_say_which_kind_and_id_a_re_search_targets() -> None:
    from qbarr.arr.kinds import FAILED_STATES, search_target

    assert search_target({"movieId": 12}) == (kind_of("radarr"), 12)
    assert search_target({"seriesId": 3, "episodeId": 44}) == (kind_of("sonarr"), 44)
    assert search_target({"artistId": 5, "albumId": 9}) == (kind_of("lidarr"), 9)
    assert search_target({"seriesId": 3}) is None and search_target({"movieId": True}) is None
    assert {"failed", "failedPending", "importFailed", "downloadFailed"} <= FAILED_STATES
