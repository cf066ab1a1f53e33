"""The one capped exponential backoff (qbarr.backoff) and the places that use it."""

from __future__ import annotations

import random

from qbarr.backoff import Backoff, RetryTimer


def test_delay_doubles_from_base_to_the_cap() -> None:
    b = Backoff(base=1, cap=60)
    assert [b.delay(n) for n in range(9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert b.delay(10_000) == 60
    assert Backoff(base=10, cap=300).delay(1) == 10
    assert Backoff(base=5, cap=30, factor=3).delay(3) == 30


def test_jitter_spreads_around_the_plain_delay_and_never_passes_the_cap() -> None:
    b = Backoff(base=4, cap=10, jitter=0.5)
    assert b.delay(1, 0.0) == 2 and b.delay(1, 1.0) == 6 and b.delay(1) == 4
    assert b.delay(3, 1.0) == 10  # 16 capped, then spread, then capped again
    rng = random.Random(3)
    samples = [b.sample(2, rng.random) for _ in range(200)]
    assert all(4 <= s <= 10 for s in samples) and len(set(samples)) > 100
    assert Backoff(base=1, cap=8).sample(2) == 2  # no jitter: always the plain delay


def test_retry_timer_waits_doubles_and_resets() -> None:
    now = [0.0]
    timer = RetryTimer(Backoff(base=1, cap=8), clock=lambda: now[0])
    assert timer.ready()
    assert [timer.failed() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert not timer.ready() and timer.remaining() == 8
    now[0] = 8
    assert timer.ready()
    timer.succeeded()
    assert timer.failed() == 1
    timer.set_cap(0.5)
    assert timer.failed() == 0.5 and timer.failures == 2


def test_every_retry_site_uses_it() -> None:
    """The watchdog's restarts, the journal's retries and the search program's Arr retries
    follow the same curve (their former private formulas are gone)."""
    from qbarr import journal
    from qbarr.watchdog import Policy

    assert [Policy(backoff_max=30).delay(n) for n in range(1, 7)] == [5, 10, 20, 30, 30, 30]
    assert [journal.RETRY.delay(n) for n in range(1, 7)] == [10, 20, 40, 80, 160, 300]
