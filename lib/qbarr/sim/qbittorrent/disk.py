"""The only place the simulator looks at the real disk.

A .torrent posted with a save path that holds its files is "real data": adding
and rechecking it compare the files' sizes on disk (no hashing), deleting it
with deleteFiles removes them, and a restart with the files gone gives
missingFiles - the behaviours observed on qbittorrent-nox 4.5.2. Simulated
torrents (scenarios, /sim/torrents, magnets) never touch the disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from .torrent import SimTorrent


def blocked(save_path: str) -> bool:
    """True if a component of save_path is a regular file (qBittorrent: 'error')."""
    path = Path(save_path)
    for parent in [path, *path.parents]:
        if parent.exists():
            return not parent.is_dir()
    return False


def present(t: SimTorrent) -> list[bool]:
    """Per file: does save_path/file exist with the right size?"""
    out = []
    for f in t.files:
        p = os.path.join(t.save_path, f.path)
        try:
            out.append(os.path.getsize(p) == f.size)
        except OSError:
            out.append(False)
    return out


def probe_new(t: SimTorrent) -> bool:
    """At add: a save path below a regular file is an error; files found on disk make
    it real data (the hash check that follows reads them, see verify)."""
    if blocked(t.save_path):
        t.error = f"{t.save_path}: Not a directory"
        t.error_sticky = True
        return False
    t.real_data = bool(t.files) and any(present(t))
    return t.real_data


def verify(t: SimTorrent, now: float) -> None:
    """End of a hash check: real data is re-read from disk, simulated data is kept."""
    pending, t.error_pending = t.error_pending, False
    if t.real_data or blocked(t.save_path):
        if blocked(t.save_path):
            t.error = f"{t.save_path}: Not a directory"
            return
        for f, ok in zip(t.files, present(t), strict=True):
            f.done = float(f.size) if ok else 0.0
        if t.complete:
            t.completion_on = t.completion_on or now
        return
    if pending and t.error_sticky:
        t.error = t.error_text


def restart_check(t: SimTorrent) -> None:
    """qBittorrent restarted: resume data of a real-data torrent whose files vanished
    is rejected -> missingFiles (completion_on kept, progress 0)."""
    if t.real_data and t.complete and not all(present(t)):
        t.missing = True
        for f in t.files:
            f.done = 0.0


def delete_content(t: SimTorrent) -> None:
    """deleteFiles=true on a real-data torrent: remove its files, then the folders
    they leave empty (never anything else, never above the save path)."""
    if not t.real_data:
        return
    base = os.path.realpath(t.save_path)
    for f in t.files:
        path = os.path.join(t.save_path, f.path)
        try:
            os.unlink(path)
        except OSError:
            continue
        parent = os.path.dirname(os.path.realpath(path))
        while parent.startswith(base + os.sep):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)
