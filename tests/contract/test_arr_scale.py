"""Scale: a 1,000-item queue and a 10,000-item library with ~1,000 wanted, paged by the client.

Behaviour is asserted (every item once, in order, totals right); the timings
are printed as figures (`pytest -s`), never asserted.
"""

from __future__ import annotations

import secrets
import time

import pytest

from qbarr.arr import make_client
from qbarr.qbittorrent import QbtClient
from qbarr.sim.arr.launch import start_sim
from tests.contract import test_arr_support
from tests.contract.test_arr_support import KEY, QbtServer
from tests.support.waiting import wait_for

# The module-scoped fixture of test_arr_support, bound here so that pytest finds it.
qbt_server = test_arr_support.qbt_server

pytestmark = pytest.mark.qbt


def test_thousand_item_queue_and_ten_thousand_item_library(qbt_server: QbtServer) -> None:
    with QbtClient(qbt_server.url, qbt_server.username, qbt_server.password) as qbt:
        qbt.create_category("radarr")
        magnets = [
            f"magnet:?xt=urn:btih:{secrets.token_hex(20)}&dn=Scale.Movie.{i}" for i in range(1000)
        ]
        for start in range(0, len(magnets), 200):
            qbt.add(urls=magnets[start : start + 200], category="radarr")
        wait_for(
            lambda: len(qbt.torrents_info(category="radarr")) >= 1000,
            timeout=60,
            what="1,000 torrents in qBittorrent",
        )
    sim = start_sim(
        "radarr",
        api_key=KEY,
        qbt_url=qbt_server.url,
        qbt_username=qbt_server.username,
        qbt_password=qbt_server.password,
        library=10_000,
        missing_fraction=0.1,
        poll_interval=0.5,
    )
    try:
        wait_for(
            lambda: sim.control("GET", "/sim/state")["queue_records"] >= 1000,
            timeout=60,
            what="1,000 queue records",
        )
        figures = []
        with make_client("radarr", sim.url, KEY) as client:
            for page_size in (200, 1000):
                client.queue_page_size = page_size
                client.stats.update(calls=0, bytes_in=0)
                started = time.perf_counter()
                items = client.queue()
                took = time.perf_counter() - started
                assert len(items) == 1000 == len({i.download_id for i in items})
                assert all(
                    i.media.get("movieId") and i.tracked_state == "downloading" for i in items
                )
                figures.append(
                    f"queue() 1,000 items, pageSize {page_size}: {took * 1000:.0f} ms, "
                    f"{client.stats['calls']} requests, {client.stats['bytes_in'] / 1024:.0f} KiB"
                )

            expected = sim.control("GET", "/sim/library", params={"wanted": "missing"})["total"]
            for page_size in (100, 250):
                client.stats.update(calls=0, bytes_in=0)
                started = time.perf_counter()
                seen = []
                for page in range(1, expected // page_size + 2):  # the pages, and no more
                    records, total = client.wanted_missing(
                        page=page,
                        page_size=page_size,
                        sort_key="movieMetadata.sortTitle",
                        sort_direction="ascending",
                    )
                    seen += records
                    if page * page_size >= total:
                        break
                took = time.perf_counter() - started
                assert total == expected == len(seen) == len({r["id"] for r in seen})
                assert [r["sortTitle"] for r in seen] == sorted(r["sortTitle"] for r in seen)
                figures.append(
                    f"wanted/missing of 10,000 movies, {total} wanted, pageSize {page_size}: "
                    f"{took * 1000:.0f} ms, {client.stats['calls']} requests, "
                    f"{client.stats['bytes_in'] / 1024:.0f} KiB"
                )
        print("\n" + "\n".join(figures))
    finally:
        assert sim.stop() == 0
