"""The observation step: update a torrent's persisted timers from what qBittorrent shows.

It runs for every owned torrent before any rule, whatever rule then decides, so clocks
never depend on which rule fired last cycle and survive restarts (they live in Memory).
The stall clock counts observed time only: it starts when qbarr first sees the stall, and
time during which qbarr could not see qBittorrent (``Env.unobserved``) is added back to
``stalled_since``, which pauses the clock. Slow strikes count checks, and no check happens
while qBittorrent is unreachable; seeding time is qBittorrent's own counter.
"""

from __future__ import annotations

from typing import Any

from qbarr.policy.facts import ACTIVE_DL_STATES, STALL_STATES, TorrentFacts
from qbarr.policy.model import Env, Memory
from qbarr.policy.settings import PolicySettings
from qbarr.policy.trackers import verdict

# A torrent qbarr paused but that shows as running this long after the pause was resumed by
# someone else (qBittorrent's state can lag a few seconds behind a pause, hence the grace).
PAUSE_GRACE = 60.0


def is_stalled_now(f: TorrentFacts) -> bool:
    """Cannot progress: no peers / no metadata, or downloading with availability below 1."""
    if f.complete:
        return False
    if f.state in STALL_STATES:
        return True
    return f.state in ACTIVE_DL_STATES and 0 <= f.availability < 1


def effective_max_eta(f: TorrentFacts, memory: Memory, settings: PolicySettings) -> float:
    tracker = settings.tracker_for(f.tracker_host or memory.tracker)
    if tracker is not None and tracker.maximum_eta > 0:
        return tracker.maximum_eta
    return settings.maximum_eta


def observe(f: TorrentFacts, prev: Memory | None, settings: PolicySettings, env: Env) -> Memory:
    now = env.now
    m = prev if prev is not None else Memory(first_seen=now)
    changes: dict[str, Any] = {}
    if m.first_seen <= 0:
        changes["first_seen"] = now
    if f.category == settings.category and m.prev_category != f.category:
        changes["prev_category"] = f.category
    if f.tracker_host and f.tracker_host != m.tracker:
        changes["tracker"] = f.tracker_host
    if m.in_recheck and f.category != settings.recheck_category:
        changes["in_recheck"] = False
    protected = settings.protected_tag in f.tags

    since = m.stalled_since
    if since is not None and env.unobserved > 0:
        since = min(now, since + env.unobserved)  # time qbarr could not see does not count
    if protected or not is_stalled_now(f):
        changes["stalled_since"] = None
        changes["reannounced_at"] = None
    elif since is None:
        # The stall counts from when qbarr first sees it, whatever qBittorrent says about the
        # last transfer: a first start never fails a pile of torrents without their grace.
        changes["stalled_since"] = now
    elif m.last_completed is not None and f.completed > m.last_completed:
        changes["stalled_since"] = now  # it made progress: the stall starts again now
        changes["reannounced_at"] = None
    else:
        changes["stalled_since"] = since
    changes["last_completed"] = f.completed

    # every tracker says "unregistered": the grace clock (observed time only, like the stall)
    seen = verdict(f.trackers, f.tracker_host, settings.unregistered_messages)
    since = m.unregistered_since
    if since is not None and env.unobserved > 0:
        since = min(now, since + env.unobserved)
    if seen == "unregistered":
        changes["unregistered_since"] = since if since is not None else now
    elif seen in ("ok", "error"):
        changes["unregistered_since"] = None

    max_eta = effective_max_eta(f, m, settings)
    slow_candidate = (
        f.state in ACTIVE_DL_STATES
        and not is_stalled_now(f)
        and max_eta > 0
        and not protected
        and not env.at_global_dl_limit
    )
    changes["slow_strikes"] = m.slow_strikes + 1 if slow_candidate and f.eta > max_eta else 0

    if (
        m.paused_by_qbarr
        and not f.stopped
        and not f.complete
        and (m.paused_at is None or now - m.paused_at >= PAUSE_GRACE)
    ):
        changes["paused_by_qbarr"] = False
        changes["paused_at"] = None
    return m.replace(**changes)
