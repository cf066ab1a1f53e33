"""VerifyMedia end to end: real supervisord and qbarr-arr, the qBittorrent and Radarr simulators,
real files made with ffmpeg and probed by the system's ffprobe.

A complete torrent whose file is readable is imported once its check is done; one whose file is
cut short, and one whose ``.mkv`` is really an MP4, are failed by rule ``bad-media``
(blocklisted, deleted, searched again) with ffprobe's own words in the journal, and never
imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.media import make_media
from tests.system.manager_helpers import (
    Inst,
    actions,
    blocklist_by_hash,
    decisions,
    scans_by_hash,
    spec,
    start_manager_suite,
    torrent_fields,
    world,
)

pytestmark = pytest.mark.system

FAST = {"LoopInterval": "1s", "QueueRefresh": "1s"}


def H(tag: str) -> str:
    return tag.ljust(40, "0")


def media_torrent(h: str, folder: Path, source: Path) -> dict:
    """A complete torrent (stalledUP) whose one file is a copy of ``source`` in ``folder``."""
    name = f"Movie.{h[:6]}.2020"
    (folder / name).mkdir(parents=True)
    target = folder / name / f"{name}.mkv"
    target.write_bytes(source.read_bytes())
    size = target.stat().st_size
    files = [{"name": f"{name}/{name}.mkv", "size": size}]
    return spec(h, "radarr", "stalledUP", name=name, save_path=str(folder), files=files)


def test_bad_media_is_failed_with_ffprobe_s_words_and_good_media_imported(
    suite_factory, tmp_path: Path
) -> None:
    made = make_media(tmp_path / "made")
    downloads = tmp_path / "downloads"
    good, cut, wrong = H("aa01"), H("bb02"), H("cc03")
    with world(tmp_path, ["radarr"]) as (qbt, arrs):
        arr = arrs["radarr"]
        qbt.control(
            "POST",
            "/sim/torrents",
            [
                media_torrent(good, downloads, made["good"]),
                media_torrent(cut, downloads, made["truncated"]),
                media_torrent(wrong, downloads, made["wrong"]),
            ],
        )
        arr.control("POST", "/sim/poll")
        inst = Inst(
            "Radarr-Main",
            "radarr",
            arr.url,
            torrent={"IgnoreYoungerThan": "0", "VerifyMedia": "true", "ProbeConcurrency": "1"},
        )
        suite = start_manager_suite(suite_factory, qbt.url, [inst], FAST)
        suite.wait_for(lambda: scans_by_hash(arr)[good] >= 1, "the good torrent imported")
        suite.wait_for(
            lambda: blocklist_by_hash(arr)[cut] and blocklist_by_hash(arr)[wrong],
            "both bad torrents blocklisted",
        )
        suite.wait_for(
            lambda: torrent_fields(qbt, cut) is None and torrent_fields(qbt, wrong) is None,
            "both bad torrents deleted",
        )
        assert scans_by_hash(arr)[cut] == 0 and scans_by_hash(arr)[wrong] == 0
        assert torrent_fields(qbt, good) is not None

        good_rules = [(d["rule"], d["reason"]) for d in decisions(suite, "Radarr-Main", good)]
        assert good_rules[0][0] == "wait" and "checked with ffprobe" in good_rules[0][1]
        imported = [reason for rule, reason in good_rules if rule == "import"]
        assert len(imported) == 1 and "1 file(s) readable" in imported[0]
        cut_last = decisions(suite, "Radarr-Main", cut)[-1]
        assert cut_last["rule"] == "bad-media" and "File ended prematurely" in cut_last["reason"]
        wrong_last = decisions(suite, "Radarr-Main", wrong)[-1]
        assert wrong_last["rule"] == "bad-media" and "mov,mp4" in wrong_last["reason"]
        kinds = [
            (a["kind"], a["status"]) for a in actions(suite, "Radarr-Main", "hash = ?", (cut,))
        ]
        assert kinds == [("blocklist", "done"), ("delete", "done"), ("search", "done")]

        probes = suite.query("SELECT name, ok FROM media_probes ORDER BY name")
        assert sorted((p["name"].split("/")[0][6:12], p["ok"]) for p in probes) == sorted(
            [(good[:6], 1), (cut[:6], 0), (wrong[:6], 0)]
        )
        why = suite.qbarr("why", cut)
        assert why.returncode == 0 and "bad-media" in why.stdout
