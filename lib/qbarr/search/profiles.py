"""Temporary quality profiles for missing items (``UseTempForMissing``), exactly once.

Before the search program searches a missing item, the item's profile owner (the movie in
Radarr, the series in Sonarr, the artist in Lidarr) may be switched from its profile to the
looser one ``QualityProfileMappings`` names, and switched back later. Both changes are
actions of the journal (qbarr.journal / qbarr.executor), under the search program's own
journal name ``<instance>:search`` and with the owner's key (``movie:12``, ``series:7``,
``artist:3``) where a manager uses a torrent hash:

- :func:`plan_switch` writes, in ONE transaction, the decision row (rule ``temp-profile``)
  and two actions: the switch and the switch-back. A crash after that transaction can
  therefore never leave an item on the temporary profile: the switch-back is already in
  the journal, and it is carried out when it is due (:func:`due`): once none of the items
  it was switched for is missing any more (a file was imported), after
  ``TempProfileTimeout``, or as soon as the feature or the mapping is turned off.
- Both actions are compare-and-set (:func:`apply`): the profile is changed only when it
  still is what the switch left (a profile changed by hand meanwhile is left alone), so
  running one twice after a crash changes nothing.

:func:`apply` is what the executor calls for action kind ``set_profile``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qbarr.arr.kinds import kind_of
from qbarr.db import Database, inserted_id, rows, write_txn
from qbarr.journal import DRY_PREFIX, ActionRow
from qbarr.search.model import PlannedSearch
from qbarr.search.settings import SearchSettings
from qbarr.units import format_duration

RULE = "temp-profile"
KIND = "set_profile"
SWITCH, RESTORE = "profile-switch", "profile-restore"
# Searches of these tiers are searches of missing items.
MISSING_REASONS = frozenset({"missing", "recent"})


def journal_name(instance: str) -> str:
    """The search program's journal (decisions and actions) of an instance."""
    return f"{instance}:search"


@dataclass(frozen=True)
class Owner:
    """What carries the quality profile of a search: ``key`` like ``series:7``."""

    media: str
    id: int

    @property
    def key(self) -> str:
        return f"{self.media}:{self.id}"


def owner_of(kind: str, search: PlannedSearch) -> Owner | None:
    """The movie / series / artist whose profile a search of missing items uses."""
    if kind == "radarr" and search.command == "movie" and len(search.ids) == 1:
        return Owner("movie", search.ids[0])
    if search.series_id is not None and kind in ("sonarr", "lidarr"):
        return Owner(kind_of(kind).profile_owner, search.series_id)
    return None


def covered(search: PlannedSearch) -> list[str]:
    """The missing items a switch is for (series keys are not items)."""
    return [k for k in search.keys if not k.startswith(("series:", "artist:"))]


def temp_for(
    profiles: Sequence[Mapping[str, Any]], current: int, settings: SearchSettings
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(main profile, temporary profile) for an owner on profile ``current``, or None."""
    by_id = {p.get("id"): p for p in profiles if isinstance(p, Mapping)}
    by_name = {str(p.get("name")): p for p in by_id.values()}
    main = by_id.get(current)
    if main is None:
        return None
    name = settings.temp_profile_for(str(main.get("name")))
    temp = by_name.get(name) if name else None
    if temp is None or temp.get("id") == current:
        return None
    return main, temp


# -- the journal --------------------------------------------------------------------------


def open_restore(db: Database, journal: str, owner: Owner) -> ActionRow | None:
    """The switch-back still to do for this owner, if any (its switch is in effect)."""
    found = rows(
        db,
        "SELECT * FROM actions WHERE instance = ? AND hash = ? AND kind = ? AND key LIKE ? "
        "AND status NOT IN ('done', 'skipped') ORDER BY id DESC LIMIT 1",
        (journal, owner.key, KIND, f"%{RESTORE}:%"),
    )
    return ActionRow.from_row(found[0]) if found else None


def plan_switch(
    db: Database,
    journal: str,
    owner: Owner,
    main: Mapping[str, Any],
    temp: Mapping[str, Any],
    covers: Sequence[str],
    title: str,
    now: float,
    timeout: float,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Journal the switch and its switch-back in one transaction; returns their action ids."""
    prefix = DRY_PREFIX if dry_run else ""
    back = (
        f"when {', '.join(covers[:3])}{' ...' if len(covers) > 3 else ''} is no longer missing"
        + (f" or after TempProfileTimeout {format_duration(timeout)}" if timeout > 0 else "")
    )
    reason = (
        f"missing: switched from quality profile {main.get('name')!r} to the temporary "
        f"{temp.get('name')!r} for the search; switched back {back}"
    )
    inputs = {
        "owner": owner.key,
        "main_profile": {"id": main.get("id"), "name": main.get("name")},
        "temp_profile": {"id": temp.get("id"), "name": temp.get("name")},
        "covers": list(covers),
    }
    with write_txn(db):
        n = rows(
            db,
            "SELECT COUNT(*) AS n FROM actions WHERE instance = ? AND hash = ? AND key LIKE ?",
            (journal, owner.key, f"%{SWITCH}:%"),
        )[0]["n"]
        cur = db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, dry_run, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (journal, owner.key, title, RULE, reason, json.dumps(inputs), int(dry_run), now),
        )
        decision_id = inserted_id(cur)
        ids = []
        for step, frm, to in ((SWITCH, main, temp), (RESTORE, temp, main)):
            params = {
                "owner": owner.key,
                "owner_id": owner.id,
                "expect": frm.get("id"),
                "profile_id": to.get("id"),
                "profile_name": to.get("name"),
            }
            if step == RESTORE:
                params.update(covers=list(covers), switched_at=now)
            cur = db.execute(
                "INSERT INTO actions (decision_id, instance, hash, kind, key, params, "
                "destructive, status, attempts, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, 'planned', 0, ?, ?)",
                (
                    decision_id,
                    journal,
                    owner.key,
                    KIND,
                    f"{prefix}{step}:{owner.key}:{n}",
                    json.dumps(params, sort_keys=True),
                    now,
                    now,
                ),
            )
            ids.append(inserted_id(cur))
    return ids[0], ids[1]


def extend_restore(db: Database, restore: ActionRow, keys: Iterable[str]) -> None:
    """A later search under the same temporary profile: switch back only once its items are
    no longer missing either."""
    covers = list(dict.fromkeys([*restore.params.get("covers", []), *keys]))
    if covers == list(restore.params.get("covers", [])):
        return
    params = {**restore.params, "covers": covers}
    with write_txn(db):
        db.execute(
            "UPDATE actions SET params = ? WHERE id = ?",
            (json.dumps(params, sort_keys=True), restore.id),
        )


def record_restore(db: Database, journal: str, restore: ActionRow, why: str, now: float) -> None:
    """The decision row that says why an owner is switched back now (qbarr why, web UI)."""
    p = restore.params
    reason = f"switching back to quality profile {p.get('profile_name')!r}: {why}"
    inputs = {"owner": p.get("owner"), "covers": p.get("covers", []), "restore_action": restore.id}
    with write_txn(db):
        db.execute(
            "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, dry_run, at) "
            "VALUES (?, ?, '', ?, ?, ?, ?, ?)",
            (journal, restore.hash, RULE, reason, json.dumps(inputs), int(restore.dry), now),
        )


# -- when a switch-back is due (pure) ------------------------------------------------------


@dataclass(frozen=True)
class MissingView:
    """What the last complete read of wanted/missing showed, and when it was read."""

    keys: frozenset[str]
    read_at: float | None
    complete: bool


def due(
    restore: ActionRow, settings: SearchSettings, missing: MissingView, now: float
) -> str | None:
    """Why a planned switch-back should happen now, or None to keep waiting."""
    p = restore.params
    switched_at = float(p.get("switched_at") or restore.created_at)
    if not settings.use_temp_for_missing:
        return "UseTempForMissing is off"
    main = p.get("profile_name")
    if main is not None and settings.temp_profile_for(str(main)) is None:
        return f"{main!r} is no longer in QualityProfileMappings"
    timeout = settings.temp_profile_timeout
    if timeout > 0 and now - switched_at >= timeout:
        return f"TempProfileTimeout {format_duration(timeout)} passed"
    covers = set(p.get("covers") or [])
    if (
        covers
        and missing.complete
        and missing.read_at is not None
        and missing.read_at > switched_at
        and not covers & missing.keys
    ):
        return "no longer missing (a file was imported)"
    return None


# -- carrying it out (the executor's action kind set_profile) -------------------------------


def apply(arr: Any, params: Mapping[str, Any]) -> str:
    """Compare-and-set the owner's profile: change it only from ``expect`` to ``profile_id``."""
    owner_id, expect, target = int(params["owner_id"]), params["expect"], params["profile_id"]
    current = arr.profile_owner(owner_id).get("qualityProfileId")
    if current == target:
        return f"already on quality profile {target}"
    if current != expect:
        return f"left alone: on quality profile {current}, not {expect} (changed by hand?)"
    arr.set_quality_profile([owner_id], int(target))
    return f"quality profile {expect} -> {target} ({params.get('profile_name')})"
