"""Overseerr / Ombi request lists -> the requests to search (pure filtering)."""

from __future__ import annotations

from qbarr.search.settings import RequestSettings
from qbarr.search.sources import ombi_items, overseerr_items


def ov(id, type="movie", status=2, media_status=3, is4k=False, tmdb=100, tvdb=None, status4k=1):
    return {
        "id": id,
        "type": type,
        "status": status,
        "is4k": is4k,
        "createdAt": "2024-05-01T00:00:00Z",
        "media": {"tmdbId": tmdb, "tvdbId": tvdb, "status": media_status, "status4k": status4k},
    }


def keys(items):
    return [(i.media, i.tmdb or i.tvdb, i.request_id) for i in items]


def test_overseerr_approved_unavailable_non_4k():
    results = [
        ov(1, tmdb=11),  # approved, processing -> yes
        ov(2, tmdb=12, status=1),  # pending -> only without ApprovedOnly
        ov(3, tmdb=13, status=3),  # declined -> never
        ov(4, tmdb=14, media_status=5),  # available -> never
        ov(5, tmdb=15, media_status=4),  # partially available -> yes
        ov(6, tmdb=16, is4k=True, status4k=3),  # 4K request -> only for Is4K
        ov(7, type="tv", tvdb=70, tmdb=700),  # a series by TVDB id
        ov(8, type="tv", tvdb=None, tmdb=800),  # no TVDB id: cannot be matched in Sonarr
        ov(9, tmdb=19, status=5),  # completed -> never
    ]
    s = RequestSettings(name="Overseerr", enabled=True)
    assert keys(overseerr_items(results, s)) == [
        ("movie", 11, 1),
        ("movie", 15, 5),
        ("series", 70, 7),
    ]
    loose = RequestSettings(name="Overseerr", enabled=True, approved_only=False)
    assert ("movie", 12, 2) in keys(overseerr_items(results, loose))
    four_k = RequestSettings(name="Overseerr", enabled=True, is_4k=True)
    assert keys(overseerr_items(results, four_k)) == [("movie", 16, 6)]
    assert overseerr_items(results, s)[0].requested_at == 1714521600.0


def test_ombi_flags_and_4k_split():
    movies = [
        {
            "id": 1,
            "theMovieDbId": 11,
            "approved": True,
            "available": False,
            "denied": False,
            "requestedDate": "2024-05-01T00:00:00Z",
        },
        {"id": 2, "theMovieDbId": 12, "approved": False, "available": False, "denied": False},
        {"id": 3, "theMovieDbId": 13, "approved": True, "available": True},
        {"id": 4, "theMovieDbId": 14, "approved": True, "denied": True},
        {
            "id": 5,
            "theMovieDbId": 15,
            "is4kRequest": True,
            "approved4K": True,
            "available4K": False,
        },
    ]
    tv = [
        {
            "id": 6,
            "tvDbId": 60,
            "childRequests": [
                {
                    "approved": True,
                    "available": False,
                    "denied": False,
                    "requestedDate": "2024-05-01T00:00:00Z",
                }
            ],
        },
        {"id": 7, "tvDbId": 70, "childRequests": [{"approved": True, "available": True}]},
        {
            "id": 8,
            "tvDbId": 80,
            "childRequests": [{"approved": False, "available": False, "denied": False}],
        },
    ]
    s = RequestSettings(name="Ombi", enabled=True)
    assert keys(ombi_items(movies, tv, s)) == [("movie", 11, 1), ("series", 60, 6)]
    loose = RequestSettings(name="Ombi", enabled=True, approved_only=False)
    assert keys(ombi_items(movies, tv, loose)) == [
        ("movie", 11, 1),
        ("movie", 12, 2),
        ("series", 60, 6),
        ("series", 80, 8),
    ]
    four_k = RequestSettings(name="Ombi", enabled=True, is_4k=True)
    assert keys(ombi_items(movies, tv, four_k)) == [("movie", 15, 5)]
