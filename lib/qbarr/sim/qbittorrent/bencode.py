"""Just enough bencode to read .torrent files posted to `torrents/add`.

The info-hash is the SHA-1 of the *original* bytes of the `info` value, so the
decoder records that span instead of re-encoding (a re-encode would change the
hash of a torrent whose keys are not sorted).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


class BencodeError(ValueError):
    """The bytes are not a valid bencoded .torrent."""


def _decode(data: bytes, i: int, spans: dict[str, tuple[int, int]], depth: int) -> tuple[Any, int]:
    if i >= len(data):
        raise BencodeError("truncated data")
    c = data[i : i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        try:
            return int(data[i + 1 : end]), end + 1
        except ValueError as exc:
            raise BencodeError("bad integer") from exc
    if c == b"l":
        i, out = i + 1, []
        while data[i : i + 1] != b"e":
            value, i = _decode(data, i, spans, depth + 1)
            out.append(value)
        return out, i + 1
    if c == b"d":
        i, obj = i + 1, {}
        while data[i : i + 1] != b"e":
            key, i = _decode(data, i, spans, depth + 1)
            if not isinstance(key, bytes):
                raise BencodeError("dictionary key is not a string")
            start = i
            obj[key], i = _decode(data, i, spans, depth + 1)
            if depth == 0 and key == b"info":
                spans["info"] = (start, i)
        return obj, i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        end = colon + 1 + n
        if end > len(data):
            raise BencodeError("truncated string")
        return data[colon + 1 : end], end
    raise BencodeError(f"unexpected byte {c!r} at {i}")


def decode(data: bytes) -> tuple[Any, dict[str, tuple[int, int]]]:
    """Decode one value; return it and the byte span of the top-level 'info' value."""
    spans: dict[str, tuple[int, int]] = {}
    try:
        value, end = _decode(data, 0, spans, 0)
    except (IndexError, ValueError) as exc:
        raise BencodeError(str(exc) or "invalid bencode") from exc
    if end != len(data):
        raise BencodeError("trailing data")
    return value, spans


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class TorrentMeta:
    """What the simulator needs from a .torrent file."""

    hash: str
    name: str
    files: tuple[tuple[str, int], ...]  # (path relative to save path, size)
    piece_length: int
    trackers: tuple[str, ...]
    private: bool
    comment: str
    created_by: str
    creation_date: int
    multi_file: bool


def parse_torrent(data: bytes) -> TorrentMeta:
    """Parse a v1 .torrent; BencodeError if it is not one."""
    meta, spans = decode(data)
    info = meta.get(b"info") if isinstance(meta, dict) else None
    if not isinstance(info, dict) or "info" not in spans:
        raise BencodeError("no info dictionary")
    name = _text(info.get(b"name", b""))
    piece_length = info.get(b"piece length")
    if not name or not isinstance(piece_length, int) or not isinstance(info.get(b"pieces"), bytes):
        raise BencodeError("info dictionary lacks name, piece length or pieces")
    if b"files" in info:
        files = tuple(
            ("/".join([name, *(_text(p) for p in f[b"path"])]), int(f[b"length"]))
            for f in info[b"files"]
        )
        multi = True
    else:
        files, multi = ((name, int(info[b"length"])),), False
    trackers: list[str] = []
    for tier in meta.get(b"announce-list") or []:
        trackers.extend(_text(u) for u in tier if _text(u) not in trackers)
    if b"announce" in meta and _text(meta[b"announce"]) not in trackers:
        trackers.insert(0, _text(meta[b"announce"]))
    start, end = spans["info"]
    return TorrentMeta(
        hash=hashlib.sha1(data[start:end]).hexdigest(),
        name=name,
        files=files,
        piece_length=piece_length,
        trackers=tuple(trackers),
        private=info.get(b"private") == 1,
        comment=_text(meta.get(b"comment", b"")),
        created_by=_text(meta.get(b"created by", b"")),
        creation_date=int(meta.get(b"creation date", -1)),
        multi_file=multi,
    )
