"""The Arr manager under supervisord against a real qbittorrent-nox 4.5.2 with real torrents.

Torrents are built from local data (tests/support/torrents.py) and added to a loopback-only
qbittorrent-nox started with the project's launcher (qbarr.qbittorrent.nox); a Radarr
simulator per instance reads the same qBittorrent. What is checked is what qBittorrent and
the Arr end up with:

- a complete torrent (its data in the save path, hash-checked by qBittorrent) -> one
  DownloadedMoviesScan with its content path and downloadClientId;
- a torrent nobody seeds (stalledDL) -> failed after StalledDelay: blocklisted, gone from
  qBittorrent, searched again;
- a multi-file torrent with a ``Sample/`` folder -> the sample file ends at priority 0 (its
  other file is present, so the torrent then completes and is imported too).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr.qbittorrent import QbtClient
from tests.conftest import free_port, needs_tool
from tests.support.qbt_targets import PASSWORD, USER, RealTarget
from tests.support.torrents import make_torrent, write_random
from tests.support.waiting import wait_for
from tests.system.manager_helpers import (
    Inst,
    actions,
    blocklist_by_hash,
    commands,
    decisions,
    scans_by_hash,
    start_arr_sim,
    start_manager_suite,
    wait_cycles,
)

pytestmark = [pytest.mark.system, needs_tool("qbittorrent-nox", "apt-get install qbittorrent-nox")]

PIECE = 64 * 1024


@pytest.fixture
def qbt(tmp_path: Path) -> Iterator[RealTarget]:
    target = RealTarget(tmp_path / "qbt", free_port())
    try:
        yield target
    finally:
        target.stop()


def info(client: QbtClient, h: str) -> dict | None:
    found = client.torrents_info(hashes=[h])
    return found[0] if found else None


def test_real_qbittorrent_import_stalled_fail_and_excluded_sample(
    qbt: RealTarget, suite_factory, tmp_path: Path
) -> None:
    save = Path(qbt.info["save_path"])
    elsewhere = tmp_path / "elsewhere"
    # complete: the data is in the save path, qBittorrent's hash check finds it all
    movie = save / "Complete.Movie.2020.1080p"
    write_random(movie / "Complete.Movie.2020.1080p.mkv", 300 * 1024, seed=1)
    write_random(movie / "Complete.Movie.2020.1080p.en.srt", 2 * 1024, seed=5)
    complete = make_torrent(movie, PIECE)
    # stalled: the data exists only outside qBittorrent's reach, and nobody seeds it
    lonely = elsewhere / "Stalled.Movie.2020.1080p"
    write_random(lonely / "Stalled.Movie.2020.1080p.mkv", 200 * 1024, seed=2)
    write_random(lonely / "Stalled.Movie.2020.1080p.en.srt", 1024, seed=6)
    stalled = make_torrent(lonely, PIECE)
    # sample: the movie is present, the sample (in its own folder, piece-aligned) is not
    folder = tmp_path / "build" / "Sampled.Movie.2020.1080p"
    write_random(folder / "Sample" / "sampled-sample.mkv", 2 * PIECE, seed=3)
    write_random(folder / "Sampled.Movie.2020.1080p.mkv", 8 * PIECE, seed=4)
    sampled = make_torrent(folder, PIECE)
    assert sampled.files == (
        "Sampled.Movie.2020.1080p/Sample/sampled-sample.mkv",
        "Sampled.Movie.2020.1080p/Sampled.Movie.2020.1080p.mkv",
    )
    (save / sampled.name).mkdir()
    shutil.copy(
        folder / "Sampled.Movie.2020.1080p.mkv",
        save / sampled.name / "Sampled.Movie.2020.1080p.mkv",
    )

    with qbt.client() as client:
        client.login()
        client.create_category("radarr")
        client.create_category("files")
        client.add(
            torrent_files=[complete.data, stalled.data], category="radarr", save_path=str(save)
        )
        client.add(torrent_files=[sampled.data], category="files", save_path=str(save))

        def settled() -> bool:
            states = {
                h: (info(client, h) or {}).get("state")
                for h in (complete.hash, stalled.hash, sampled.hash)
            }
            return states == {
                complete.hash: "stalledUP",
                stalled.hash: "stalledDL",
                sampled.hash: "stalledDL",
            }

        wait_for(settled, 60, 0.2, "qBittorrent's checks: stalledUP, stalledDL, stalledDL")
        workdir = tmp_path / "sims"
        arr = start_arr_sim(
            qbt.url, "radarr", workdir, qbt_user=USER, qbt_password=PASSWORD, grab_probability=0.0
        )
        files_arr = start_arr_sim(
            qbt.url, "files", workdir, qbt_user=USER, qbt_password=PASSWORD, grab_probability=0.0
        )
        try:
            for sim in (arr, files_arr):
                sim.control("POST", "/sim/poll")
            instances = [
                Inst(
                    "Radarr-Real",
                    "radarr",
                    arr.url,
                    torrent={"IgnoreYoungerThan": "0", "StalledDelay": "3s"},
                ),
                Inst(
                    "Radarr-Files",
                    "files",
                    files_arr.url,
                    torrent={"IgnoreYoungerThan": "0", "StalledDelay": "10m"},
                ),
            ]
            suite = start_manager_suite(
                suite_factory,
                qbt.url,
                instances,
                {"LoopInterval": "0.5s", "QueueRefresh": "1s"},
                qbt_user=USER,
                qbt_password=PASSWORD,
            )

            # complete -> the scan in the Arr simulator, once, with qBittorrent's content path
            suite.wait_for(
                lambda: scans_by_hash(arr)[complete.hash] == 1, "the scan of the complete torrent"
            )
            scan = next(
                c
                for c in commands(arr, "DownloadedMoviesScan")
                if c["body"]["downloadClientId"].lower() == complete.hash
            )
            assert scan["body"]["path"] == str(save / complete.name)

            # stalled -> blocklisted, deleted in qBittorrent, searched again
            suite.wait_for(
                lambda: info(client, stalled.hash) is None,
                "the stalled torrent gone from qBittorrent",
            )
            assert blocklist_by_hash(arr)[stalled.hash] == 1
            suite.wait_for(
                lambda: (
                    [
                        a["status"]
                        for a in actions(suite, "Radarr-Real", "hash = ?", (stalled.hash,))
                    ]
                    == ["done", "done", "done"]
                ),
                "blocklist, delete and search done",
            )
            steps = actions(suite, "Radarr-Real", "hash = ?", (stalled.hash,))
            assert [a["kind"] for a in steps] == ["blocklist", "delete", "search"]
            # (the stall clock starts at the add: the setup above may already have used
            # StalledDelay up)
            fail = decisions(suite, "Radarr-Real", stalled.hash)[-1]
            assert fail["rule"] == "stalled" and fail["code"] == "fail"
            assert (
                json.loads(fail["inputs"])["stalled_for"] >= 3
                and json.loads(fail["inputs"])["state"] == "stalledDL"
            )
            assert commands(arr, "MoviesSearch"), "searched again"

            # sample -> priority 0 in qBittorrent; the rest is there, so it completes and is
            # imported
            def sample_priority() -> int | None:
                prios = {f["name"]: f["priority"] for f in client.files(sampled.hash)}
                return prios.get("Sampled.Movie.2020.1080p/Sample/sampled-sample.mkv")

            suite.wait_for(lambda: sample_priority() == 0, "the sample file at priority 0")
            prios = {f["name"]: f["priority"] for f in client.files(sampled.hash)}
            assert prios["Sampled.Movie.2020.1080p/Sampled.Movie.2020.1080p.mkv"] == 1
            unwanted = [
                d
                for d in decisions(suite, "Radarr-Files", sampled.hash)
                if d["rule"] == "unwanted-files"
            ]
            assert len(unwanted) == 1 and "1 of 2 files excluded" in unwanted[0]["reason"]
            suite.wait_for(
                lambda: scans_by_hash(files_arr)[sampled.hash] == 1, "the sampled torrent imported"
            )
            wait_cycles(suite, "Radarr-Real", 3)
            assert (
                scans_by_hash(arr)[complete.hash] == 1
                and scans_by_hash(files_arr)[sampled.hash] == 1
            )
            assert info(client, complete.hash)["state"] == "stalledUP", (
                "imported torrents keep seeding"
            )
            assert (save / complete.name).exists() and (save / sampled.name).exists()
            assert [
                a["kind"] for a in actions(suite, "Radarr-Files", "hash = ?", (sampled.hash,))
            ] == ["file_prio", "import"]
        finally:
            arr.stop()
            files_arr.stop()
