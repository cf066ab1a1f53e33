"""Small inline SVG charts for the overview page (no JavaScript, no external library).

Every label goes through ``html.escape``: rule ids come from the database.
"""

from __future__ import annotations

import html
import time
from typing import Any

from qbarr.policy.docs import RULE_TONE

# One colour per tone (qbarr.policy.docs.RULE_TONE), the same as style.css's --good/--bad...
TONE_COLOURS = {"good": "#10b981", "bad": "#ef4444", "warn": "#f59e0b", "neutral": "#3b82f6"}


def rule_bars(counts: dict[str, int], width: int = 520) -> str:
    """Horizontal bars: decisions per rule over the last 24 h."""
    if not counts:
        return '<p class="muted">No decisions in the last 24 hours.</p>'
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = max(n for _, n in items) or 1
    row, label_w, bar_w = 22, 140, width - 200
    parts = [
        f'<svg class="chart" role="img" aria-label="decisions per rule, last 24 hours" '
        f'width="{width}" height="{row * len(items) + 6}" '
        f'viewBox="0 0 {width} {row * len(items) + 6}">'
    ]
    for i, (rule, n) in enumerate(items):
        y = i * row + 3
        w = max(1, round(bar_w * n / top))
        color = TONE_COLOURS[RULE_TONE.get(rule, "neutral")]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{html.escape(rule)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{row - 6}" fill="{color}">'
            f"<title>{html.escape(rule)}: {n}</title></rect>"
        )
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 15}">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hourly_bars(hours: list[dict[str, Any]], width: int = 520, height: int = 140) -> str:
    """Grouped bars per hour: imports (the good colour) and failures (the bad one)."""
    top = max([max(h["imports"], h["failures"]) for h in hours] + [1])
    plot_h = height - 24
    slot = width / max(1, len(hours))
    bar = max(1.0, slot / 2 - 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="imports and failures per hour" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f'<line x1="0" y1="{plot_h}" x2="{width}" y2="{plot_h}" stroke="#999"/>',
    ]
    for i, h in enumerate(hours):
        x = i * slot
        label = time.strftime("%H:00", time.localtime(h["hour"]))
        bars = (("imports", TONE_COLOURS["good"]), ("failures", TONE_COLOURS["bad"]))
        for j, (key, color) in enumerate(bars):
            value = h[key]
            bh = plot_h * value / top
            parts.append(
                f'<rect x="{x + j * bar:.1f}" y="{plot_h - bh:.1f}" '
                f'width="{bar:.1f}" height="{bh:.1f}" '
                f'fill="{color}"><title>{label} {key}: {value}</title></rect>'
            )
        if i % 4 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" class="axis">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
