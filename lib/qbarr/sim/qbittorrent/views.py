"""Read-only answers: torrents/info filters and paging, properties, files, trackers."""

from __future__ import annotations

from typing import Any

from qbarr.qbittorrent import states

from .errors import HttpError
from .store import Store
from .torrent import SimTorrent, ratio_of, tracker_rows

# qBittorrent's torrents/info filters use the state groups of qbarr.qbittorrent.states.
ACTIVE_STATES = {
    "metaDL",
    "forcedMetaDL",
    "downloading",
    "forcedDL",
    "uploading",
    "forcedUP",
    "moving",
}


def _active(out: dict[str, Any]) -> bool:
    return out["state"] in ACTIVE_STATES or (out["state"] == "stalledDL" and out["upspeed"] > 0)


def filter_fn(name: str, v5: bool):  # type: ignore[no-untyped-def]
    """Predicate on (torrent, rendered fields); unknown names mean 'all', as in qBittorrent."""
    stopped, running = ("stopped", "running") if v5 else ("paused", "resumed")
    table = {
        "downloading": lambda t, o: o["state"] in states.DOWNLOADING,
        "seeding": lambda t, o: o["state"] in states.SEEDING,
        "completed": lambda t, o: o["state"] in states.COMPLETE,
        stopped: lambda t, o: t.paused,
        running: lambda t, o: not t.paused,
        "active": lambda t, o: _active(o),
        "inactive": lambda t, o: not _active(o),
        "stalled": lambda t, o: o["state"] in states.STALLED,
        "stalled_uploading": lambda t, o: o["state"] == "stalledUP",
        "stalled_downloading": lambda t, o: o["state"] == "stalledDL",
        "checking": lambda t, o: o["state"] in states.CHECKING,
        "moving": lambda t, o: o["state"] == "moving",
        "errored": lambda t, o: o["state"] in states.ERRORED,
    }
    return table.get(name)


def torrents_info(store: Store, params: dict[str, str]) -> list[dict[str, Any]]:
    pred = filter_fn(params.get("filter", "all"), store.api.v5)
    wanted = None
    if params.get("hashes"):
        wanted = {h.strip().lower() for h in params["hashes"].split("|")}
    category, tag = params.get("category"), params.get("tag")
    items = []
    pool = (
        store.torrents.items()
        if wanted is None
        else ((h, store.torrents[h]) for h in wanted if h in store.torrents)
    )
    for h, t in pool:
        o = t.out
        if category is not None and o["category"] != category:
            continue
        if tag is not None and (tag not in t.tags if tag else bool(t.tags)):
            continue
        if pred is not None and not pred(t, o):
            continue
        items.append({**o, "hash": h})
    store.cost.charge("torrents/info", len(items))  # all that matched, before paging
    return _page(items, params)


def _page(items: list[dict[str, Any]], params: dict[str, str]) -> list[dict[str, Any]]:
    key = params.get("sort")
    if key:
        if items and key not in items[0]:
            raise HttpError(400, "'sort' parameter is invalid")
        items.sort(
            key=lambda o: (o[key] is None, o[key]),
            reverse=params.get("reverse", "").lower() == "true",
        )
    try:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 0)
    except ValueError as exc:
        raise HttpError(400, "Bad Request") from exc
    if offset < 0:
        offset = max(0, len(items) + offset)
    items = items[offset:]
    return items[:limit] if limit > 0 else items


def properties(store: Store, t: SimTorrent) -> dict[str, Any]:
    o = t.out
    meta = t.has_metadata
    pieces = -(-t.total_size // t.piece_size) if meta and t.total_size > 0 else (0 if meta else -1)
    have = int(pieces * o["progress"]) if pieces > 0 else 0
    props: dict[str, Any] = {
        "addition_date": int(t.added_on),
        "comment": t.comment,
        "completion_date": o["completion_on"] or -1,
        "created_by": t.created_by,
        "creation_date": t.creation_date if meta else -1,
        "dl_limit": t.dl_limit or -1,
        "dl_speed": o["dlspeed"],
        "dl_speed_avg": o["dlspeed"],
        "download_path": "",
        "eta": o["eta"],
        "hash": t.hash,
        "infohash_v1": t.hash,
        "infohash_v2": "",
        "is_private": t.private,
        "last_seen": o["seen_complete"] or -1,
        "name": t.name,
        "nb_connections": o["num_seeds"] + o["num_leechs"],
        "nb_connections_limit": 100,
        "peers": o["num_leechs"],
        "peers_total": t.swarm_leechs,
        "piece_size": t.piece_size if meta else -1,
        "pieces_have": have,
        "pieces_num": pieces,
        "reannounce": 0,
        "save_path": t.save_path,
        "seeding_time": o["seeding_time"],
        "seeds": o["num_seeds"],
        "seeds_total": t.swarm_seeds,
        "share_ratio": round(ratio_of(t), 6),
        "time_elapsed": o["time_active"],
        "total_downloaded": o["downloaded"],
        "total_downloaded_session": o["downloaded_session"],
        "total_size": t.total_size,
        "total_uploaded": o["uploaded"],
        "total_uploaded_session": o["uploaded_session"],
        "total_wasted": 0,
        "up_limit": t.up_limit or -1,
        "up_speed": o["upspeed"],
        "up_speed_avg": o["upspeed"],
    }
    if store.api.v5:
        props.update(private=t.private, popularity=0, has_metadata=meta)
    if store.api.webapi_tuple >= (2, 11, 3):
        props["progress"] = o["progress"]
    return props


def files(store: Store, t: SimTorrent) -> list[dict[str, Any]]:
    if not t.has_metadata:
        return []
    out, offset, piece = [], 0, max(1, t.piece_size)
    complete = t.complete
    for i, f in enumerate(t.files):
        first = offset // piece
        last = (offset + max(f.size, 1) - 1) // piece
        item: dict[str, Any] = {
            "availability": -1 if complete else max(0.0, t.out["availability"]),
            "index": i,
            "name": f.path,
            "piece_range": [first, last],
            "priority": f.priority,
            "progress": 1
            if f.size and f.done >= f.size
            else round(f.done / f.size, 6)
            if f.size
            else 0,
            "size": f.size,
        }
        if i == 0:
            item["is_seed"] = complete
        out.append(item)
        offset += f.size
    return out


def trackers(store: Store, t: SimTorrent) -> list[dict[str, Any]]:
    msg = "This torrent is private" if t.private else ""
    rows: list[dict[str, Any]] = [
        {
            "msg": msg,
            "num_downloaded": 0,
            "num_leeches": 0,
            "num_peers": 0,
            "num_seeds": 0,
            "status": 0,
            "tier": -1,
            "url": url,
        }
        for url in ("** [DHT] **", "** [PeX] **", "** [LSD] **")
    ]
    for tier, (url, status, text) in enumerate(tracker_rows(t)):
        if status == 2:
            counts = (0, t.swarm_leechs, t.seeds + t.leechs, t.swarm_seeds)
        else:  # not working: qBittorrent reports -1 for everything [live 4.5.2]
            counts = (-1, -1, -1, -1)
        if status in (5, 6) and store.api.webapi_tuple < (2, 13, 0):
            status = 4  # before 5.2 every failure is "not working"
        rows.append(
            {
                "msg": text,
                "num_downloaded": counts[0],
                "num_leeches": counts[1],
                "num_peers": counts[2],
                "num_seeds": counts[3],
                "status": status,
                "tier": tier,
                "url": url,
            }
        )
    if store.api.webapi_tuple >= (2, 13, 0):
        for row in rows:
            row.update(next_announce=0, min_announce=0, endpoints=[])
    return rows
