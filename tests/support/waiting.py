"""The one deadline loop of the tests: poll until something truthy comes back, or fail.

Every wait of the test suite goes through :func:`wait_for` (a test never sleeps to let
something happen). A wait that must also notice a process dying passes its predicate through
:func:`unless_exited`, which fails at once, with the process's output, instead of waiting for
the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


def wait_for(
    fn: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
    context: Callable[[], str] | None = None,
) -> T:
    """Poll ``fn`` until it returns something truthy and return it; AssertionError with the last
    value (and ``context()``, e.g. a log tail) at the deadline. Exceptions listed in ``ignore``
    count as "not yet"; any other exception ends the wait at once."""
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
            extra = f"\n{context()}" if context is not None else ""
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}"[:2000]
                + extra[-3000:]
            )
        time.sleep(interval)


class Polled(Protocol):
    def poll(self) -> int | None: ...


def unless_exited(
    proc: Polled, fn: Callable[[], T], name: str = "the process", output: Callable[[], str] = str
) -> Callable[[], T]:
    """``fn`` as a :func:`wait_for` predicate that raises AssertionError (with ``output()``) as
    soon as ``proc`` (a Popen) has exited: a wait on something a process should do."""

    def check() -> T:
        code = proc.poll()
        if code is not None:
            raise AssertionError(f"{name} exited with {code}\n{output()[-3000:]}")
        return fn()

    return check
