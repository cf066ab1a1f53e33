"""Seeding limits and hit-and-run obligations (pure).

Limits: a tracker's own limit (> 0) overrides the instance's SeedingMode; 0 means "no
limit", and a limit that does not exist is never reached. RemoveMode combines them.

Obligations (trackers with ``HitAndRun = true``): a torrent downloaded to less than
MinDownloadPercent carries none; a partial download (not complete) clears it at
PartialSeedRatio; a complete one at MinSeedRatio and/or MinSeedDays (HitAndRunMode
and / or; a 0 requirement does not count). A private torrent whose tracker qbarr has never
learnt is treated as obligated while any hit-and-run tracker is configured: fail safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from qbarr.policy.facts import TorrentFacts
from qbarr.policy.settings import PolicySettings, TrackerRule
from qbarr.units import format_duration

DAY = 86400.0


@dataclass(frozen=True)
class Limits:
    ratio: float
    seeding_time: float
    source: str  # "SeedingMode" or "tracker <name>"


@dataclass(frozen=True)
class Obligation:
    """``met`` False = the torrent must not be deleted yet; ``why`` says what is missing."""

    met: bool
    why: str
    tracker: TrackerRule | None = None


def limits_for(settings: PolicySettings, tracker: TrackerRule | None) -> Limits:
    ratio, seconds, source = settings.max_ratio, settings.max_seeding_time, "SeedingMode"
    if tracker is not None and tracker.max_ratio > 0:
        ratio, source = tracker.max_ratio, f"tracker {tracker.name}"
    if tracker is not None and tracker.max_seeding_time > 0:
        seconds, source = tracker.max_seeding_time, f"tracker {tracker.name}"
    return Limits(ratio=ratio, seeding_time=seconds, source=source)


def seeding_done(facts: TorrentFacts, settings: PolicySettings, limits: Limits) -> tuple[bool, str]:
    """Whether RemoveMode says the seeding is over, and the numbers behind it."""
    ratio_met = limits.ratio > 0 and facts.ratio >= limits.ratio
    time_met = limits.seeding_time > 0 and facts.seeding_time >= limits.seeding_time
    ratio_text = (
        f"ratio {facts.ratio:.2f}/{limits.ratio:g}"
        if limits.ratio > 0
        else f"ratio {facts.ratio:.2f} (no ratio limit)"
    )
    time_text = (
        f"seeded {format_duration(facts.seeding_time)}/{format_duration(limits.seeding_time)}"
        if limits.seeding_time > 0
        else f"seeded {format_duration(facts.seeding_time)} (no time limit)"
    )
    mode = settings.remove_mode
    done = {
        "never": False,
        "ratio": ratio_met,
        "time": time_met,
        "either": ratio_met or time_met,
        "both": ratio_met and time_met,
    }[mode]
    return done, f"{ratio_text}, {time_text}, RemoveMode {mode} ({limits.source})"


def obligation(
    facts: TorrentFacts, settings: PolicySettings, tracker: TrackerRule | None, tracker_known: bool
) -> Obligation:
    """Is the hit-and-run obligation of this torrent met (may it be deleted)?"""
    if tracker is None or not tracker.hit_and_run:
        if not tracker_known and facts.private and settings.any_hit_and_run:
            return Obligation(
                False, "private torrent whose tracker is not known yet: kept to be safe"
            )
        return Obligation(True, "no hit-and-run rule")
    pct = facts.progress * 100.0
    if pct < tracker.min_download_percent:
        return Obligation(
            True,
            f"downloaded {pct:.1f}% < MinDownloadPercent {tracker.min_download_percent:g}%: "
            f"no obligation",
            tracker,
        )
    if facts.progress < 0.9999:
        ok = facts.ratio >= tracker.partial_seed_ratio
        return Obligation(
            ok,
            f"partial download ({pct:.1f}%): ratio {facts.ratio:.2f} "
            f"{'>=' if ok else '<'} PartialSeedRatio {tracker.partial_seed_ratio:g}",
            tracker,
        )
    checks: list[tuple[bool, str]] = []
    if tracker.min_seed_ratio > 0:
        ok = facts.ratio >= tracker.min_seed_ratio
        checks.append(
            (
                ok,
                f"ratio {facts.ratio:.2f} {'>=' if ok else '<'} "
                f"MinSeedRatio {tracker.min_seed_ratio:g}",
            )
        )
    if tracker.min_seed_days > 0:
        need = tracker.min_seed_days * DAY
        ok = facts.seeding_time >= need
        checks.append(
            (
                ok,
                f"seeded {format_duration(facts.seeding_time)} {'>=' if ok else '<'} "
                f"MinSeedDays {tracker.min_seed_days:g}d",
            )
        )
    if not checks:
        return Obligation(True, "hit-and-run tracker without requirements", tracker)
    met = any(ok for ok, _ in checks) if tracker.hnr_mode == "or" else all(ok for ok, _ in checks)
    joined = f" {tracker.hnr_mode} ".join(text for _, text in checks)
    return Obligation(met, f"{tracker.name}: {joined}", tracker)
