"""Overseerr and Ombi simulators: auth headers, filters, paging, ids tied to the Arr library."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from qbarr.sim.arr.launch import SimProcess, start_sim
from tests.contract.test_arr_support import KEY
from tests.support.waiting import wait_for

LIBRARY = {"library": 300, "missing_fraction": 0.2, "cutoff_fraction": 0.05, "seed": 4}


@pytest.fixture(scope="module")
def trio() -> Iterator[dict[str, SimProcess]]:
    started: dict[str, SimProcess] = {}
    try:
        started["radarr"] = start_sim("radarr", api_key=KEY, **LIBRARY)
        started["sonarr"] = start_sim("sonarr", api_key=KEY, **LIBRARY)
        links = [
            "--radarr-sim",
            started["radarr"].root,
            "--sonarr-sim",
            started["sonarr"].root,
            "--requests",
            "60",
        ]
        started["overseerr"] = start_sim("overseerr", api_key=KEY, extra=links, **LIBRARY)
        started["ombi"] = start_sim("ombi", api_key=KEY, extra=links, **LIBRARY)
        yield started
    finally:
        for sim in started.values():
            sim.stop()


def overseerr(sim: SimProcess, **params: object) -> dict:
    response = httpx.get(f"{sim.url}/api/v1/request", params=params, headers={"X-Api-Key": KEY})
    response.raise_for_status()
    return response.json()


def test_overseerr_needs_its_key_and_pages_like_overseerr(trio: dict[str, SimProcess]) -> None:
    sim = trio["overseerr"]
    assert httpx.get(f"{sim.url}/api/v1/request").status_code == 403
    assert httpx.get(f"{sim.url}/api/v1/request", headers={"X-Api-Key": "nope"}).status_code == 403
    everything = overseerr(sim, take=100)
    assert everything["pageInfo"] == {"pages": 1, "pageSize": 100, "results": 60, "page": 1}
    ids = [r["id"] for r in everything["results"]]
    assert ids == sorted(ids, reverse=True)  # sort=added: newest request first
    second = overseerr(sim, take=20, skip=20)
    assert second["pageInfo"]["page"] == 2 and [r["id"] for r in second["results"]] == ids[20:40]
    modified = overseerr(sim, take=100, sort="modified")["results"]
    stamps = [r["updatedAt"] for r in modified]
    assert stamps == sorted(stamps, reverse=True)
    for request in everything["results"]:
        assert request["status"] in (1, 2, 3) and request["type"] in ("movie", "tv")
        media = request["media"]
        assert media["mediaType"] == request["type"]
        status = media["status4k"] if request["is4k"] else media["status"]
        assert status in (2, 3, 4, 5)
        if request["type"] == "tv":
            assert media["tvdbId"] and request["seasons"]


def test_overseerr_filters(trio: dict[str, SimProcess]) -> None:
    sim = trio["overseerr"]
    approved = overseerr(sim, take=100, filter="approved")["results"]
    assert approved and all(r["status"] == 2 for r in approved)
    unavailable = overseerr(sim, take=100, filter="unavailable")["results"]
    for request in unavailable:
        media = request["media"]
        assert request["status"] in (1, 2)
        assert (media["status4k"] if request["is4k"] else media["status"]) != 5
    pending = overseerr(sim, take=100, filter="pending")["results"]
    assert all(r["status"] == 1 for r in pending)
    available = overseerr(sim, take=100, filter="available")["results"]
    assert all(r["status"] == 2 for r in available)


def test_requests_point_at_the_arr_library_and_follow_imports(trio: dict[str, SimProcess]) -> None:
    sim, radarr = trio["overseerr"], trio["radarr"]
    processing = [
        r
        for r in overseerr(sim, take=100, filter="processing")["results"]
        if r["type"] == "movie" and not r["is4k"]
    ]
    assert processing, "some approved movie requests must still be missing"
    request = processing[0]
    movie_id = request["media"]["externalServiceId"]
    found = httpx.get(
        f"{radarr.url}/api/v3/movie",
        params={"tmdbId": request["media"]["tmdbId"]},
        headers={"X-Api-Key": KEY},
    ).json()
    assert [m["id"] for m in found] == [movie_id] and found[0]["hasFile"] is False
    radarr.control("POST", "/sim/library/file", json={"ids": [movie_id]})
    wait_for(
        lambda: any(
            r["id"] == request["id"] and r["media"]["status"] == 5
            for r in overseerr(sim, take=100, filter="available")["results"]
        ),
        timeout=20,
        what="the request to become available",
    )


def test_ombi_lists_movie_and_tv_requests(trio: dict[str, SimProcess]) -> None:
    sim = trio["ombi"]
    assert httpx.get(f"{sim.url}/api/v1/Request/movie").status_code == 401
    headers = {"ApiKey": KEY}
    movies = httpx.get(f"{sim.url}/api/v1/Request/movie", headers=headers).json()
    tv = httpx.get(f"{sim.url}/api/v1/Request/tvlite", headers=headers).json()
    assert len(movies) + len(tv) == 60
    assert httpx.get(f"{sim.url}/api/v1/Request/movie/total", headers=headers).json() == len(movies)
    assert httpx.get(f"{sim.url}/api/v1/Request/tv/total", headers=headers).json() == len(tv)
    for movie in movies:
        assert movie["requestType"] == 1 and movie["theMovieDbId"] > 100000
        assert not (movie["approved"] and movie["denied"])
    for show in tv:
        assert show["tvDbId"] and show["childRequests"]
        for child in show["childRequests"]:
            assert child["seasonRequests"] and all(s["episodes"] for s in child["seasonRequests"])
    state = httpx.get(f"{sim.url}/sim/state").json()
    assert state["api_calls"]["GET /api/v1/Request/movie"] == 2
