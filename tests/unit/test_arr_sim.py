"""Pure parts of the Arr simulators: library, resources, queue mapping, commands, faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from qbarr.sim.arr import downloads as dl
from qbarr.sim.arr import resources as res
from qbarr.sim.arr.commands import CommandError, SimCommands
from qbarr.sim.arr.faults import Faults, Pick
from qbarr.sim.arr.library import generate
from qbarr.sim.arr.requests_sim import (
    APPROVED,
    DECLINED,
    M_AVAILABLE,
    PENDING,
    RequestBook,
    overseerr_filter,
)
from tests.support.arr_contract import contract

UTC = UTC
NOW = datetime.now(UTC)
RECORD = {"radarr": "MovieResource", "sonarr": "EpisodeResource", "lidarr": "AlbumResource"}


@pytest.mark.parametrize("kind", ["radarr", "sonarr", "lidarr"])
def test_generation_is_deterministic_and_sized(kind: str) -> None:
    one = generate(kind, 500, 0.1, 0.05, seed=7)
    two = generate(kind, 500, 0.1, 0.05, seed=7)
    assert len(one.items) == 500
    assert [(i.title, i.has_file, i.quality_id) for i in one.items.values()] == [
        (i.title, i.has_file, i.quality_id) for i in two.items.values()
    ]
    other = generate(kind, 500, 0.1, 0.05, seed=8)
    assert [i.title for i in other.items.values()] != [i.title for i in one.items.values()]
    missing = len(one.wanted("missing", True)) + len(one.wanted("missing", False))
    assert missing == 50  # exactly the requested share, split by the monitored filter


def test_missing_follows_each_arr_definition() -> None:
    sonarr = generate("sonarr", 2000, 0.1, 0.05, seed=3)
    future = [i for i in sonarr.items.values() if i.released > NOW]
    assert future, "continuing series must have episodes that have not aired"
    assert all(not i.has_file for i in future)
    missing = sonarr.wanted("missing", True) + sonarr.wanted("missing", False)
    assert all(i.released <= NOW and not i.has_file for i in missing)
    assert any(i.season == 0 for i in sonarr.items.values()), "specials live in season 0"
    for item in sonarr.wanted("missing", True):
        assert item.monitored and sonarr.parents[item.parent_id].monitored
    radarr = generate("radarr", 2000, 0.1, 0.05, seed=3)
    unreleased = [i for i in radarr.items.values() if i.released > NOW]
    assert unreleased and all(i in radarr.wanted("missing", i.monitored) for i in unreleased)
    cutoff = radarr.wanted("cutoff", True)
    assert cutoff and all(i.has_file and not radarr.cutoff_met(i) for i in cutoff)


def test_paging_and_sorting_of_wanted_lists() -> None:
    lib = generate("radarr", 10_000, 0.1, 0.05, seed=1)
    total, first, key, direction = lib.page("missing", True, None, "default", 1, 100)
    assert (key, direction) == ("sortTitle", "ascending") and len(first) == 100
    seen = []
    for page in range(1, total // 100 + 2):
        seen += lib.page("missing", True, "movieMetadata.sortTitle", "ascending", page, 100)[1]
    assert len(seen) == total == len({i.id for i in seen})
    assert [i.sort_title for i in seen] == sorted(i.sort_title for i in seen)
    _, newest, key, _ = lib.page("missing", True, "digitalRelease", "descending", 1, 50)
    assert key == "digitalRelease" and newest == sorted(
        newest, key=lambda i: i.released, reverse=True
    )
    started = time.perf_counter()
    for page in range(1, 11):
        lib.page("missing", True, "movieMetadata.sortTitle", "ascending", page, 100)
    print(
        "\n10 cached pages of 100 over 10,000 movies: "
        f"{(time.perf_counter() - started) * 1000:.2f} ms"
    )
    before = total
    lib.give_file(first[0].id, 7)
    assert lib.page("missing", True, None, "", 1, 1)[0] == before - 1


@pytest.mark.parametrize("kind", ["radarr", "sonarr", "lidarr"])
def test_resources_validate_against_the_documents(kind: str) -> None:
    checker = contract(kind)
    lib = generate(kind, 150, 0.3, 0.2, seed=5)
    for item in lib.items.values():
        checker.check(
            checker.schema_ref(RECORD[kind]),
            res.media(lib, item, NOW, series=True, file=True, artist=True),
            kind,
        )
    checker.check(checker.schema_ref("SystemResource"), res.system_status(kind, "/x"), "status")
    checker.check(
        {"type": "array", "items": checker.schema_ref("QualityProfileResource")},
        res.quality_profiles(kind),
        "profiles",
    )
    torrent = {
        "hash": "ab" * 20,
        "name": "x",
        "size": 1000,
        "amount_left": 250,
        "progress": 0.75,
        "state": "stalledDL",
        "eta": 8640000,
        "added_on": 1_700_000_000,
        "content_path": "/dl/x",
        "save_path": "/dl",
    }
    some = next(iter(lib.items))
    download = dl.Download("ab" * 20, (some,), "x", res_quality(kind), NOW)
    rec = dl.record(lib, download, torrent, 1, some, NOW)
    checker.check(checker.schema_ref("QueueResource"), rec, "queue")
    assert rec["status"] == "warning" and rec["trackedDownloadState"] == "downloading"
    assert rec["errorMessage"] == "The download is stalled with no connections"
    assert rec["downloadId"] == "AB" * 20 and rec["timeleft"] is None
    for which in ("import", "download"):
        download.failure = dl.failure_fields(kind, which, "x", {})
        checker.check(
            checker.schema_ref("QueueResource"),
            dl.record(lib, download, torrent, 1, some, NOW),
            which,
        )


def res_quality(kind: str) -> int:
    return 6 if kind == "lidarr" else 7


@pytest.mark.parametrize(
    "state,status",
    [
        ("metaDL", "queued"),
        ("pausedDL", "paused"),
        ("stoppedDL", "paused"),
        ("downloading", "downloading"),
        ("stalledUP", "completed"),
        ("error", "warning"),
        ("missingFiles", "warning"),
        ("queuedDL", "queued"),
    ],
)
def test_qbittorrent_states_map_like_the_arrs(state: str, status: str) -> None:
    lib = generate("radarr", 10, 0.5, 0.0, seed=1)
    complete = status == "completed"
    torrent = {
        "state": state,
        "size": 100,
        "amount_left": 0 if complete else 50,
        "progress": 1.0 if complete else 0.5,
        "eta": 60,
    }
    download = dl.Download("cd" * 20, (1,), "t", 7, NOW)
    rec = dl.record(lib, download, torrent, 3, 1, NOW)
    assert rec["status"] == status
    assert rec["trackedDownloadState"] == ("importPending" if complete else "downloading")
    assert (rec["timeleft"] is None) == complete


def test_commands_validate_and_run_their_course() -> None:
    options = SimpleNamespace(search_duration=0.0, command_duration=0.0, command_history=300.0)
    commands = SimCommands("sonarr", options)
    with pytest.raises(CommandError, match="Unknown command"):
        commands.create({"name": "MoviesSearch", "movieIds": [1]})  # not a Sonarr command
    with pytest.raises(CommandError) as caught:
        commands.create({"name": "EpisodeSearch", "episodeIds": ["x"]})
    assert caught.value.errors[0]["propertyName"] == "episodeIds"
    with pytest.raises(CommandError, match="seriesId"):
        commands.create({"name": "SeriesSearch"})
    first = commands.create({"name": "episodesearch", "episodeIds": [1, 2]})
    second = commands.create({"name": "RssSync"})
    assert first.name == "EpisodeSearch" and first.status == "queued"
    assert commands.max_active_searches == 1 and commands.max_active == 2
    due = commands.due(time.monotonic() + 1)
    assert {c.id for c in due} == {first.id, second.id}
    assert all(c.status == "started" for c in due)
    commands.finish(first, outcome="done")
    commands.finish(second, failed="boom")
    assert (first.status, first.result) == ("completed", "successful")
    assert (second.status, second.result, second.exception) == ("failed", "unsuccessful", "boom")
    resource = commands.resource(first)
    contract("sonarr").check_response("GET", "http://h/api/v3/command/1", 200, resource)
    assert resource["body"]["episodeIds"] == [1, 2] and resource["commandName"] == "Episode Search"
    assert {c.id for c in commands.visible()} == {first.id, second.id}


def test_faults_count_down_and_filter_paths() -> None:
    faults = Faults(seed=1)
    faults.update({"error_rate": 1.0, "error_status": 502, "count": 2, "path": "/queue"})
    assert faults.pick("/api/v3/system/status") == Pick()
    assert faults.pick("/api/v3/queue")[1:3] == ("error", 502)
    assert faults.pick("/api/v3/queue").action == "error"
    assert faults.pick("/api/v3/queue").action is None  # count used up: all cleared
    with pytest.raises(ValueError):
        faults.update({"error_rate": 2})
    with pytest.raises(ValueError):
        faults.update({"nonsense": 1})
    faults.update({"unauthorized": True, "html": True})
    assert faults.pick("/api/v3/queue")[1] == "unauthorized"


def test_overseerr_filters_match_its_request_route() -> None:
    assert overseerr_filter("approved") == ({APPROVED}, {1, 2, 3, 4, 5})
    assert overseerr_filter("available") == ({APPROVED}, {M_AVAILABLE})
    assert overseerr_filter("unavailable") == ({PENDING, APPROVED}, {1, 2, 3, 4})
    assert overseerr_filter("processing") == ({APPROVED}, {1, 2, 3, 4})
    assert overseerr_filter(None)[0] == {PENDING, APPROVED, DECLINED, 4}
    movies = generate("radarr", 400, 0.2, 0.0, seed=2)
    series = generate("sonarr", 400, 0.2, 0.0, seed=2)
    book = RequestBook(movies, series, 30, seed=2)
    assert len(book.requests) == 30
    assert {r.media_type for r in book.requests} == {"movie", "tv"}
    status = book.media_status()
    for request in book.requests:
        if request.media_type == "movie":
            assert (status[request.id] == M_AVAILABLE) == movies.items[request.arr_id].has_file
        else:
            assert request.seasons and request.arr_id in series.parents


def test_span_and_iso_formats() -> None:
    assert res.span(0) == "00:00:00"
    assert res.span(90061.5) == "1.01:01:01.5000000"
    assert res.span(None) is None and res.span(-1) is None
    assert res.iso(datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2020-01-02T03:04:05Z"
    assert res.iso(NOW + timedelta(days=1)).endswith("Z")
