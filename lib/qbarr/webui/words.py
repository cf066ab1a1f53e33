"""Plain-word explanations of rule ids and small formatting helpers for the pages."""

from __future__ import annotations

import time

RULES: dict[str, str] = {
    "protected": "Protected by its tag: qbarr never touches it.",
    "manual-fail": (
        "Moved to the failed category by hand: removed, blocklisted and searched again."
    ),
    "manual-recheck": (
        "Moved to the recheck category by hand: rechecked, then its category restored."
    ),
    "missing-files": (
        "Its files are missing: removed from qBittorrent and searched again (no blocklist)."
    ),
    "errored": "qBittorrent reports an error: rechecked; failed after too many rechecks.",
    "wait": "Checking, moving, queued or too young: left alone for now.",
    "unwanted-files": (
        "Some files match the exclusion rules: those files are skipped; all of them means fail."
    ),
    "stalled": (
        "Stalled for longer than StalledDelay: failed (removed, blocklisted, searched again)."
    ),
    "slow": "ETA above MaximumETA for several checks in a row: failed.",
    "free-space": "Not enough free disk space for what is left: paused until space returns.",
    "import": "Complete with its files present: the Arr was told to import it (once).",
    "import-failed": "The Arr reports the import failed: blocklisted and searched again.",
    "seeding-done": "Seeding limits and tracker obligations met: removed or paused as configured.",
    "ok": "Nothing to do.",
}

FAIL_RULES = frozenset({"manual-fail", "missing-files", "stalled", "slow", "import-failed"})
IMPORT_RULES = frozenset({"import"})


def rule_words(rule: str | None) -> str:
    if not rule:
        return "Not decided yet."
    from qbarr.policy.docs import RULE_DOCS  # rules added since this table (bad-media ...)

    return RULES.get(rule) or RULE_DOCS.get(rule) or f"Rule {rule}."


def age(ts: float | None, now: float | None = None) -> str:
    """``3m 20s ago`` style text for a past Unix time ('' when unknown)."""
    if ts is None:
        return ""
    return duration(max(0.0, (now if now is not None else time.time()) - float(ts)))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def size(n: float | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))
