"""The one deadline loop of the tests: poll until something truthy comes back, or fail."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(
    fn: Callable[[], T],
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll ``fn`` until it returns something truthy and return it; AssertionError with the last
    value at the deadline. Exceptions listed in ``ignore`` count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
        except ignore as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}"[:2000]
            )
        time.sleep(interval)
