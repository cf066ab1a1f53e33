"""Make real .torrent files from local data, for real qbittorrent-nox and the simulator.

The bencode *encoder* is qbarr.torrentfile's, independent of the simulator's own decoder,
so a bug on one side shows up as a hash mismatch instead of cancelling out.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from qbarr.torrentfile import bencode


@dataclass(frozen=True)
class Torrent:
    """A built .torrent: its bytes, v1 info-hash, name and payload size."""

    data: bytes
    hash: str
    name: str
    size: int
    files: tuple[str, ...]

    @property
    def magnet(self) -> str:
        return f"magnet:?xt=urn:btih:{self.hash}&dn={self.name}"


def write_random(path: Path, size: int, seed: int) -> Path:
    """Write `size` pseudo-random bytes (deterministic per seed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 1 << 20)
            fh.write(rnd.randbytes(n))
            left -= n
    return path


def _walk(root: Path) -> list[tuple[list[str] | None, Path]]:
    if root.is_file():
        return [(None, root)]
    found = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            full = Path(dirpath) / name
            found.append((list(full.relative_to(root).parts), full))
    return sorted(found)


def make_torrent(
    path: Path,
    piece_length: int = 64 * 1024,
    trackers: list[str] | None = None,
    comment: str = "qbarr tests",
) -> Torrent:
    """Build a BitTorrent v1 torrent for a file or a directory (no trackers by default)."""
    path = Path(path).resolve()
    files = _walk(path)
    pieces, buf = [], b""
    for _, full in files:
        with open(full, "rb") as fh:
            while chunk := fh.read(piece_length - len(buf)):
                buf += chunk
                if len(buf) == piece_length:
                    pieces.append(hashlib.sha1(buf).digest())
                    buf = b""
    if buf:
        pieces.append(hashlib.sha1(buf).digest())
    info: dict[str, object] = {
        "name": path.name,
        "piece length": piece_length,
        "pieces": b"".join(pieces),
    }
    if files[0][0] is None:
        info["length"] = path.stat().st_size
        names: tuple[str, ...] = (path.name,)
    else:
        info["files"] = [{"length": full.stat().st_size, "path": parts} for parts, full in files]
        names = tuple("/".join([path.name, *parts]) for parts, _ in files if parts)
    meta: dict[str, object] = {
        "info": info,
        "comment": comment,
        "created by": "qbarr-tests",
        "creation date": int(time.time()),
    }
    if trackers:
        meta["announce"] = trackers[0]
        meta["announce-list"] = [[t] for t in trackers]
    size = sum(full.stat().st_size for _, full in files)
    return Torrent(bencode(meta), hashlib.sha1(bencode(info)).hexdigest(), path.name, size, names)


def payload_dir(root: Path, name: str, sizes: list[int], seed: int) -> Path:
    """A multi-file payload folder `root/name` with files f0.bin, f1.bin, ..."""
    folder = Path(root) / name
    for i, size in enumerate(sizes):
        write_random(folder / f"f{i}.bin", size, seed * 1000 + i)
    return folder


def random_hash(rnd: random.Random | None = None) -> str:
    """A random 40-hex info-hash (for magnets nobody serves)."""
    return f"{(rnd or random).getrandbits(160):040x}"
