"""sync/maindata with qBittorrent's rid rules (SyncController::generateSyncData, 4.5.2).

Per session the server remembers the last response it sent (rid, seq) and the
last one the client confirmed. A request with the last rid confirms it; a
request with the confirmed rid gets the diff against it again (a lost response
loses nothing); anything else (0, absent, unknown, another session's rid) gets
a full update. Rids cycle 1..1000000. The diff is built from the store's change
log: only torrents modified after the confirmed seq are visited.

What qBittorrent would serialize is charged to ``store.cost`` (see cost.py): before 4.6
every torrent on every call, from 4.6 the torrents in the answer.
"""

from __future__ import annotations

from typing import Any

from .store import Session, Store

PATH = "sync/maindata"


def maindata(store: Store, session: Session, rid: int) -> dict[str, Any]:
    full, last_rid = True, 0
    data: dict[str, Any]
    if rid > 0:
        last_rid = session.last_rid
        if last_rid == rid:
            session.acc_rid, session.acc_seq = session.last_rid, session.last_seq
        if session.acc_rid == rid and session.acc_seq >= store.log_floor:
            data = diff_since(store, session.acc_seq)
            full = False
    if full:
        session.acc_rid, session.acc_seq = 0, -1
        data = full_state(store)
        data["full_update"] = True
    new_rid = last_rid % 1_000_000 + 1
    session.last_rid, session.last_seq = new_rid, store.seq
    data["rid"] = new_rid
    tracked = store.api.sync_tracks_changes
    store.cost.charge(PATH, len(data.get("torrents") or ()) if tracked else len(store.torrents))
    return data


def full_state(store: Store) -> dict[str, Any]:
    return {
        "torrents": {h: dict(t.out) for h, t in store.torrents.items()},
        "categories": {n: dict(c) for n, c in store.categories.items()},
        "tags": list(store.tags),
        "server_state": dict(store.server_state),
        "trackers": {u: sorted(hs) for u, hs in store.trackers.items()},
    }


def diff_since(store: Store, since: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    torrents: dict[str, dict[str, Any]] = {}
    for h in reversed(store.order):
        t = store.torrents[h]
        if t.mseq <= since:
            break
        if t.cseq > since:
            torrents[h] = dict(t.out)
        else:
            out = t.out
            torrents[h] = {k: out[k] for k, s in t.fseq.items() if s > since}
    if torrents:
        data["torrents"] = torrents
    removed: list[str] = []
    for seq, h, cseq in reversed(store.removed_log):
        if seq <= since:
            break
        if cseq <= since and h not in store.torrents and h not in removed:
            removed.append(h)
    if removed:
        data["torrents_removed"] = removed
    cats = {n: dict(c) for n, c in store.categories.items() if store.cat_seq[n] > since}
    if cats:
        data["categories"] = cats
    _removed(data, "categories_removed", store.cat_removed, since, store.categories)
    tags = [tag for tag, seq in store.tags.items() if seq > since]
    if tags:
        data["tags"] = tags
    _removed(data, "tags_removed", store.tag_removed, since, store.tags)
    state = {k: v for k, v in store.server_state.items() if store.ss_seq[k] > since}
    if state:
        data["server_state"] = state
    trackers = {u: sorted(hs) for u, hs in store.trackers.items() if store.trk_seq[u] > since}
    if trackers:
        data["trackers"] = trackers
    _removed(data, "trackers_removed", store.trk_removed, since, store.trackers)
    return data


def _removed(
    data: dict[str, Any], key: str, log: list[tuple[int, str]], since: int, present: Any
) -> None:
    names: list[str] = []
    for seq, name in reversed(log):
        if seq <= since:
            break
        if name not in present and name not in names:
            names.append(name)
    if names:
        data[key] = names
