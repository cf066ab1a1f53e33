"""Make real .torrent files from local data, for real qbittorrent-nox and the simulator.

The bencode *encoder* is qbarr.torrentfile's, independent of the simulator's own decoder,
so a bug on one side shows up as a hash mismatch instead of cancelling out.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbarr.torrentfile import bencode, info_dict, info_hash


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


def make_torrent(
    path: Path,
    piece_length: int = 64 * 1024,
    trackers: list[str] | None = None,
    comment: str = "qbarr tests",
) -> Torrent:
    """Build a BitTorrent v1 torrent for a file or a directory (no trackers by default)."""
    path = Path(path).resolve()
    info = info_dict(path, piece_length)
    meta: dict[str, object] = {
        "info": info,
        "comment": comment,
        "created by": "qbarr-tests",
        "creation date": int(time.time()),
    }
    if trackers:
        meta["announce"] = trackers[0]
        meta["announce-list"] = [[t] for t in trackers]
    files: list[dict[str, Any]] = info.get("files", [])  # type: ignore[assignment]
    if files:
        names = tuple("/".join([path.name, *f["path"]]) for f in files)
        size = sum(int(f["length"]) for f in files)
    else:
        names, size = (path.name,), int(info["length"])  # type: ignore[call-overload]
    return Torrent(bencode(meta), info_hash(info), path.name, size, names)


def payload_dir(root: Path, name: str, sizes: list[int], seed: int) -> Path:
    """A multi-file payload folder `root/name` with files f0.bin, f1.bin, ..."""
    folder = Path(root) / name
    for i, size in enumerate(sizes):
        write_random(folder / f"f{i}.bin", size, seed * 1000 + i)
    return folder


def random_hash(rnd: random.Random | None = None) -> str:
    """A random 40-hex info-hash (for magnets nobody serves)."""
    return f"{(rnd or random).getrandbits(160):040x}"
