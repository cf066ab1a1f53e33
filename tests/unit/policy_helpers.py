"""Builders shared by the policy tests: torrents as qBittorrent sends them, queue views,
one-call decide."""

from __future__ import annotations

from typing import Any

from qbarr.policy import Decision, Env, Memory, PolicySettings, QueueView, decide

NOW = 1_000_000.0
HOUR = 3600.0
DAY = 86400.0
GIB = 1024**3


def H(n: int) -> str:
    return f"{n:040x}"


def downloading(**kw: Any) -> dict[str, Any]:
    """An incomplete, healthy download, an hour old, in category radarr."""
    t = {
        "name": "Some.Movie.2020.1080p",
        "state": "downloading",
        "category": "radarr",
        "tags": "",
        "progress": 0.5,
        "amount_left": 500 * 1024**2,
        "size": 1000 * 1024**2,
        "completed": 500 * 1024**2,
        "ratio": 0.0,
        "seeding_time": 0,
        "eta": 600,
        "availability": 3.0,
        "added_on": NOW - HOUR,
        "last_activity": NOW - 5,
        "content_path": "/downloads/radarr/Some.Movie.2020.1080p",
        "tracker": "",
        "priority": 1,
    }
    t.update(kw)
    return t


def seeding(**kw: Any) -> dict[str, Any]:
    """A complete torrent seeding (stalledUP)."""
    t = downloading(
        state="stalledUP",
        progress=1.0,
        amount_left=0,
        completed=1000 * 1024**2,
        eta=8640000,
        availability=-1,
        ratio=0.5,
        seeding_time=HOUR,
    )
    t.update(kw)
    return t


def queue(
    state: str | None = "downloading",
    status: str | None = "ok",
    ids: tuple[int, ...] = (7,),
    media: tuple[dict, ...] = ({"movieId": 3},),
) -> QueueView:
    return QueueView(
        ids=ids,
        tracked_state=state,
        tracked_status=status,
        status="downloading",
        title="Some.Movie",
        media=media,
    )


def settings(**kw: Any) -> PolicySettings:
    kw.setdefault("category", "radarr")
    return PolicySettings(**kw)


def one(
    t: dict[str, Any],
    *,
    q: QueueView | None = None,
    files: list[dict] | None = None,
    mem: Memory | None = None,
    s: PolicySettings | None = None,
    env: Env | None = None,
    h: str = H(1),
) -> Decision:
    """decide() for a single torrent; asserts exactly one decision comes back."""
    found = decide(
        {h: t},
        {h: q} if q is not None else {},
        {h: files} if files is not None else {},
        {h: mem} if mem is not None else {},
        s or settings(),
        env or Env(now=NOW),
    )
    assert len(found) == 1, found
    return found[0]


def kinds(d: Decision) -> list[str]:
    return [a.kind for a in d.actions]


def action(d: Decision, kind: str):
    found = [a for a in d.actions if a.kind == kind]
    assert len(found) == 1, d.actions
    return found[0]
