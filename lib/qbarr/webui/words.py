"""Small helpers the pages use to show things; every text and format has its home elsewhere:
rule explanations in :data:`qbarr.policy.docs.RULE_DOCS`, durations and sizes in
:mod:`qbarr.units`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from qbarr import units
from qbarr.policy.docs import RULE_DOCS, SEARCH_RULE_DOCS


def rule_words(rule: str | None) -> str:
    if not rule:
        return "Not decided yet."
    return RULE_DOCS.get(rule) or SEARCH_RULE_DOCS.get(rule) or f"Rule {rule}."


def optional(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """``fmt`` for a value that may be unknown (None shows as nothing)."""
    return lambda value: "" if value is None else fmt(value)


dur = optional(units.format_duration)
elapsed = optional(units.format_elapsed)
size = optional(units.format_size)


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))
