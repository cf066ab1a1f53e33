"""Parsing of the human units used in config.ini: durations and sizes.

Durations: ``90`` (seconds), ``90s``, ``15m``, ``2h``, ``7d``, ``1w``; ``-1`` is kept as -1
("off" where a key documents it). Sizes: ``500M``, ``100G``, ``1.5T`` (1024-based), a plain
number is bytes; ``-1`` or ``0`` mean "off".
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_SIZE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: str | int | float) -> float:
    """Return seconds for a duration such as ``90``, ``15m`` or ``7d``.

    Raises:
        ValueError: the text is not a duration (the message says what is accepted).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (use 90, 90s, 15m, 2h or 7d)")
    number, unit = match.groups()
    return float(number) * _SECONDS[unit.lower()]


def parse_size(value: str | int | float) -> int:
    """Return bytes for a size such as ``500M`` or ``100G`` (1024-based).

    Raises:
        ValueError: the text is not a size.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size (use bytes or 500M, 100G, 1T)")
    number, unit = match.groups()
    return int(float(number) * _BYTES[unit.lower()])


def format_duration(seconds: float) -> str:
    """Short human form of a duration: ``45s``, ``15m``, ``2h05m``, ``3d04h``."""
    seconds = int(round(seconds))
    if seconds < 0:
        return f"-{format_duration(-seconds)}"
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_elapsed(seconds: float) -> str:
    """A measured time (a cycle, a request): ``42ms``, ``2.2s``, then as :func:`format_duration`."""
    if 0 <= seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    return format_duration(seconds)


def format_size(num_bytes: float) -> str:
    """Short human form of a size: ``512B``, ``1.5G``."""
    value = float(num_bytes)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}T"
