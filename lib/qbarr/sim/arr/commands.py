"""Commands of a simulated Arr: validation, lifecycle and CommandResource JSON.

A command is `queued` when POSTed (that is what the real Arrs answer), starts
a moment later, runs for --search-duration (searches) or --command-duration
(everything else) and then completes. Every command ever received is kept
for `/sim/commands`, with the largest number of search commands that were
queued or running at the same time (what the search pacing tests check).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qbarr.sim.arr.resources import iso, span

UTC = UTC
START_DELAY = 0.05

# canonical name -> class (search | scan | other), per kind
KNOWN: dict[str, dict[str, str]] = {
    "radarr": {
        "MoviesSearch": "search",
        "MissingMoviesSearch": "search",
        "CutoffUnmetMoviesSearch": "search",
        "DownloadedMoviesScan": "scan",
        "RssSync": "other",
        "RefreshMonitoredDownloads": "other",
        "RefreshMovie": "other",
        "ApplicationCheckUpdate": "other",
    },
    "sonarr": {
        "EpisodeSearch": "search",
        "SeasonSearch": "search",
        "SeriesSearch": "search",
        "MissingEpisodeSearch": "search",
        "CutoffUnmetEpisodeSearch": "search",
        "DownloadedEpisodesScan": "scan",
        "RssSync": "other",
        "RefreshMonitoredDownloads": "other",
        "RefreshSeries": "other",
        "ApplicationCheckUpdate": "other",
    },
    "lidarr": {
        "AlbumSearch": "search",
        "ArtistSearch": "search",
        "MissingAlbumSearch": "search",
        "CutoffUnmetAlbumSearch": "search",
        "DownloadedAlbumsScan": "scan",
        "RssSync": "other",
        "RefreshMonitoredDownloads": "other",
        "RefreshArtist": "other",
        "ApplicationCheckUpdate": "other",
    },
}

INT_LISTS = ("movieIds", "episodeIds", "albumIds")
INTS = ("seriesId", "seasonNumber", "artistId")
REQUIRED: dict[str, tuple[str, ...]] = {
    "MoviesSearch": ("movieIds",),
    "EpisodeSearch": ("episodeIds",),
    "AlbumSearch": ("albumIds",),
    "SeriesSearch": ("seriesId",),
    "SeasonSearch": ("seriesId", "seasonNumber"),
    "ArtistSearch": ("artistId",),
    "DownloadedMoviesScan": ("path",),
    "DownloadedEpisodesScan": ("path",),
    "DownloadedAlbumsScan": ("path",),
}
BASE_FIELDS = (
    "name",
    "sendUpdatesToClient",
    "updateScheduledTask",
    "completionMessage",
    "requiresDiskAccess",
    "isExclusive",
    "isTypeExclusive",
    "isLongRunning",
    "lastExecutionTime",
    "lastStartTime",
    "trigger",
    "suppressMessages",
    "clientUserAgent",
    "priority",
)


class CommandError(Exception):
    """A command the Arr refuses (400) or whose effect failed."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [
            {"propertyName": "name", "errorMessage": message, "severity": "error"}
        ]


@dataclass
class Command:
    id: int
    name: str
    cls: str
    body: dict[str, Any]
    trigger: str
    queued: datetime
    user_agent: str | None
    start_at: float
    duration: float
    status: str = "queued"
    started: datetime | None = None
    ended: datetime | None = None
    end_at: float = 0.0
    message: str | None = None
    result: str = "unknown"
    exception: str | None = None
    outcome: str | None = None
    state_changed: datetime | None = None
    grabs: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "started")


def spaced(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


class SimCommands:
    """The command queue of one simulated Arr."""

    def __init__(self, kind: str, options: Any) -> None:
        self.kind = kind
        self.options = options
        self.lock = threading.Lock()
        self.all: dict[int, Command] = {}
        self.pending: dict[int, Command] = {}  # queued or started: what the runner looks at
        self.next_id = 1
        self.max_active_searches = 0
        self.max_active_manual_searches = 0  # only what clients asked for (not redownloads)
        self.max_active = 0
        self.held = False  # /sim/commands/hold: nothing starts or finishes (tests' clock)

    def validate(self, payload: Any) -> tuple[str, dict[str, Any]]:
        """(canonical name, command fields) or CommandError like the Arr's 400."""
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            raise CommandError("Command name is required")
        wanted = payload["name"].replace(" ", "").lower()
        names = {n.lower(): n for n in KNOWN[self.kind]}
        if wanted not in names:
            raise CommandError(f"Unknown command: {payload['name']}")
        name = names[wanted]
        fields = {k: v for k, v in payload.items() if k not in BASE_FIELDS}
        errors = []
        for key in REQUIRED.get(name, ()):
            if key not in fields:
                errors.append(
                    {
                        "propertyName": key,
                        "errorMessage": f"'{key}' must not be empty.",
                        "severity": "error",
                    }
                )
        for key in INT_LISTS:
            if key in fields and not (
                isinstance(fields[key], list)
                and all(isinstance(v, int) and not isinstance(v, bool) for v in fields[key])
            ):
                errors.append(
                    {
                        "propertyName": key,
                        "errorMessage": f"'{key}' must be a list of ids.",
                        "attemptedValue": fields[key],
                        "severity": "error",
                    }
                )
        for key in INTS:
            if key in fields and (
                not isinstance(fields[key], int) or isinstance(fields[key], bool)
            ):
                errors.append(
                    {
                        "propertyName": key,
                        "errorMessage": f"'{key}' must be an integer.",
                        "attemptedValue": fields[key],
                        "severity": "error",
                    }
                )
        if "path" in fields and not isinstance(fields["path"], str):
            errors.append(
                {
                    "propertyName": "path",
                    "errorMessage": "'path' must be a string.",
                    "severity": "error",
                }
            )
        if "importMode" in fields and fields["importMode"] not in ("Auto", "Move", "Copy"):
            errors.append(
                {
                    "propertyName": "importMode",
                    "errorMessage": "Unknown import mode.",
                    "attemptedValue": fields["importMode"],
                    "severity": "error",
                }
            )
        if errors:
            raise CommandError(errors[0]["errorMessage"], errors)
        return name, fields

    def create(
        self, payload: Any, trigger: str = "manual", user_agent: str | None = None
    ) -> Command:
        name, fields = self.validate(payload)
        cls = KNOWN[self.kind][name]
        duration = (
            self.options.search_duration if cls == "search" else self.options.command_duration
        )
        now = time.monotonic()
        with self.lock:
            command = Command(
                id=self.next_id,
                name=name,
                cls=cls,
                body=fields,
                trigger=trigger,
                queued=datetime.now(UTC),
                user_agent=user_agent,
                start_at=now + START_DELAY,
                duration=max(0.0, duration),
            )
            command.state_changed = command.queued
            self.all[command.id] = command
            self.pending[command.id] = command
            self.next_id += 1
            self._measure()
        return command

    def _measure(self) -> None:
        active = [c for c in self.pending.values() if c.active]
        self.max_active = max(self.max_active, len(active))
        searches = [c for c in active if c.cls == "search"]
        self.max_active_searches = max(self.max_active_searches, len(searches))
        self.max_active_manual_searches = max(
            self.max_active_manual_searches, sum(1 for c in searches if c.trigger == "manual")
        )

    def due(self, now: float) -> list[Command]:
        """Start what is due; return started commands whose run time is over."""
        ready: list[Command] = []
        with self.lock:
            if self.held:
                return ready
            for command in list(self.pending.values()):
                if command.status == "queued" and command.start_at <= now:
                    command.status = "started"
                    command.started = command.state_changed = datetime.now(UTC)
                    command.end_at = now + command.duration
                if (
                    command.status == "started"
                    and command.end_at <= now
                    and command.outcome is None
                ):
                    command.outcome = ""
                    ready.append(command)
        return ready

    def finish(
        self, command: Command, outcome: str | None = None, failed: str | None = None
    ) -> None:
        with self.lock:
            command.ended = command.state_changed = datetime.now(UTC)
            if failed:
                command.status, command.result, command.exception = "failed", "unsuccessful", failed
                command.message = f"Failed: {failed}"
            else:
                command.status, command.result = "completed", "successful"
                command.message = outcome or "Completed"
            command.outcome = outcome or failed or ""
            self.pending.pop(command.id, None)
            self._measure()

    def cancel(self, command_id: int) -> bool:
        with self.lock:
            command = self.all.get(command_id)
            if command is None or command.status != "queued":
                return False
            command.status = "cancelled"
            command.ended = command.state_changed = datetime.now(UTC)
            self.pending.pop(command_id, None)
            return True

    def visible(self) -> list[Command]:
        """What GET /command lists: active commands and recently finished ones."""
        horizon = time.time() - self.options.command_history
        with self.lock:
            return [
                c
                for c in self.all.values()
                if c.active or (c.ended is not None and c.ended.timestamp() >= horizon)
            ]

    def summary(self) -> dict[str, Any]:
        with self.lock:
            by_status: dict[str, int] = {}
            for command in self.all.values():
                by_status[command.status] = by_status.get(command.status, 0) + 1
            return {
                "total": len(self.all),
                "by_status": by_status,
                "active_searches": sum(
                    1 for c in self.all.values() if c.active and c.cls == "search"
                ),
                "max_active_searches": self.max_active_searches,
                "max_active_manual_searches": self.max_active_manual_searches,
                "max_active": self.max_active,
            }

    def resource(self, command: Command) -> dict[str, Any]:
        """The CommandResource JSON (concrete fields inside `body`, as the real Arrs send)."""
        body: dict[str, Any] = dict(command.body)
        body.update(
            {
                "sendUpdatesToClient": True,
                "updateScheduledTask": True,
                "completionMessage": "Completed",
                "requiresDiskAccess": command.cls == "scan",
                "isExclusive": False,
                "isLongRunning": False,
                "name": command.name,
                "trigger": command.trigger,
                "suppressMessages": False,
                "lastExecutionTime": None,
                "lastStartTime": iso(command.started),
            }
        )
        if self.kind != "sonarr":  # Sonarr's Command has no isTypeExclusive
            body["isTypeExclusive"] = command.cls == "scan"
        if command.user_agent:
            body["clientUserAgent"] = command.user_agent
        duration = None
        if command.started and command.ended:
            duration = span((command.ended - command.started).total_seconds())
        return {
            "id": command.id,
            "name": command.name,
            "commandName": spaced(command.name),
            "message": command.message,
            "body": body,
            "priority": "normal",
            "status": command.status,
            "result": command.result,
            "queued": iso(command.queued),
            "started": iso(command.started),
            "ended": iso(command.ended),
            "duration": duration,
            "exception": command.exception,
            "trigger": command.trigger,
            "clientUserAgent": command.user_agent,
            "stateChangeTime": iso(command.state_changed),
            "sendUpdatesToClient": True,
            "updateScheduledTask": True,
            "lastExecutionTime": None,
        }

    def record(self, command: Command) -> dict[str, Any]:
        """The /sim/commands view: what was asked, when, and what it did."""
        return {
            "id": command.id,
            "name": command.name,
            "class": command.cls,
            "body": command.body,
            "trigger": command.trigger,
            "status": command.status,
            "queued": iso(command.queued),
            "started": iso(command.started),
            "ended": iso(command.ended),
            "outcome": command.outcome,
            "exception": command.exception,
            "grabs": list(command.grabs),
            "user_agent": command.user_agent,
        }
