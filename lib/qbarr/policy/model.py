"""The values the policy reads and returns: memory, environment, queue view, actions, decisions.

Everything here is a plain, immutable value so ``decide()`` stays a pure function: the
same inputs always give the same decisions, which is what makes the policy testable
without qBittorrent or an Arr and lets the journal explain every decision later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Memory fields that record what qbarr *did* (effects). In dry run the journal keeps the
# previous values of these, so switching dry run off later still performs the real actions.
EFFECT_FIELDS = (
    "rechecks",
    "last_recheck_at",
    "import_sent_at",
    "failed_at",
    "paused_by_qbarr",
    "paused_at",
    "pauses",
    "manual_rechecks",
    "in_recheck",
    "researched_at",
    "prio0_digest",
    "reannounced_at",
)


@dataclass(frozen=True)
class Memory:
    """What qbarr remembers about one torrent between cycles (persisted: survives restarts).

    Observation timers (``first_seen``, ``stalled_since``, ``last_completed``,
    ``slow_strikes``, ``tracker``, ``prev_category``) are updated from what qBittorrent
    shows; effect fields (:data:`EFFECT_FIELDS`) record the actions qbarr planned.
    """

    first_seen: float = 0.0
    stalled_since: float | None = None
    last_completed: int | None = None
    slow_strikes: int = 0
    rechecks: int = 0
    last_recheck_at: float | None = None
    import_sent_at: float | None = None
    failed_at: float | None = None
    paused_by_qbarr: bool = False
    paused_at: float | None = None
    pauses: int = 0
    prev_category: str | None = None
    manual_rechecks: int = 0
    in_recheck: bool = False
    researched_at: float | None = None
    prio0_digest: str | None = None
    tracker: str | None = None
    unregistered_since: float | None = None  # every tracker says "unregistered" since
    reannounced_at: float | None = None  # ReannounceStalled: this stall was reannounced

    def replace(self, **changes: Any) -> Memory:
        """A copy with some fields changed (``self`` when nothing changes; fast: no
        re-validation)."""
        changes = {
            k: v
            for k, v in changes.items()
            if getattr(self, k) != v or type(getattr(self, k)) is not type(v)
        }
        if not changes:
            return self
        unknown = set(changes) - _MEMORY_FIELDS
        if unknown:
            raise TypeError(f"Memory has no field(s) {sorted(unknown)}")
        new = object.__new__(Memory)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Memory:
        """Build from a mapping, ignoring unknown keys and keeping defaults for missing ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        clean = {k: v for k, v in data.items() if k in names and v is not None}
        if "paused_by_qbarr" in clean:
            clean["paused_by_qbarr"] = bool(clean["paused_by_qbarr"])
        if "in_recheck" in clean:
            clean["in_recheck"] = bool(clean["in_recheck"])
        return cls(**clean)

    def keep_effects_of(self, previous: Memory) -> Memory:
        """This memory with the effect fields of ``previous`` (used in dry run)."""
        return self.replace(**{name: getattr(previous, name) for name in EFFECT_FIELDS})


_MEMORY_FIELDS = frozenset(f.name for f in dataclasses.fields(Memory))


@dataclass(frozen=True)
class MediaCheck:
    """The ffprobe check of one complete torrent's media files, as the loop knows it now.

    ``status``: ``pending`` (probes queued or running), ``ok`` (every file readable), ``bad``
    (``detail`` names the file and carries ffprobe's own error line), ``unchecked`` (could not
    be checked: ffprobe missing, the files not visible to qbarr, a probe timed out; ``detail``
    says which, and the import goes ahead). ``files`` / ``checked`` count the media files.
    """

    status: str
    detail: str = ""
    files: int = 0
    checked: int = 0


NO_MEDIA: Mapping[str, MediaCheck] = MappingProxyType({})


@dataclass(frozen=True)
class Env:
    """Facts about the world outside one torrent, measured by the loop (``now`` included).

    ``free_space``: bytes free on qBittorrent's download disk (``server_state.free_space_on_disk``),
    ``None`` when unknown. ``at_global_dl_limit``: qBittorrent is downloading at its global
    (or alternative) rate limit, so ETAs say nothing about the swarm. ``content_paths_shared``:
    hashes whose content path is shared with another torrent in qBittorrent (any category), see
    :func:`qbarr.policy.shared_content`. ``content_missing``: hashes whose content path the loop
    looked for on disk and did not find (leave empty when qbarr cannot see qBittorrent's disk).
    ``media``: the media checks (``VerifyMedia``) the loop has for complete torrents, by hash.
    ``unobserved``: seconds since the previous observation during which qbarr could not see
    qBittorrent (unreachable, or the manager not running): they do not count on the
    torrents' clocks. ``arr_reachable``: False while the Arr does not answer: the queue is the
    last one read (or empty), and nothing that needs the Arr is decided.
    """

    now: float
    free_space: int | None = None
    at_global_dl_limit: bool = False
    content_paths_shared: frozenset[str] = frozenset()
    content_missing: frozenset[str] = frozenset()
    media: Mapping[str, MediaCheck] = field(default_factory=lambda: NO_MEDIA)
    unobserved: float = 0.0
    arr_reachable: bool = True


@dataclass(frozen=True)
class QueueView:
    """What the policy needs from the Arr queue records of one download.

    A Sonarr season pack has one queue record per episode, all with the same download id;
    they are merged here: ``ids`` are every record id, ``media`` every record's media ids.
    Built with :meth:`from_items` from any objects shaped like ``qbarr.arr.QueueItem``
    (the policy does not import the Arr client).
    """

    ids: tuple[int, ...]
    tracked_state: str | None = None
    tracked_status: str | None = None
    status: str = ""
    title: str = ""
    media: tuple[Mapping[str, Any], ...] = ()
    output_path: str | None = None

    @classmethod
    def from_items(cls, items: Iterable[Any]) -> QueueView:
        items = sorted(items, key=lambda i: int(i.id))
        if not items:
            raise ValueError("a queue view needs at least one queue item")
        states = [getattr(i, "tracked_state", None) for i in items]
        statuses = [getattr(i, "tracked_status", None) for i in items]
        return cls(
            ids=tuple(int(i.id) for i in items),
            tracked_state=_worst(states, _STATE_RANK),
            tracked_status=_worst(statuses, _STATUS_RANK),
            status=str(getattr(items[0], "status", "") or ""),
            title=str(getattr(items[0], "title", "") or ""),
            media=tuple(dict(getattr(i, "media", {}) or {}) for i in items),
            output_path=getattr(items[0], "output_path", None),
        )


# When the records of one download disagree, the most alarming state wins.
_STATE_RANK = {
    "downloadFailed": 9,
    "failed": 9,
    "importFailed": 8,
    "downloadFailedPending": 7,
    "failedPending": 7,
    "importBlocked": 5,
    "importing": 4,
    "importPending": 3,
    "downloading": 2,
    "imported": 1,
    "ignored": 0,
}
_STATUS_RANK = {"error": 2, "warning": 1, "ok": 0}


def _worst(values: list[str | None], rank: Mapping[str, int]) -> str | None:
    known = [v for v in values if v]
    if not known:
        return None
    return max(known, key=lambda v: (rank.get(v, -1), v))


def group_queue(items: Iterable[Any]) -> dict[str, QueueView]:
    """Arr queue items -> {lower-case hash: QueueView}; items without a download id are left out."""
    by_hash: dict[str, list[Any]] = {}
    for item in items:
        download_id = str(getattr(item, "download_id", "") or "").lower()
        if download_id:
            by_hash.setdefault(download_id, []).append(item)
    return {h: QueueView.from_items(group) for h, group in by_hash.items()}


@dataclass(frozen=True)
class Action:
    """One thing to do. ``key`` makes it idempotent: a key is planned at most once, ever.

    ``destructive`` marks what cannot be undone (deleting a torrent, blocklisting a
    release): the brake holds these.
    """

    kind: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    destructive: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "params": dict(self.params),
            "destructive": self.destructive,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of the rules for one torrent in one cycle.

    ``rule`` is an id from :data:`qbarr.policy.RULES`; ``code`` a short stable class of the
    reason inside that rule (e.g. ``grace`` vs ``fail`` for stalled): the journal writes a new
    decision row only when ``(rule, code)`` changes or new actions appear, so it stays readable.
    """

    hash: str
    name: str
    rule: str
    code: str
    reason: str
    inputs: Mapping[str, Any]
    actions: tuple[Action, ...]
    memory: Memory
