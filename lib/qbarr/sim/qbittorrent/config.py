"""Simulator settings: which qBittorrent it pretends to be, credentials, time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ApiMode:
    """One qBittorrent release line as seen through the WebUI API."""

    name: str
    app: str
    webapi: str

    @property
    def webapi_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.webapi.split("."))

    @property
    def v5(self) -> bool:
        """stop/start instead of pause/resume; stopped* states; `stopped` add param."""
        return self.webapi_tuple >= (2, 11, 0)

    @property
    def modern_auth(self) -> bool:
        """5.2 (WebAPI >= 2.14): login 204/401, cookie QBT_SID_<port>, API keys,
        JSON torrents/add result, 204 for empty answers, 'Endpoint does not exist'."""
        return self.webapi_tuple >= (2, 14, 0)

    @property
    def sync_tracks_changes(self) -> bool:
        """4.6+: sync/maindata serializes only what changed (before: every torrent, always)."""
        return self.webapi_tuple >= (2, 9, 0)

    @property
    def needs_inactive_limit(self) -> bool:
        return self.webapi_tuple >= (2, 9, 2)

    @property
    def needs_share_limit_action(self) -> bool:
        return self.webapi_tuple >= (2, 12, 0)


MODES = {
    "4": ApiMode("4", "v4.5.2", "2.8.19"),
    "4.6": ApiMode("4.6", "v4.6.7", "2.9.3"),
    "5.0": ApiMode("5.0", "v5.0.5", "2.11.2"),
    "5.1": ApiMode("5.1", "v5.1.4", "2.11.4"),
    "5.2": ApiMode("5.2", "v5.2.3", "2.15.1"),
}
ALIASES = {"4.5": "4", "5": "5.1"}


def api_mode(name: str) -> ApiMode:
    """'4' | '4.5' | '4.6' | '5' | '5.0' | '5.1' | '5.2' -> ApiMode (ValueError otherwise)."""
    key = ALIASES.get(str(name), str(name))
    if key not in MODES:
        raise ValueError(f"unknown --api {name!r}; use one of 4, 4.6, 5.0, 5.1, 5.2")
    return MODES[key]


@dataclass
class SimConfig:
    """Everything the simulator needs to start; the CLI and tests build one."""

    api: ApiMode = field(default_factory=lambda: MODES["4"])
    username: str = "admin"
    password: str = "adminadmin"
    api_key: str = ""  # 5.2 mode only: accepted as "Authorization: Bearer <key>"
    port: int = 0  # used for the 5.2 cookie name QBT_SID_<port>
    save_path: str = "/downloads"
    free_space: int = 500 * 1024**3
    time_scale: float = 1.0
    refresh_ms: int = 1500  # like qBittorrent's refresh_interval: state lags by this
    counter_interval: float = 1800.0  # sim s between counter refreshes (a tracker announce)
    session_timeout: float = 3600.0
    ban_after: int = 0  # failed logins before 403 (0 = never, like the test harness)
    seed: int = 0
    gzip: bool = True
    serialize_us: float = 0.0  # CPU microseconds burnt per torrent serialized (cost.py)


class Clock:
    """Simulated wall-clock: real time since start times `scale`, plus jumps."""

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._scale = float(scale)
        self._real0 = time.monotonic()
        self._sim0 = time.time() if start is None else float(start)

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        with self._lock:
            return self._sim0 + (time.monotonic() - self._real0) * self._scale

    def advance(self, seconds: float) -> None:
        """Jump forward (never backwards: torrents' counters only grow)."""
        with self._lock:
            self._sim0 += max(0.0, float(seconds))

    def set_scale(self, scale: float) -> None:
        with self._lock:
            now_real = time.monotonic()
            self._sim0 += (now_real - self._real0) * self._scale
            self._real0, self._scale = now_real, max(0.0, float(scale))
