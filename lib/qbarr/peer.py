"""What a program knows about one remote (qBittorrent or an Arr), from its own calls.

Each client owns a :class:`Peer` and runs every HTTP call inside ``peer.call(what)``:

- the call is *in flight* meanwhile, with the longest it may take (``limit``): the
  heartbeat thread (:class:`qbarr.heartbeat.Pulse`) reads that to keep a program that waits
  on a slow remote alive ("waiting on Radarr: 28 s"), and to stop vouching for it once a
  call outlives its limit (a real hang);
- its outcome sets the remote's reachability: ``ok`` since when, or down since when with
  the last error and its time. A remote that answered at all (even 404 or 400) is
  reachable; no answer, a 5xx, a refused login or a page that is not the API is down.

So each remote is reported from its own last call: qBittorrent being down never shows the
Arr as down too. Thread-safe: the program's main thread writes, the heartbeat thread reads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InFlight:
    """A call under way: what, since when (monotonic seconds), how long it may take."""

    peer: str
    what: str
    started: float
    limit: float


class Peer:
    """Reachability of one remote and the call in flight to it (see the module docstring)."""

    def __init__(
        self,
        name: str,
        limit: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.limit = float(limit)
        self.clock = clock
        self.monotonic = monotonic
        self.ok: bool | None = None  # None: not called yet
        self.since: float | None = None  # when ``ok`` last changed
        self.error: str | None = None  # the last error, kept after recovery
        self.error_at: float | None = None
        self._lock = threading.Lock()
        self._flight: InFlight | None = None

    @contextlib.contextmanager
    def call(self, what: str) -> Iterator[None]:
        """Mark one call in flight for as long as the block runs."""
        flight = InFlight(self.name, what, self.monotonic(), self.limit)
        with self._lock:
            self._flight = flight
        try:
            yield
        finally:
            with self._lock:
                if self._flight is flight:
                    self._flight = None

    def in_flight(self) -> InFlight | None:
        with self._lock:
            return self._flight

    def answered(self) -> None:
        """The remote answered a call."""
        with self._lock:
            if self.ok is not True:
                self.ok, self.since = True, self.clock()

    def failed(self, error: str) -> None:
        """The remote did not answer usefully (error: a secret-free message)."""
        with self._lock:
            now = self.clock()
            if self.ok is not False:
                self.ok, self.since = False, now
            self.error, self.error_at = error, now

    def as_dict(self) -> dict[str, Any]:
        """For the heartbeat: ``name``, ``ok``, ``since``, ``error``, ``error_at``."""
        with self._lock:
            return {
                "name": self.name,
                "ok": self.ok,
                "since": self.since,
                "error": self.error,
                "error_at": self.error_at,
            }


def call_limit(timeout: float) -> float:
    """The longest one HTTP call with this timeout may take: httpx's timeout bounds each
    phase (connect, write, each read), not the whole call, so allow two of them and a bit."""
    return 2.0 * float(timeout) + 5.0
