"""What the reader asks qBittorrent, and how often: pure decisions, no I/O.

Two strategies, by version (see docs/performance.md for the figures):

- **qBittorrent 4.6 and later** (WebAPI >= 2.9): one ``sync/maindata?rid=N`` per tick. Since
  4.6 qBittorrent tracks changes, so a poll costs what changed (``{"rid":N}`` when nothing
  did).
- **Before 4.6**: every ``sync/maindata`` serializes every torrent (0.3 s of qBittorrent's CPU
  per call at 2,000 torrents, even for ``{"rid":N}``), so the reader asks only for sets whose
  size follows what moves, in three tiers:

  ``hot`` (every tick, ``LoopInterval / 2``): ``torrents/info?filter=active`` (downloads in
  progress, metadata, moving, seeds uploading: what moves), and by ``hashes=`` every torrent
  that left the hot or warm set since the last look plus the torrents qbarr acted on in the
  last 2 x ``IdlePollInterval`` (to see them complete, pause, fail or disappear). An idle
  library costs one request that serializes nothing.

  ``warm`` (every ``LoopInterval`` while anything can change a decision soon, every
  ``IdlePollInterval`` otherwise): ``filter=downloading`` (every unfinished torrent, stalled,
  paused and queued ones too), ``filter=errored``, ``filter=checking``, the
  ``FailedCategory`` and ``RecheckCategory`` (a user's request) and ``transfer/info``.

  ``full`` (every ``FULL_EVERY`` x ``IdlePollInterval``, at start, and at the warm pace when
  ``[Settings] FreeSpace`` is on, because only a full ``sync/maindata`` carries
  ``free_space_on_disk`` before 4.6): ``sync/maindata?rid=0``, everything.

**Pace.** "Anything can change a decision soon" (:func:`pace`): a torrent of a managed
category is downloading, fetching metadata, moving or being checked; a torrent sits in
``FailedCategory`` / ``RecheckCategory``; a torrent is younger than the largest
``IgnoreYoungerThan``; or a manager acted on a torrent recently. Otherwise the library is
only seeding (or waiting) and the warm tier backs off to ``IdlePollInterval``.

Worst case of completion -> scan command: a download that was seen active at least once is
watched by the hot tier, so its completion is published within one tick
(``LoopInterval / 2``) plus qBittorrent's own refresh interval, and a manager decides on its
next cycle: under 2 x ``LoopInterval``. Only a torrent that went from stalled, paused or
queued straight to complete between two hot ticks waits for the warm tier, and so does a new
unfinished torrent that never shows up active (added stalled or paused): then
``IdlePollInterval`` + ``LoopInterval`` at most. A torrent added already complete (its data
already on disk) is first seen by the full refresh: ``FULL_EVERY`` x ``IdlePollInterval``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qbarr.qbittorrent import states

FULL_EVERY = 10  # a full refresh every 10 x IdlePollInterval (5 min by default)
HOT_PER_LOOP = 2  # hot ticks per LoopInterval: a publication lands within half a cycle

# A torrent in one of these states can change its decision within seconds.
MOVING = (
    frozenset({"downloading", "forcedDL", "moving", "allocating"})
    | states.METADATA
    | states.CHECKING
)
# What qBittorrent's "active" filter matches, as far as a state tells (4.5 torrentimpl.cpp);
# "stalledDL while uploading" is left to the warm tier.
ACTIVE = frozenset({"downloading", "forcedDL", "uploading", "forcedUP", "moving"}) | (
    states.METADATA
)
WARM = states.DOWNLOADING | states.ERRORED


@dataclass(frozen=True)
class PlanSettings:
    """What the reader needs from config.ini (the same for every manager of one qBittorrent)."""

    loop: float = 2.0  # [Settings] LoopInterval
    idle: float = 30.0  # [qBittorrent] IdlePollInterval
    categories: frozenset[str] = frozenset()  # every managed instance's Category
    instances: frozenset[str] = frozenset()  # their section names (the journal's key)
    failed: str = "failed"
    recheck: str = "recheck"
    young: float = 180.0  # the largest IgnoreYoungerThan
    free_space: bool = False  # [Settings] FreeSpace is on

    @property
    def tick(self) -> float:
        return self.loop / HOT_PER_LOOP

    @classmethod
    def from_config(cls, cfg: Any) -> PlanSettings:
        s, q = cfg.settings, cfg.qbittorrent
        return cls(
            loop=float(s["LoopInterval"]),
            idle=max(float(q["IdlePollInterval"]), float(s["LoopInterval"])),
            categories=frozenset(i.category for i in cfg.instances),
            instances=frozenset(i.name for i in cfg.instances),
            failed=str(s["FailedCategory"]),
            recheck=str(s["RecheckCategory"]),
            young=max(
                (float(i.section["Torrent"]["IgnoreYoungerThan"]) for i in cfg.instances),
                default=0.0,
            ),
            free_space=int(s.get("FreeSpace", -1)) > 0,
        )


@dataclass(frozen=True, slots=True)
class Seen:
    """What the reader remembers of a torrent: enough to pace and to spot changes (one per
    torrent for the reader's lifetime: slots, and interned state and category strings)."""

    digest: int
    state: str
    category: str
    added_on: float


def pace(
    torrents: Mapping[str, Seen], settings: PlanSettings, now: float, acted_recently: bool
) -> tuple[bool, str]:
    """(fast, why): fast while anything can change a decision soon (module docstring)."""
    if acted_recently:
        return True, "actions in progress"
    young_since = now - settings.young
    for t in torrents.values():
        if t.category in (settings.failed, settings.recheck):
            return True, f"a torrent in {t.category}"
        if t.category not in settings.categories:
            continue
        if t.state in MOVING:
            return True, f"a torrent {t.state}"
        if t.added_on > young_since:
            return True, "a young torrent"
    return False, "only seeding or waiting"


@dataclass
class Schedule:
    """When each tier of the list strategy is due next (times from the reader's clock)."""

    full_at: float = 0.0
    warm_at: float = 0.0

    def due(self, now: float) -> tuple[bool, bool]:
        """(full, warm) for a tick at ``now``; a full refresh covers the warm tier too."""
        full = now >= self.full_at
        return full, full or now >= self.warm_at

    def done(self, now: float, full: bool, warm: bool, fast: bool, settings: PlanSettings) -> None:
        warm_every = settings.loop if fast else settings.idle
        if full:
            full_every = warm_every if settings.free_space else settings.idle * FULL_EVERY
            self.full_at = now + full_every
        if full or warm:
            self.warm_at = now + warm_every


@dataclass(frozen=True)
class Query:
    """One torrents/info call: its parameters (None = not sent)."""

    filter: str | None = None
    category: str | None = None
    hashes: tuple[str, ...] | None = None


@dataclass
class Tiers:
    """The list strategy's sets: which hashes the hot and warm queries returned last time."""

    hot: set[str] = field(default_factory=set)
    warm: set[str] = field(default_factory=set)

    @staticmethod
    def hot_queries() -> list[Query]:
        return [Query(filter="active")]

    @staticmethod
    def warm_queries(settings: PlanSettings) -> list[Query]:
        queries = [Query(filter=f) for f in ("downloading", "errored", "checking")]
        return queries + [Query(category=c) for c in sorted({settings.failed, settings.recheck})]

    def followups(
        self, hot: set[str], warm: set[str] | None, acted: Iterable[str]
    ) -> tuple[str, ...]:
        """Hashes to look up one by one: those that left a set (where did they go?) and those
        qbarr acted on recently; then remember the new sets."""
        gone = self.hot - hot
        if warm is not None:
            gone |= self.warm - warm
            self.warm = set(warm)
        self.hot = set(hot)
        return tuple(sorted((gone | set(acted)) - hot - (warm or set())))

    def reset_from(self, torrents: Mapping[str, Seen], settings: PlanSettings) -> None:
        """After a full refresh: the sets as the hot and warm queries would return them."""
        manual = (settings.failed, settings.recheck)
        self.hot = {h for h, t in torrents.items() if t.state in ACTIVE}
        self.warm = {
            h
            for h, t in torrents.items()
            if t.state in WARM or t.state in states.CHECKING or t.category in manual
        }


def tracks_changes(webapi: tuple[int, ...]) -> bool:
    """qBittorrent 4.6+ (WebAPI 2.9): sync/maindata costs what changed, not every torrent."""
    return webapi >= (2, 9, 0)
