"""Free space under the data dir: what a full disk looks like to qbarr, and how it is said.

When the disk under the data dir fills up, qbarr.db cannot be written: the programs wait
(:func:`qbarr.runtime.run_loop`), their heartbeats stop, and the watchdog must not take
that for a hang. Everything that shows state (``qbarr status``, the web UI, the watchdog)
asks :func:`space` and says the same thing (:func:`warning`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from qbarr.units import format_size

LOW = 16 * 1024 * 1024
"""Below this much free space the data dir counts as full: SQLite needs room for a
transaction's pages in the WAL, and the logs need some too."""


@dataclass(frozen=True)
class Space:
    path: Path
    free: int
    total: int

    @property
    def low(self) -> bool:
        return self.free < LOW


def space(path: Path) -> Space | None:
    """Free and total bytes of the filesystem under ``path`` (None when it cannot be read).

    ``free`` is what this process may use: root may also fill the blocks reserved for it.
    """
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return Space(path, blocks * st.f_frsize, st.f_blocks * st.f_frsize)


def warning(path: Path) -> str | None:
    """The line every status view shows while the data dir's disk is full (else None)."""
    found = space(path)
    if found is None or not found.low:
        return None
    return (
        f"the disk of the data dir {path} is full ({format_size(found.free)} free of "
        f"{format_size(found.total)}): qbarr.db cannot be written, so the programs wait and the "
        "statuses shown are from before; free some space and they resume on their own"
    )
