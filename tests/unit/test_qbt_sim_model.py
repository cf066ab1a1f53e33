"""Simulator building blocks: .torrent parsing, magnets, state precedence, piece sizes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qbarr.sim.qbittorrent.adding import parse_magnet
from qbarr.sim.qbittorrent.bencode import BencodeError, decode, parse_torrent
from qbarr.sim.qbittorrent.torrent import SimFile, SimTorrent, ratio_of, state_of
from tests.support.torrents import bencode, make_torrent, payload_dir


def test_parse_torrent_matches_the_independent_encoder(tmp_path: Path) -> None:
    multi = make_torrent(
        payload_dir(tmp_path, "Multi", [70_000, 10], 1), trackers=["http://a/ann", "http://b/ann"]
    )
    meta = parse_torrent(multi.data)
    assert meta.hash == multi.hash and meta.name == "Multi" and meta.multi_file
    assert meta.files == (("Multi/f0.bin", 70_000), ("Multi/f1.bin", 10))
    assert meta.trackers == ("http://a/ann", "http://b/ann") and meta.created_by == "qbarr-tests"
    single = make_torrent(tmp_path / "Multi" / "f0.bin")
    assert parse_torrent(single.data).files == (("f0.bin", 70_000),)


def test_info_hash_uses_the_original_bytes() -> None:
    info = b"d4:name1:x12:piece lengthi16384e6:pieces20:" + b"\0" * 20 + b"6:lengthi5ee"
    data = b"d4:info" + info + b"e"  # keys of info deliberately unsorted
    assert parse_torrent(data).hash == hashlib.sha1(info).hexdigest()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        b"d4:infoi1ee",
        b"le",
        b"i1e trailing",
        bencode({"info": {"name": "x"}}),
        b"d4:info" + b"d" * 5,
    ],
)
def test_invalid_torrents(blob: bytes) -> None:
    with pytest.raises(BencodeError):
        parse_torrent(blob)


def test_decode_values() -> None:
    value, spans = decode(bencode({"a": [1, -2, b"xy"], "info": {"k": "v"}}))
    assert value == {b"a": [1, -2, b"xy"], b"info": {b"k": b"v"}} and "info" in spans


def test_magnets() -> None:
    h = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    assert parse_magnet(f"magnet:?xt=urn:btih:{h.upper()}&dn=A%20B&tr=http%3A%2F%2Ft") == (
        h,
        "A B",
        ["http://t"],
    )
    assert parse_magnet("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK")[0] == h
    assert parse_magnet("http://example/x.torrent") is None
    assert parse_magnet("magnet:?xt=urn:btih:nothex") is None


def torrent(**kw: object) -> SimTorrent:
    t = SimTorrent(
        hash="a" * 40,
        name="T",
        save_path="/d",
        files=[SimFile("T/a", 300_000), SimFile("T/b", 100_000)],
        piece_size=65536,
    )
    for k, v in kw.items():
        setattr(t, k, v)
    return t


@pytest.mark.parametrize(
    "kw, v5, state",
    [
        ({"resume_until": 10.0, "error": "x"}, False, "checkingResumeData"),
        ({"moving_until": 10.0, "missing": True}, False, "moving"),
        ({"missing": True, "error": "x"}, False, "missingFiles"),
        ({"error": "x", "paused": True}, False, "error"),
        ({"has_metadata": False, "paused": True}, True, "stoppedDL"),
        ({"has_metadata": False, "forced": True}, False, "forcedMetaDL"),
        ({"has_metadata": False}, False, "metaDL"),
        ({"checking_until": 10.0, "check_was_complete": True, "paused": True}, False, "checkingUP"),
        ({"paused": True}, False, "pausedDL"),
        ({"queued": True}, False, "queuedDL"),
        ({"forced": True}, False, "forcedDL"),
        ({"seeds": 2, "dl_rate": 1000.0}, False, "downloading"),
        ({}, False, "stalledDL"),
    ],
)
def test_state_precedence(kw: dict, v5: bool, state: str) -> None:
    assert state_of(torrent(**kw), 5.0, v5) == state


@pytest.mark.parametrize(
    "kw, v5, state",
    [
        ({"paused": True}, True, "stoppedUP"),
        ({"paused": True}, False, "pausedUP"),
        ({"queued": True}, False, "queuedUP"),
        ({"leechs": 1, "ul_rate": 5.0}, False, "uploading"),
        ({}, False, "stalledUP"),
    ],
)
def test_complete_states(kw: dict, v5: bool, state: str) -> None:
    t = torrent(**kw)
    t.set_complete(1.0)
    assert state_of(t, 5.0, v5) == state


def test_sizes_count_whole_pieces() -> None:
    """Observed on 4.5.2: files 200000/100000/5000 with 64 KiB pieces."""
    t = SimTorrent(
        hash="b" * 40,
        name="G",
        save_path="/d",
        piece_size=65536,
        files=[SimFile("G/0", 200_000), SimFile("G/1", 100_000), SimFile("G/2", 5_000)],
    )
    sizes = []
    for skip in (2, 1, 0):
        t.files[skip].priority = 0
        sizes.append((t.wanted, t.complete))
    assert sizes == [(305_000, False), (262_144, False), (0, True)]
    t.set_complete(1.0)
    assert t.wanted == t.completed == 305_000  # a seed reports its full size


def test_ratio_like_qbittorrent() -> None:
    t = torrent(uploaded=800_000.0)
    t.set_complete(1.0)
    assert ratio_of(t) == 2.0  # nothing downloaded: ratio over what it has
    t.downloaded = 1_600_000.0
    assert ratio_of(t) == 0.5
    assert ratio_of(torrent()) == 0.0
