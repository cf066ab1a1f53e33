"""The free-space plan: which downloads run, which are paused (pure).

budget = free space on qBittorrent's download disk - FreeSpace. Downloads are walked oldest
first (added_on, then hash: a stable order). A download *fits* when what it still needs
(amount_left) is less than the remaining budget; then it runs (a download qbarr paused is
resumed) and the budget shrinks by what it needs. A download that does not fit is paused
(or stays paused). Protected downloads are never paused but use the budget first. Downloads
the user stopped are ignored (they write nothing). Only downloads qbarr paused are resumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qbarr.policy.facts import DOWNLOAD_STATES, WAIT_STATES, TorrentFacts
from qbarr.policy.model import Env, Memory
from qbarr.policy.settings import PolicySettings
from qbarr.units import format_size


@dataclass(frozen=True)
class Step:
    """``pause`` (running, does not fit), ``hold`` (paused by qbarr, still does not fit) or
    ``resume``."""

    what: str
    why: str
    needs: int
    budget: int | None


def _runs(f: TorrentFacts) -> bool:
    """Will write data: downloading, stalled, fetching metadata, queued or checking."""
    return (f.state in DOWNLOAD_STATES or f.state in WAIT_STATES) and not f.complete


def plan(
    items: Mapping[str, tuple[TorrentFacts, Memory]], settings: PolicySettings, env: Env
) -> dict[str, Step]:
    """A Step for every download that must be paused, kept paused or resumed."""
    steps: dict[str, Step] = {}
    ours = {h: (f, m) for h, (f, m) in items.items() if m.paused_by_qbarr}
    if settings.free_space <= 0:
        for h, (f, _m) in ours.items():
            steps[h] = Step("resume", "FreeSpace is off", f.amount_left, None)
        return steps
    if env.free_space is None:
        for h, (f, _m) in ours.items():
            steps[h] = Step(
                "hold", "free space on the download disk is unknown", f.amount_left, None
            )
        return steps
    budget = int(env.free_space) - int(settings.free_space)
    head = f"free {format_size(env.free_space)} - FreeSpace {format_size(settings.free_space)}"
    protected = [f for f, m in items.values() if settings.protected_tag in f.tags and _runs(f)]
    for f in sorted(protected, key=lambda x: (x.added_on, x.hash)):
        budget -= f.amount_left
    order = sorted(items.values(), key=lambda fm: (fm[0].added_on, fm[0].hash))
    for f, m in order:
        if settings.protected_tag in f.tags:
            continue
        if f.complete:
            if m.paused_by_qbarr:
                steps[f.hash] = Step("resume", "complete", 0, budget)
            continue
        paused_by_us = m.paused_by_qbarr
        if not (_runs(f) or (paused_by_us and f.stopped)):
            continue  # stopped by the user, errored, ...: writes nothing
        needs = f.amount_left
        numbers = f"needs {format_size(needs)}, budget {format_size(max(budget, 0))} ({head})"
        if budget - needs > 0:
            budget -= needs
            if paused_by_us:
                steps[f.hash] = Step("resume", f"fits again: {numbers}", needs, budget + needs)
            continue
        steps[f.hash] = Step(
            "hold" if paused_by_us and f.stopped else "pause", numbers, needs, budget
        )
    return steps
