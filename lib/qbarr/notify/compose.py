"""A batch of events -> one message (title and body). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qbarr.notify.events import Event

MAX_LINES = 20  # per kind: a burst of 500 failures is a count and the first 20 names

# The order and the words of each kind in a message.
KINDS = {
    "failed": ("torrent failed", "torrents failed"),
    "import-failed": ("import failed", "imports failed"),
    "brake": ("brake engaged", "brakes engaged"),
    "program": ("program failing", "programs failing"),
    "unreachable": ("remote unreachable", "remotes unreachable"),
    "back": ("remote back", "remotes back"),
    "digest": ("daily digest", "daily digests"),
    "test": ("test notification", "test notifications"),
}


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    events: int = 1  # how many events it carries
    first_at: float = 0.0  # when the oldest of them happened


def compose(events: Sequence[Event]) -> Message | None:
    """One message for a whole batch: a title with the count of each kind, a section each."""
    if not events:
        return None
    by_kind: dict[str, list[Event]] = {}
    for ev in events:
        by_kind.setdefault(ev.kind, []).append(ev)
    order = [k for k in KINDS if k in by_kind] + sorted(set(by_kind) - set(KINDS))
    counts, sections = [], []
    for kind in order:
        found = by_kind[kind]
        one, many = KINDS.get(kind, (kind, kind))
        counts.append(f"{len(found)} {one if len(found) == 1 else many}")
        lines = [ev.line for ev in found[:MAX_LINES]]
        if len(found) > MAX_LINES:
            lines.append(f"... and {len(found) - MAX_LINES} more (qbarr's web UI lists them all)")
        sections.append("\n".join(lines))
    return Message(
        title="qbarr: " + ", ".join(counts),
        body="\n\n".join(sections),
        events=len(events),
        first_at=min(ev.at for ev in events),
    )


def merge(messages: Sequence[Message]) -> Message:
    """Several waiting messages for one URL -> one (its rate limit held them back)."""
    if len(messages) == 1:
        return messages[0]
    return Message(
        title=f"qbarr: {len(messages)} notifications",
        body="\n\n".join(f"{m.title}\n{m.body}" for m in messages),
        events=sum(m.events for m in messages),
        first_at=min(m.first_at for m in messages),
    )
