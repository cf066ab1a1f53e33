"""Capped exponential backoff: the one place that says how long to wait after n failures.

:class:`Backoff` is a pure value: ``delay(n)`` is ``base * factor ** (n - 1)`` capped at
``cap`` (0 for n = 0), spread by up to ``± jitter`` of itself when the caller passes a point
``u`` in [0, 1] of the jitter band (0.5, the default, is its middle: no spread). ``sample(n)``
draws that point at random. Every retry in qbarr uses one: the programs' reconnects, the
journal's retries of actions, the clients' retries of idempotent calls, the search program's
Arr and request-source retries, the watchdog's restarts after FATAL.

:class:`RetryTimer` is the non-blocking state around one Backoff for a loop that must keep
working (and heartbeating) while it waits: ``ready()`` each turn, ``failed()`` after a
failure (returns the delay), ``succeeded()`` after a success.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Delays of a capped exponential backoff (see the module docstring)."""

    base: float = 1.0
    cap: float = 60.0
    factor: float = 2.0
    jitter: float = 0.0

    def delay(self, failures: int, u: float = 0.5) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 -> 0), never above cap."""
        if failures <= 0:
            return 0.0
        plain = min(self.cap, self.base * self.factor ** min(failures - 1, 64))
        spread = 1.0 + self.jitter * (2.0 * min(max(u, 0.0), 1.0) - 1.0)
        return float(min(self.cap, plain * spread))

    def sample(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """``delay`` at a random point of the jitter band."""
        return self.delay(failures, rng() if self.jitter else 0.5)


@dataclass
class RetryTimer:
    """When a loop may try again, after consecutive failures (non-blocking)."""

    backoff: Backoff = field(default_factory=Backoff)
    failures: int = 0
    next_at: float = 0.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def ready(self) -> bool:
        return self.clock() >= self.next_at

    def failed(self) -> float:
        """Record a failure; returns the seconds until the next attempt."""
        self.failures += 1
        delay = self.backoff.sample(self.failures)
        self.next_at = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_at = 0.0

    def remaining(self) -> float:
        return max(0.0, self.next_at - self.clock())

    def set_cap(self, cap: float) -> None:
        """A new cap (config reload); the failures counted so far are kept."""
        self.backoff = Backoff(self.backoff.base, cap, self.backoff.factor, self.backoff.jitter)
