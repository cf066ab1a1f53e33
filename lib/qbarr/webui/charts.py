"""Small inline SVG charts for the overview page (no JavaScript, no external library).

Every label goes through ``html.escape``: rule ids come from the database.
"""

from __future__ import annotations

import html
import time
from typing import Any

PALETTE = ("#3b82f6", "#ef4444", "#10b981", "#f59e0b", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16")


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
        color = PALETTE[i % len(PALETTE)]
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
    """Grouped bars per hour: imports (green) and failures (red)."""
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
        for j, (key, color) in enumerate((("imports", "#10b981"), ("failures", "#ef4444"))):
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
