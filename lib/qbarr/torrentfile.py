"""Making small real .torrent files from local data (the demo with a real qbittorrent-nox).

Only what a v1 torrent needs: bencoding, piece hashes, single- or multi-file info dicts.
No tracker is written, so a torrent made here announces nowhere.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

PIECE_LENGTH = 64 * 1024


def bencode(value: object) -> bytes:
    """Bencode ints, bytes/str, lists and dicts (keys sorted, as the format requires)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return b"%d:%s" % (len(value), bytes(value))
    if isinstance(value, list | tuple):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def write_payload(root: Path, sizes: list[int], seed: int) -> Path:
    """A folder of pseudo-random files (``root/part<i>.mkv``); returns ``root``."""
    rnd = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(sizes):
        (root / f"part{i}.mkv").write_bytes(rnd.randbytes(size))
    return root


def info_dict(path: Path, piece_length: int = PIECE_LENGTH) -> dict[str, object]:
    """The v1 info dict of a file or a folder (files in sorted order): name, piece hashes,
    and the length of the file or the length and path of each file of the folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    pieces, buffer = [], b""
    for file in files:
        with open(file, "rb") as data:
            while chunk := data.read(piece_length - len(buffer)):
                buffer += chunk
                if len(buffer) == piece_length:
                    pieces.append(hashlib.sha1(buffer).digest())
                    buffer = b""
    if buffer:
        pieces.append(hashlib.sha1(buffer).digest())
    info: dict[str, object] = {
        "name": path.name,
        "piece length": piece_length,
        "pieces": b"".join(pieces),
    }
    if path.is_dir():
        info["files"] = [
            {"length": f.stat().st_size, "path": list(f.relative_to(path).parts)} for f in files
        ]
    else:
        info["length"] = path.stat().st_size
    return info


def info_hash(info: dict[str, object]) -> str:
    """The v1 info hash of an info dict (what qBittorrent calls the torrent's hash)."""
    return hashlib.sha1(bencode(info)).hexdigest()


def make_torrent(path: Path, piece_length: int = PIECE_LENGTH) -> bytes:
    """The .torrent bytes for a file or a folder."""
    return bencode({"info": info_dict(path, piece_length), "created by": "qbarr demo"})
