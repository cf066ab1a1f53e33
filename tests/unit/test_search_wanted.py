"""Arr records -> WantedItem, the paged crawl, upgrade candidates."""

from __future__ import annotations

from qbarr.search.wanted import (
    album_item,
    crawl,
    episode_item,
    items_from,
    movie_item,
    parse_time,
    upgrade_items,
)

T = parse_time("2024-05-01T00:00:00Z")


def test_parse_time():
    assert T == 1714521600.0
    # the Arrs (.NET) send seven fractional digits; Python 3.11+ reads them (to microseconds)
    assert parse_time("2024-05-01T00:00:00.1234567Z") == T + 0.123456
    assert parse_time(None) is None and parse_time("") is None and parse_time("soon") is None


def test_movie_release_is_the_first_home_release_else_the_cinema_date():
    m = movie_item(
        {
            "id": 5,
            "title": "Film",
            "year": 2024,
            "tmdbId": 77,
            "monitored": False,
            "isAvailable": False,
            "inCinemas": "2024-01-01T00:00:00Z",
            "digitalRelease": "2024-06-01T00:00:00Z",
            "physicalRelease": "2024-05-01T00:00:00Z",
        },
        "missing",
    )
    assert (m.key, m.title, m.released, m.monitored, m.available, dict(m.ext_ids)) == (
        "movie:5",
        "Film (2024)",
        T,
        False,
        False,
        {"tmdb": 77},
    )
    cinema = movie_item({"id": 6, "inCinemas": "2024-05-01T00:00:00Z"}, "cutoff")
    assert cinema.released == T and cinema.available and cinema.tier == "cutoff"
    assert movie_item({"title": "no id"}, "missing") is None


def test_episode_and_album():
    e = episode_item(
        {
            "id": 9,
            "seriesId": 3,
            "seasonNumber": 0,
            "episodeNumber": 2,
            "title": "Pilot",
            "airDateUtc": "2024-05-01T00:00:00Z",
            "monitored": True,
            "series": {"title": "Show", "tvdbId": 123, "monitored": False},
        },
        "missing",
    )
    assert (e.key, e.series_id, e.season, e.title, e.released, e.monitored, dict(e.ext_ids)) == (
        "episode:9",
        3,
        0,
        "Show S00E02 Pilot",
        T,
        False,
        {"tvdb": 123},
    )
    assert e.cooldown_keys == ("episode:9", "series:3")
    a = album_item(
        {
            "id": 4,
            "artistId": 2,
            "title": "LP",
            "releaseDate": "2024-05-01T00:00:00Z",
            "artist": {"artistName": "Band"},
        },
        "missing",
    )
    assert (a.key, a.title, a.released, a.cooldown_keys) == (
        "album:4",
        "Band - LP",
        T,
        ("album:4",),
    )
    assert [i.id for i in items_from("lidarr", [{"id": 1}, "junk", {"no": "id"}], "missing")] == [1]


class Pages:
    """A wanted endpoint of 7 records served 3 per page."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, bool]] = []

    def wanted_missing(self, page, page_size, monitored):
        self.calls.append((page, page_size, monitored))
        records = [{"id": i} for i in range(1, 8)][(page - 1) * page_size : page * page_size]
        return records, 7

    wanted_cutoff = wanted_missing


def test_crawl_pages_until_total_and_caps():
    client = Pages()
    assert [i.id for i in crawl(client, "radarr", "missing", True, page_size=3)] == list(
        range(1, 8)
    )
    assert client.calls == [(1, 3, True), (2, 3, True), (3, 3, True)]
    client = Pages()
    pages = []
    got = crawl(
        client, "radarr", "cutoff", False, max_items=4, page_size=3, on_page=lambda: pages.append(1)
    )
    assert [i.id for i in got] == [1, 2, 3, 4] and all(i.tier == "cutoff" for i in got)
    assert len(client.calls) == 2 and len(pages) == 2


def test_upgrade_candidates():
    movies = upgrade_items("radarr", [{"id": 1, "hasFile": True}, {"id": 2, "hasFile": False}])
    assert [(m.key, m.tier) for m in movies] == [("movie:1", "upgrade")]
    series = upgrade_items(
        "sonarr",
        [
            {"id": 3, "title": "S", "tvdbId": 9, "statistics": {"episodeFileCount": 4}},
            {"id": 4, "statistics": {"episodeFileCount": 0}},
        ],
    )
    assert [(s.key, dict(s.ext_ids)) for s in series] == [("series:3", {"tvdb": 9})]
    albums = upgrade_items("lidarr", [{"id": 5, "statistics": {"trackFileCount": 3}}, {"id": 6}])
    assert [a.key for a in albums] == ["album:5"]
