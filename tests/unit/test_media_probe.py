"""Media checks with the real ffprobe on small files the test makes with ffmpeg.

A valid file passes; a truncated one, one whose container does not match its extension, and
an empty or streamless one fail with ffprobe's own words; the pool never blocks, probes at most
ProbeConcurrency files at once, and remembers each verdict per content fingerprint in SQLite.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil
import pytest

from qbarr.db import rows
from qbarr.media import judge, media_files
from qbarr.media.pool import MediaChecker
from qbarr.media.probe import Runner, ffprobe_path, fingerprint
from tests.support.engines import open_db
from tests.support.media import make_media
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_media(tmp_path_factory.mktemp("media"))


def probe(path: Path):
    exe = ffprobe_path()
    assert exe
    result = Runner(exe).probe(path, timeout=30)
    assert not result.timed_out and result.verdict is not None
    return result.verdict


def test_a_valid_video_and_a_valid_flac_are_readable(files) -> None:
    for name in ("good", "flac"):
        v = probe(files[name])
        assert v.ok, (name, v)
        assert v.duration and v.duration > 10
    assert "matroska" in probe(files["good"]).format_name


def test_a_truncated_file_is_unreadable_with_ffprobe_s_own_line(files) -> None:
    v = probe(files["truncated"])
    assert not v.ok
    assert "File ended prematurely" in v.detail and "cut short" in v.detail


def test_a_container_that_does_not_match_its_extension_is_unreadable(files) -> None:
    v = probe(files["wrong"])
    assert not v.ok and "mov,mp4" in v.detail and ".mkv" in v.detail


def test_garbage_and_an_empty_stream_list_are_unreadable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x00not a video at all" * 500)
    v = probe(junk)
    assert not v.ok and "Invalid data found" in v.detail
    assert not judge("x.mkv", 0, '{"format": {"duration": "5"}, "streams": []}', "").ok
    zero = '{"format": {"duration": "0"}, "streams": [{"codec_type": "video"}]}'
    assert "zero" in judge("x.mkv", 0, zero, "").detail


def test_only_wanted_video_and_audio_files_are_probed() -> None:
    listed = [
        {"index": 0, "name": "M/M.mkv", "size": 10, "priority": 1},
        {"index": 1, "name": "M/M.en.srt", "size": 10, "priority": 1},
        {"index": 2, "name": "M/Sample/s.mkv", "size": 10, "priority": 0},
        {"index": 3, "name": "M/M.nfo", "size": 10, "priority": 1},
        {"index": 4, "name": "M/disc.iso", "size": 10, "priority": 1},
        {"index": 5, "name": "M/theme.flac", "size": 10, "priority": 1},
    ]
    assert [f.index for f in media_files(listed, "radarr")] == [0, 5]
    assert [f.index for f in media_files(listed, "lidarr")] == [5]


def test_the_fingerprint_changes_with_the_content_and_not_with_the_path(files, tmp_path) -> None:
    copy = tmp_path / "elsewhere.mkv"
    copy.write_bytes(files["good"].read_bytes())
    assert fingerprint(copy) == fingerprint(files["good"])
    assert fingerprint(files["truncated"]) != fingerprint(files["good"])


def _torrent(folder: Path, names: list[str]) -> tuple[dict, list[dict]]:
    listed = [
        {"index": i, "name": n, "size": (folder / n).stat().st_size, "priority": 1}
        for i, n in enumerate(names)
    ]
    return {"save_path": str(folder), "content_path": str(folder)}, listed


def test_the_pool_checks_across_cycles_and_remembers_each_content_once(files, tmp_path) -> None:
    db = open_db(tmp_path / "qbarr.db")
    folder = files["good"].parent
    checker = MediaChecker(db, "radarr", concurrency=1, timeout=30, exe=ffprobe_path())
    good, listed_good = _torrent(folder, ["good.mkv", "good.flac"])
    bad, listed_bad = _torrent(folder, ["good.mkv", "truncated.mkv"])
    lists = {"a" * 40: listed_good, "b" * 40: listed_bad}
    try:
        checker.request(lists, {"a" * 40: good, "b" * 40: bad}, lambda h: lists[h])
        first = checker.checks()
        assert {c.status for c in first.values()} == {"pending"}  # nothing waited for
        done = wait_for(
            lambda: (
                (c := checker.checks()) and all(x.status != "pending" for x in c.values()) and c
            ),
            timeout=60,
            what="both checks",
        )
    finally:
        checker.close()
    assert done["a" * 40].status == "ok" and done["a" * 40].files == 2
    assert done["b" * 40].status == "bad"
    assert (
        done["b" * 40].detail.startswith("truncated.mkv: ") and "cut short" in done["b" * 40].detail
    )
    remembered = rows(db, "SELECT name, ok FROM media_probes ORDER BY name")
    # good.mkv is in both torrents but probed (and remembered) once
    assert remembered == [
        {"name": "good.flac", "ok": 1},
        {"name": "good.mkv", "ok": 1},
        {"name": "truncated.mkv", "ok": 0},
    ]

    # a new checker (a restart) finds the verdicts by fingerprint and runs no ffprobe at all
    again = MediaChecker(db, "radarr", concurrency=1, timeout=30, exe="/nonexistent/ffprobe")
    try:
        again.request(["b" * 40], {"b" * 40: bad}, lambda h: lists[h])
        result = wait_for(
            lambda: (c := again.checks()["b" * 40]).status != "pending" and c, what="from the db"
        )
    finally:
        again.close()
    assert result.status == "bad" and "truncated.mkv" in result.detail


def test_a_probe_that_times_out_leaves_the_torrent_unchecked(files, tmp_path) -> None:
    slow = tmp_path / "slow-ffprobe"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    db = open_db(tmp_path / "qbarr.db")
    checker = MediaChecker(db, "radarr", concurrency=1, timeout=0.5, exe=str(slow))
    t, listed = _torrent(files["good"].parent, ["good.mkv"])
    try:
        checker.request(["c" * 40], {"c" * 40: t}, lambda h: listed)
        result = wait_for(
            lambda: (c := checker.checks()["c" * 40]).status != "pending" and c,
            timeout=20,
            what="the timeout",
        )
    finally:
        checker.close()
    assert result.status == "unchecked" and "timed out" in result.detail

    def sleeping() -> list[psutil.Process]:  # the probe that timed out was killed, not left
        out = []
        for p in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if p.cmdline()[:2] == ["sleep", "30"]:
                    out.append(p)
        return out

    wait_for(lambda: not sleeping(), timeout=10, what="the timed-out probe gone")
    assert rows(db, "SELECT COUNT(*) AS n FROM media_probes")[0]["n"] == 0


def test_without_ffprobe_or_without_the_files_the_check_says_why(tmp_path) -> None:
    db = open_db(tmp_path / "qbarr.db")
    none = MediaChecker(db, "radarr", exe=None)
    unseen = MediaChecker(db, "radarr", exe="/usr/bin/true")
    try:
        none.request(["d" * 40], {"d" * 40: {"save_path": str(tmp_path)}}, lambda h: [])
        unseen.request(["e" * 40], {"e" * 40: {"save_path": "/no/such/dir"}}, lambda h: [])
        assert "ffprobe not found" in none.checks()["d" * 40].detail
        assert unseen.checks()["e" * 40].status == "unchecked"
        assert "/no/such/dir" in unseen.checks()["e" * 40].detail
    finally:
        none.close()
        unseen.close()
