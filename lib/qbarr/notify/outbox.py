"""Per notification URL: what waits to be sent, the rate limit, bounded retries. Pure: the
notify program asks :meth:`Outbox.due` what to send now and reports each result."""

from __future__ import annotations

from dataclasses import dataclass, field

from qbarr.notify.compose import Message, merge

RETRY_BASE = 5.0  # seconds before the first retry; doubles each time


@dataclass
class Target:
    """One URL's queue (by its index in [Notifications] URLs: the URL itself is a secret)."""

    index: int
    waiting: list[Message] = field(default_factory=list)
    next_at: float = 0.0  # not before (rate limit, or a retry's back-off)
    attempts: int = 0  # failed tries of what is in flight
    in_flight: Message | None = None


@dataclass
class Outbox:
    targets: list[Target]
    min_interval: float = 30.0
    retries: int = 3
    dropped: int = 0

    @classmethod
    def for_urls(cls, count: int, min_interval: float, retries: int) -> Outbox:
        return cls([Target(i) for i in range(count)], min_interval, retries)

    def put(self, message: Message) -> None:
        for t in self.targets:
            t.waiting.append(message)

    def due(self, now: float) -> list[tuple[int, Message]]:
        """(URL index, message) to send now: what failed before (when its back-off is over),
        else everything waiting, merged (when the rate limit allows)."""
        out = []
        for t in self.targets:
            if now < t.next_at:
                continue
            if t.in_flight is None and t.waiting:
                t.in_flight, t.waiting = merge(t.waiting), []
            if t.in_flight is not None:
                out.append((t.index, t.in_flight))
        return out

    def sent(self, index: int, now: float) -> None:
        t = self.targets[index]
        t.in_flight, t.attempts = None, 0
        t.next_at = now + self.min_interval

    def failed(self, index: int, now: float) -> bool:
        """A try failed: True when it will be tried again, False when it is dropped."""
        t = self.targets[index]
        t.attempts += 1
        if t.attempts > self.retries:
            t.in_flight, t.attempts = None, 0
            t.next_at = now + self.min_interval
            self.dropped += 1
            return False
        t.next_at = now + RETRY_BASE * 2 ** (t.attempts - 1)
        return True

    def next_wake(self, now: float) -> float | None:
        """When something waiting can be sent (None: nothing waits)."""
        times = [t.next_at for t in self.targets if t.in_flight is not None or t.waiting]
        return max(now, min(times)) if times else None
