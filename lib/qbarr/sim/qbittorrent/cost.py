"""What a call costs qBittorrent: torrents serialized, and (optionally) CPU time for them.

qBittorrent's WebUI spends its time turning torrents into JSON. Which torrents a call
serializes depends on the call and on the version:

- ``torrents/info`` serializes every torrent that passes the filters (``filter``,
  ``category``, ``tag``, ``hashes``), before it sorts and pages them;
- ``sync/maindata`` before 4.6 (WebAPI < 2.9) serializes **every** torrent on every call
  and diffs the result against the session's last answer, even when the answer is
  ``{"rid":N}``; from 4.6 on (upstream PR 18394) it tracks changes and serializes only the
  torrents that changed (all of them for a full update).

The simulator counts them (``/sim/state``: ``serialized``, ``serialized_by_path``) and, with
``--serialize-us N``, burns N microseconds of CPU per torrent serialized, in the request's
thread and under the store lock (qBittorrent does it in its main thread), so that
benchmarks see the cost of a poller as CPU time of the simulator's process. Measured on
qbittorrent-nox 4.5.2 (2 vCPU): ~150 us per torrent (0.3 s per sync of 2,000 torrents).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

SYNC_TRACKS_CHANGES = (2, 9, 0)  # WebAPI of qBittorrent 4.6
REQUEST_LOG = 5000


@dataclass
class Cost:
    """Counters and the optional CPU charge; the store owns one (``store.cost``)."""

    serialize_us: float = 0.0
    serialized: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG))
    request_count: Counter[str] = field(default_factory=Counter)

    def charge(self, path: str, torrents: int) -> None:
        """``torrents`` serialized by a call to ``path``."""
        self.serialized += torrents
        self.by_path[path] += torrents
        if self.serialize_us > 0 and torrents:
            burn(self.serialize_us * torrents / 1e6)

    def record(self, path: str, method: str, agent: str, session: str) -> None:
        """One API request (the log behind ``GET /sim/requests``)."""
        self.request_count[path] += 1
        self.requests.append(
            {"at": time.time(), "method": method, "path": path, "agent": agent, "session": session}
        )

    def view(self) -> dict[str, Any]:
        return {
            "serialized": self.serialized,
            "serialized_by_path": dict(self.by_path),
            "requests_by_path": dict(self.request_count),
            "serialize_us": self.serialize_us,
        }


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time (not wall time: a busy machine stretches
    the wall time, the CPU charged stays what qBittorrent would spend)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
