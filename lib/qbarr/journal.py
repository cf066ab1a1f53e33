"""The decision and action journal of one Arr manager, and the per-torrent memory.

One ``record()`` per cycle writes, in ONE ``BEGIN IMMEDIATE`` transaction: the torrents'
memory rows (only those that changed), a decision row when a torrent's rule or reason class
changed or it got new actions, and the planned actions with ``INSERT OR IGNORE`` on
``(instance, key)``, so a key is planned at most once, ever. The executor then marks each
action ``sending`` -> ``done`` / ``unknown`` / ``waiting`` / ``failed``; ``pending()``
returns what is left, including what a crash left behind. No network call ever happens
while a transaction is open.

Action statuses:

- ``planned``: to do;
- ``sending``: started (``first_sent_at`` is set the first time); the outcome is unknown
  if we crash now;
- ``done``;
- ``unknown``: sent, but the answer was lost (timeout, connection lost after sending, 5xx):
  the remote may have carried it out, so it is looked up before it is sent again;
- ``waiting``: the remote could not be reached (it did not get it), or the look-up could
  not be made: retried with back-off for as long as it takes, never given up;
- ``failed``: the remote refused it (4xx ...): retried with back-off; final only once it
  was refused ``MAX_ATTEMPTS`` times (``refusals``) and its torrent has left qBittorrent
  (nothing is abandoned while its torrent exists);
- ``held``: the brake holds it until released;
- ``skipped``: dry run, no longer wanted, torrent gone (qBittorrent actions only).

``unknown``, ``waiting`` and ``failed`` wait ``RETRY.delay(attempts)`` after their last try.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qbarr.backoff import Backoff
from qbarr.db import Database, inserted_id, rows, write_txn
from qbarr.policy.model import Decision, Memory
from qbarr.retention import MAX_ATTEMPTS as MAX_ATTEMPTS  # the journal's rule, kept there

RETRY = Backoff(base=10.0, cap=300.0)  # after a failed attempt: 10 s, 20 s, 40 s ... 5 min
DRY_PREFIX = "dry:"
STATUSES = ("planned", "sending", "done", "unknown", "waiting", "failed", "held", "skipped")
RETRYING = ("unknown", "waiting", "failed")  # wait RETRY.delay(attempts) between tries
# The action's torrent has left qBittorrent (the manager marked it gone).
_GONE = (
    "EXISTS (SELECT 1 FROM torrents t WHERE t.instance = actions.instance "
    "AND t.hash = actions.hash AND t.gone_at IS NOT NULL)"
)
# Not finished: to be carried out (some after their back-off), or held by the brake. A
# refused action ends only once it was refused MAX_ATTEMPTS times AND its torrent is gone.
_OPEN = (
    "(status IN ('planned', 'sending', 'unknown', 'waiting'{held}) "
    f"OR (status = 'failed' AND (refusals < ? OR NOT {_GONE})))"
)
# Actions on the torrent itself: pointless once qBittorrent no longer has it.
QBT_KINDS = frozenset({"delete", "pause", "resume", "recheck", "set_category", "file_prio"})

# Memory fields with their own column in ``torrents``; the others live in its JSON ``memory``.
MEMORY_COLUMNS = (
    "first_seen",
    "stalled_since",
    "slow_strikes",
    "rechecks",
    "import_sent_at",
    "failed_at",
    "paused_by_qbarr",
    "prev_category",
)
_CHUNK = 400


@dataclass(frozen=True)
class ActionRow:
    """One row of the action journal."""

    id: int
    decision_id: int | None
    instance: str
    hash: str
    kind: str
    key: str
    params: Mapping[str, Any]
    destructive: bool
    status: str
    attempts: int
    result: str | None
    created_at: float
    updated_at: float
    released_at: float | None = None
    first_sent_at: float | None = None
    refusals: int = 0

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> ActionRow:
        return cls(
            id=r["id"],
            decision_id=r["decision_id"],
            instance=r["instance"],
            hash=r["hash"],
            kind=r["kind"],
            key=r["key"],
            params=json.loads(r["params"] or "{}"),
            destructive=bool(r["destructive"]),
            status=r["status"],
            attempts=r["attempts"],
            result=r["result"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            released_at=r.get("released_at"),
            first_sent_at=r.get("first_sent_at"),
            refusals=int(r.get("refusals") or 0),
        )

    @property
    def dry(self) -> bool:
        return self.key.startswith(DRY_PREFIX)

    @property
    def maybe_sent(self) -> bool:
        """Whether an earlier try may have reached the remote (then look before resending)."""
        return (
            self.first_sent_at is not None
            or self.status in ("sending", "unknown")
            or self.attempts > 0
        )

    @property
    def sent_since(self) -> float:
        """When the first try started (rows from before first_sent_at: when planned)."""
        return self.first_sent_at if self.first_sent_at is not None else self.created_at


def _memory_from_row(r: Mapping[str, Any]) -> Memory:
    data: dict[str, Any] = json.loads(r.get("memory") or "{}")
    for name in MEMORY_COLUMNS:
        data[name] = r.get(name)
    return Memory.from_dict(data)


def _split_memory(m: Memory) -> tuple[dict[str, Any], str]:
    data = m.to_dict()
    columns = {name: data.pop(name) for name in MEMORY_COLUMNS}
    columns["paused_by_qbarr"] = int(bool(columns["paused_by_qbarr"]))
    return columns, json.dumps({k: v for k, v in data.items() if v is not None}, sort_keys=True)


_TORRENT_COLUMNS = (
    "name",
    *MEMORY_COLUMNS,
    "memory",
    "last_rule",
    "last_code",
    "last_reason",
    "state",
    "progress",
    "ratio",
    "seeding_time",
    "size",
    "category",
    "tags",
    "added_on",
)


class Journal:
    """Journal and memory of one instance, on its own connection (one per process)."""

    def __init__(self, db: Database, instance: str, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.db = db
        self.instance = instance
        self.max_attempts = max_attempts
        self._memory: dict[str, Memory] = {}
        self._written: dict[
            str, tuple[Memory, tuple[Any, ...]]
        ] = {}  # (memory, shown) last written
        self._last: dict[str, tuple[str | None, str | None]] = {}
        self._loaded = False
        # Called inside the transaction that marks actions ``sending``: raises when this copy
        # no longer owns the instance (qbarr.lease.Lease.check), so that nothing is sent.
        self.fence: Callable[[Database], None] | None = None

    # -- memory -------------------------------------------------------------

    def load_memory(self) -> dict[str, Memory]:
        """Every torrent's persisted memory for this instance (gone torrents included)."""
        found = rows(self.db, "SELECT * FROM torrents WHERE instance = ?", (self.instance,))
        self._memory = {r["hash"]: _memory_from_row(r) for r in found}
        self._last = {r["hash"]: (r["last_rule"], r["last_code"]) for r in found}
        self._written = {}
        self._loaded = True
        return dict(self._memory)

    def memory(self) -> dict[str, Memory]:
        """The memory as persisted by the last ``record`` (use it as next cycle's input: in dry
        run it differs from the decisions' memory, whose effects were not carried out)."""
        self._ensure_loaded()
        return dict(self._memory)

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.load_memory()

    # -- record -------------------------------------------------------------

    def record(
        self,
        decisions: Sequence[Decision],
        now: float,
        dry_run: bool,
        torrents: Mapping[str, Mapping[str, Any]] | None = None,
        observed: bool = False,
    ) -> list[int]:
        """Write one cycle's decisions and planned actions in one transaction; returns new
        action ids.

        In dry run the action keys get the ``dry:`` prefix (so the real actions are planned
        afresh once dry run is off) and memory fields that record qbarr's own effects keep
        their previous values. ``observed``: these decisions come from a full look at
        qBittorrent at ``now``; remembered as :meth:`observed_at` in the same transaction.
        """
        self._ensure_loaded()
        torrents = {h.lower(): t for h, t in (torrents or {}).items()}
        prefix = DRY_PREFIX if dry_run else ""
        keys = [prefix + a.key for d in decisions for a in d.actions]
        planned: list[int] = []
        new_memory: dict[str, Memory] = {}
        with write_txn(self.db):
            if observed:
                self.db.execute(
                    "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    (self._observed_key, json.dumps(now), now),
                )
            existing = self._existing_keys(keys)
            for d in decisions:
                mem = d.memory
                if dry_run:
                    mem = mem.keep_effects_of(
                        self._memory.get(d.hash, Memory(first_seen=mem.first_seen))
                    )
                new_memory[d.hash] = mem
                self._upsert_torrent(d, mem, torrents.get(d.hash), now)
                fresh = [a for a in d.actions if prefix + a.key not in existing]
                if not fresh and self._last.get(d.hash) == (d.rule, d.code):
                    continue
                decision_id = self._insert_decision(d, now, dry_run)
                for a in fresh:
                    cur = self.db.execute(
                        "INSERT OR IGNORE INTO actions (decision_id, instance, hash, kind, key, "
                        "params, destructive,"
                        " status, attempts, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?, ?)",
                        (
                            decision_id,
                            self.instance,
                            d.hash,
                            a.kind,
                            prefix + a.key,
                            json.dumps(dict(a.params), sort_keys=True),
                            int(a.destructive),
                            now,
                            now,
                        ),
                    )
                    if cur.rowcount:
                        planned.append(inserted_id(cur))
                        existing.add(prefix + a.key)
        self._memory.update(new_memory)
        for d in decisions:
            self._last[d.hash] = (d.rule, d.code)
        return planned

    @property
    def _observed_key(self) -> str:
        return f"observed_at:{self.instance}"

    def observed_at(self) -> float | None:
        """When this instance last recorded a full look at qBittorrent (survives restarts)."""
        found = rows(self.db, "SELECT value FROM kv WHERE key = ?", (self._observed_key,))
        try:
            return float(json.loads(found[0]["value"])) if found else None
        except (TypeError, ValueError):
            return None

    def _existing_keys(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                r["key"]
                for r in rows(
                    self.db,
                    f"SELECT key FROM actions WHERE instance = ? AND key IN ({marks})",
                    (self.instance, *chunk),
                )
            )
        return found

    def _insert_decision(self, d: Decision, now: float, dry_run: bool) -> int:
        cur = self.db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, code, reason, inputs, dry_run, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.instance,
                d.hash,
                d.name,
                d.rule,
                d.code,
                d.reason,
                json.dumps(d.inputs, sort_keys=True, default=str),
                int(dry_run),
                now,
            ),
        )
        return inserted_id(cur)

    def _upsert_torrent(
        self, d: Decision, mem: Memory, t: Mapping[str, Any] | None, now: float
    ) -> None:
        i, t = d.inputs, t or {}
        shown = (
            d.name,
            d.rule,
            d.code,
            d.reason,
            t.get("state", i.get("state")),
            t.get("progress", i.get("progress")),
            t.get("ratio", i.get("ratio")),
            t.get("seeding_time", i.get("seeding_time")),
            t.get("size"),
            t.get("category", i.get("category")),
            t.get("tags"),
            t.get("added_on"),
        )
        if self._written.get(d.hash) == (mem, shown):
            return  # unchanged since the last write: keep the cycle's transaction small
        columns, extra = _split_memory(mem)
        values = (shown[0], *(columns[c] for c in MEMORY_COLUMNS), extra, *shown[1:])
        names = ", ".join(_TORRENT_COLUMNS)
        marks = ", ".join("?" * len(_TORRENT_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _TORRENT_COLUMNS if c != "first_seen")
        self.db.execute(
            f"INSERT INTO torrents (instance, hash, {names}, last_decided_at, gone_at) "
            f"VALUES (?, ?, {marks}, ?, NULL) "
            f"ON CONFLICT (instance, hash) DO UPDATE SET {updates}, "
            "last_decided_at = excluded.last_decided_at, "
            "gone_at = NULL",
            (self.instance, d.hash, *values, now),
        )
        self._written[d.hash] = (mem, shown)

    # -- actions ------------------------------------------------------------

    def pending(self, now: float | None = None) -> list[ActionRow]:
        """Actions to carry out now, oldest first: planned, sending (a crash left them), and
        unknown / waiting / failed (not given up) ones whose back-off has passed. When
        the brake is not engaged, held actions are first released (the operator released
        the brake)."""
        now = time.time() if now is None else now
        if not self.brake_engaged():
            self._release_held(now)
        found = rows(
            self.db,
            f"SELECT * FROM actions WHERE instance = ? AND {_OPEN.format(held='')} ORDER BY id",
            (self.instance, self.max_attempts),
        )
        out = []
        for r in found:
            if r["status"] in RETRYING and now < r["updated_at"] + RETRY.delay(r["attempts"]):
                continue
            out.append(ActionRow.from_row(r))
        return out

    def _release_held(self, now: float) -> int:
        if not rows(
            self.db,
            "SELECT 1 FROM actions WHERE instance = ? AND status = 'held' LIMIT 1",
            (self.instance,),
        ):
            return 0
        with write_txn(self.db):
            return _release(self.db, self.instance, now)

    def mark(
        self,
        action_id: int,
        status: str,
        result: str = "",
        now: float | None = None,
        tried: bool | None = None,
    ) -> None:
        self.mark_many([action_id], status, result, now, tried)

    def mark_many(
        self,
        action_ids: Iterable[int],
        status: str,
        result: str = "",
        now: float | None = None,
        tried: bool | None = None,
    ) -> None:
        """Set the outcome of actions. ``tried``: a send was attempted (counts in
        ``attempts``); by default true for done, unknown and failed. ``sending`` sets
        ``first_sent_at`` the first time; ``failed`` (a refusal) counts in ``refusals``."""
        if status not in STATUSES:
            raise ValueError(f"unknown action status {status!r}")
        ids = list(action_ids)
        if not ids:
            return
        now = time.time() if now is None else now
        if tried is None:
            tried = status in ("done", "unknown", "failed")
        first_sent = "COALESCE(first_sent_at, :now)" if status == "sending" else "first_sent_at"
        with write_txn(self.db):
            if status == "sending" and self.fence is not None:
                self.fence(self.db)  # nothing is sent under a lease that is gone (qbarr.lease)
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                marks = ",".join(f":i{n}" for n in range(len(chunk)))
                self.db.execute(
                    "UPDATE actions SET status = :status, result = :result, "
                    "attempts = attempts + :tried, refusals = refusals + :refused, "
                    f"first_sent_at = {first_sent}, updated_at = :now "
                    f"WHERE instance = :instance AND id IN ({marks})",
                    {
                        "status": status,
                        "result": result[:1000] if result else None,
                        "tried": int(tried),
                        "refused": int(status == "failed"),
                        "now": now,
                        "instance": self.instance,
                        **{f"i{n}": action_id for n, action_id in enumerate(chunk)},
                    },
                )

    def unfinished(self) -> list[tuple[int, str]]:
        """(id, hash) of every action not finished yet: planned, sending, unknown, waiting,
        held, or failed and not given up (also those waiting for their back-off)."""
        found = rows(
            self.db,
            "SELECT id, hash FROM actions WHERE instance = ? AND " + _OPEN.format(held=", 'held'"),
            (self.instance, self.max_attempts),
        )
        return [(r["id"], r["hash"]) for r in found]

    def backlog(self) -> dict[str, Any]:
        """What is not done yet and why, for the heartbeat: per kind the count, the oldest's
        creation time and the count per status (``given-up``: refused MAX_ATTEMPTS times,
        torrent gone);
        in all the count, the oldest, and the latest error among them with its time."""
        found = rows(
            self.db,
            "SELECT kind, CASE WHEN status = 'failed' AND refusals >= ? "
            f"AND {_GONE} THEN 'given-up' "
            "ELSE status END AS why, COUNT(*) AS n, MIN(created_at) AS oldest FROM actions "
            "WHERE instance = ? AND status IN "
            "('planned', 'sending', 'unknown', 'waiting', 'failed', 'held') GROUP BY kind, why",
            (self.max_attempts, self.instance),
        )
        kinds: dict[str, dict[str, Any]] = {}
        for r in found:
            k = kinds.setdefault(r["kind"], {"count": 0, "oldest_at": r["oldest"], "why": {}})
            k["count"] += r["n"]
            k["oldest_at"] = min(k["oldest_at"], r["oldest"])
            k["why"][r["why"]] = r["n"]
        out: dict[str, Any] = {"count": sum(k["count"] for k in kinds.values()), "kinds": kinds}
        if kinds:
            out["oldest_at"] = min(k["oldest_at"] for k in kinds.values())
            last = rows(
                self.db,
                "SELECT kind, result, updated_at FROM actions WHERE instance = ? AND status IN "
                "('unknown', 'waiting', 'failed') AND result IS NOT NULL "
                "ORDER BY updated_at DESC LIMIT 1",
                (self.instance,),
            )
            if last:
                out["last_error"] = f"{last[0]['kind']}: {last[0]['result']}"
                out["last_error_at"] = last[0]["updated_at"]
        return out

    def actions(self, status: str | None = None) -> list[ActionRow]:
        """Every action of this instance (optionally with one status), oldest first."""
        if status is None:
            found = rows(
                self.db, "SELECT * FROM actions WHERE instance = ? ORDER BY id", (self.instance,)
            )
        else:
            found = rows(
                self.db,
                "SELECT * FROM actions WHERE instance = ? AND status = ? ORDER BY id",
                (self.instance, status),
            )
        return [ActionRow.from_row(r) for r in found]

    # -- torrents gone ------------------------------------------------------

    def forget_gone(self, hashes_present: Iterable[str], now: float) -> list[str]:
        """Mark this instance's torrents no longer in qBittorrent as gone; skip their pending
        qBittorrent actions (the Arr-side ones stay). Returns the hashes newly marked."""
        present = {h.lower() for h in hashes_present}
        known = rows(
            self.db,
            "SELECT hash FROM torrents WHERE instance = ? AND gone_at IS NULL",
            (self.instance,),
        )
        gone = sorted(r["hash"] for r in known if r["hash"] not in present)
        if not gone:
            return []
        kinds = ",".join(f"'{k}'" for k in sorted(QBT_KINDS))
        with write_txn(self.db):
            for i in range(0, len(gone), _CHUNK):
                chunk = gone[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    f"UPDATE torrents SET gone_at = ? WHERE instance = ? AND hash IN ({marks})",
                    (now, self.instance, *chunk),
                )
                self.db.execute(
                    "UPDATE actions SET status = 'skipped', "
                    "result = 'torrent gone from qBittorrent', updated_at = ? "
                    "WHERE instance = ? "
                    "AND status IN ('planned', 'held', 'unknown', 'waiting', 'failed') "
                    f"AND kind IN ({kinds}) "
                    f"AND hash IN ({marks})",
                    (now, self.instance, *chunk),
                )
        for h in gone:
            self._written.pop(h, None)
            self._last.pop(h, None)
        return gone

    # -- history ------------------------------------------------------------

    def history(self, torrent_hash: str) -> list[dict[str, Any]]:
        return history(self.db, torrent_hash, self.instance)

    # -- brake --------------------------------------------------------------

    def brake_engaged(self) -> bool:
        found = rows(
            self.db, "SELECT brake_engaged FROM instances WHERE name = ?", (self.instance,)
        )
        return bool(found and found[0]["brake_engaged"])

    def engage_brake(self, reason: str, now: float) -> None:
        with write_txn(self.db):
            self.db.execute("INSERT OR IGNORE INTO instances (name) VALUES (?)", (self.instance,))
            self.db.execute(
                "UPDATE instances SET brake_engaged = 1, brake_reason = ?, brake_at = ? "
                "WHERE name = ?",
                (reason, now, self.instance),
            )


def _release(db: Database, instance: str, now: float) -> int:
    """Held -> planned, marked released; the other pending actions of those torrents (e.g. the
    search after a held delete) are marked released too, so all are re-evaluated together."""
    db.execute(
        "UPDATE actions SET released_at = ? WHERE instance = ? AND status = 'planned' AND hash IN "
        "(SELECT hash FROM actions WHERE instance = ? AND status = 'held')",
        (now, instance, instance),
    )
    cur = db.execute(
        "UPDATE actions SET status = 'planned', released_at = ?, "
        "result = 'released from the brake', "
        "updated_at = ? WHERE instance = ? AND status = 'held'",
        (now, now, instance),
    )
    return int(cur.rowcount or 0)


def release_brake(db: Database, instance: str, now: float | None = None) -> dict[str, Any]:
    """Release an instance's brake (``qbarr brake release NAME``): held actions become planned
    again and are carried out next cycle if the rules still decide them."""
    now = time.time() if now is None else now
    with write_txn(db):
        found = rows(db, "SELECT brake_engaged FROM instances WHERE name = ?", (instance,))
        was = bool(found and found[0]["brake_engaged"])
        db.execute(
            "UPDATE instances SET brake_engaged = 0, brake_released_at = ? WHERE name = ?",
            (now, instance),
        )
        released = _release(db, instance, now)
    return {
        "instance": instance,
        "was_engaged": was,
        "released_actions": released,
        "released_at": now,
    }


def history(db: Database, torrent_hash: str, instance: str | None = None) -> list[dict[str, Any]]:
    """A torrent's decisions, oldest first, each with its actions (for ``qbarr why HASH``)."""
    h = torrent_hash.lower()
    where, params = (
        ("hash = ?", (h,)) if instance is None else ("hash = ? AND instance = ?", (h, instance))
    )
    decided = rows(db, f"SELECT * FROM decisions WHERE {where} ORDER BY at, id", params)
    acted = rows(db, f"SELECT * FROM actions WHERE {where} ORDER BY id", params)
    by_decision: dict[int | None, list[dict[str, Any]]] = {}
    for a in acted:
        a["params"] = json.loads(a["params"] or "{}")
        a["destructive"] = bool(a["destructive"])
        by_decision.setdefault(a["decision_id"], []).append(a)
    out = []
    for d in decided:
        d["inputs"] = json.loads(d["inputs"] or "{}")
        d["dry_run"] = bool(d["dry_run"])
        d["actions"] = by_decision.get(d["id"], [])
        out.append(d)
    return out
