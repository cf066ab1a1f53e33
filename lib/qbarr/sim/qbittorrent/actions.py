"""What the torrents/* mutators do to the store (the caller holds store.lock).

Each function stamps one new seq, brings the touched torrents up to now, changes
them and re-renders them, so the next sync/maindata carries exactly the fields
that moved. Status codes and messages are those of qbittorrent-nox 4.5.2.
"""

from __future__ import annotations

from .disk import delete_content
from .errors import HttpError
from .store import Store
from .torrent import SimTorrent

CHECK_RATE = 400 * 1024 * 1024  # bytes/s a simulated hash check reads
VALID_PRIOS = (0, 1, 6, 7)


def resolve(store: Store, hashes: str) -> list[SimTorrent]:
    """'h1|h2' or 'all' -> the known torrents (unknown hashes are ignored, like qBittorrent)."""
    if hashes.strip() == "all":
        return list(store.torrents.values())
    found = []
    for h in hashes.split("|"):
        t = store.torrents.get(h.strip().lower())
        if t is not None:
            found.append(t)
    return found


def one(store: Store, h: str) -> SimTorrent:
    t = store.torrents.get((h or "").strip().lower())
    if t is None:
        raise HttpError(404, "Not Found")
    return t


def _edit(store: Store, torrents: list[SimTorrent], change) -> None:  # type: ignore[no-untyped-def]
    now = store.clock.now()
    store.bump()
    for t in torrents:
        store.touch(t, now)
        change(t, now)
        if t.hash in store.torrents:
            store.commit(t, now)


def pause(store: Store, torrents: list[SimTorrent]) -> None:
    def change(t: SimTorrent, now: float) -> None:
        t.paused = True

    _edit(store, torrents, change)


def start_check(store: Store, t: SimTorrent, now: float) -> None:
    """checkingUP/DL for a while; the end (store.finish_timers) re-reads real data."""
    t.check_was_complete = t.complete
    if t.error:
        t.error, t.error_pending = "", True
    if t.missing:
        t.missing = False
        for f in t.files:
            f.done = 0.0
    t.checking_from = now
    t.checking_until = now + 0.5 + t.wanted / CHECK_RATE
    store.schedule(t, t.checking_until, "timer")


def resume(store: Store, torrents: list[SimTorrent]) -> None:
    def change(t: SimTorrent, now: float) -> None:
        t.paused = False
        if t.error or t.missing:  # qBittorrent re-checks an errored torrent on resume
            start_check(store, t, now)

    _edit(store, torrents, change)


def recheck(store: Store, torrents: list[SimTorrent]) -> None:
    _edit(store, [t for t in torrents if t.has_metadata], lambda t, now: start_check(store, t, now))


def reannounce(store: Store, torrents: list[SimTorrent]) -> None:
    """No visible effect (as on 4.5.2 without trackers); a stalled torrent with a
    simulated swarm does not come back just because it announced."""


def set_force_start(store: Store, torrents: list[SimTorrent], value: bool) -> None:
    def change(t: SimTorrent, now: float) -> None:
        t.forced = value
        if value:
            t.paused = False

    _edit(store, torrents, change)


def delete(store: Store, torrents: list[SimTorrent], delete_files: bool) -> None:
    store.bump()
    for t in torrents:
        store.remove(t.hash)
        if delete_files:
            delete_content(t)


def set_category(store: Store, torrents: list[SimTorrent], category: str) -> None:
    if category and category not in store.categories:
        raise HttpError(409, "Incorrect category name")

    def change(t: SimTorrent, now: float) -> None:
        t.category = category

    _edit(store, torrents, change)


def valid_category_name(name: str) -> bool:
    return not (name.startswith("/") or name.endswith("/") or "//" in name or "\\" in name)


def create_category(store: Store, name: str, save_path: str) -> None:
    if not name:
        raise HttpError(400, "Category cannot be empty")
    if not valid_category_name(name):
        raise HttpError(409, "Incorrect category name")
    store.bump()
    if not store.ensure_category(name, save_path):
        raise HttpError(409, "Unable to create category")


def edit_category(store: Store, name: str, save_path: str) -> None:
    if name not in store.categories:
        raise HttpError(409, "Unable to edit category")
    store.bump()
    store.categories[name] = {"name": name, "savePath": save_path}
    store.cat_seq[name] = store.seq


def remove_categories(store: Store, names: list[str]) -> None:
    names = [n for n in names if n in store.categories]
    if not names:
        return
    users = [t for t in store.torrents.values() if t.category in names]

    def change(t: SimTorrent, now: float) -> None:
        t.category = ""

    _edit(store, users, change)
    for name in names:
        del store.categories[name], store.cat_seq[name]
        store.cat_removed.append((store.seq, name))


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_tags(store: Store, torrents: list[SimTorrent], tags: list[str]) -> None:
    store.bump()
    for tag in tags:
        store.ensure_tag(tag)

    def change(t: SimTorrent, now: float) -> None:
        t.tags.update(tags)

    _edit(store, torrents, change)


def remove_tags(store: Store, torrents: list[SimTorrent], tags: list[str]) -> None:
    def change(t: SimTorrent, now: float) -> None:
        if tags:
            t.tags.difference_update(tags)
        else:
            t.tags.clear()  # no tags parameter: remove them all

    _edit(store, torrents, change)


def create_tags(store: Store, tags: list[str]) -> None:
    store.bump()
    for tag in tags:
        store.ensure_tag(tag)


def delete_tags(store: Store, tags: list[str]) -> None:
    tags = [t for t in tags if t in store.tags]
    if not tags:
        return
    users = [t for t in store.torrents.values() if t.tags.intersection(tags)]

    def change(t: SimTorrent, now: float) -> None:
        t.tags.difference_update(tags)

    _edit(store, users, change)
    for tag in tags:
        del store.tags[tag]
        store.tag_removed.append((store.seq, tag))


def file_prio(store: Store, t: SimTorrent, ids: str, priority: str) -> None:
    try:
        prio = int(priority)
        indexes = [int(i) for i in ids.split("|")]
    except ValueError as exc:
        raise HttpError(400, "Bad Request") from exc
    if prio not in VALID_PRIOS:
        raise HttpError(400, "Priority is not valid")
    if not t.has_metadata:
        raise HttpError(409, "Torrent's metadata has not yet downloaded")
    if any(i < 0 or i >= len(t.files) for i in indexes):
        raise HttpError(409, "File ID is not valid")

    def change(tt: SimTorrent, now: float) -> None:
        for i in indexes:
            tt.files[i].priority = prio

    _edit(store, [t], change)


def set_share_limits(
    store: Store,
    torrents: list[SimTorrent],
    ratio: float,
    seeding: int,
    inactive: int | None,
    action: str | None,
) -> None:
    def change(t: SimTorrent, now: float) -> None:
        t.ratio_limit = ratio if ratio in (-2, -1) else round(max(0.0, ratio), 4)
        t.seeding_time_limit = seeding
        if inactive is not None:
            t.inactive_limit = inactive
        if action is not None:
            t.share_action = action

    _edit(store, torrents, change)


def set_location(store: Store, torrents: list[SimTorrent], location: str) -> None:
    if not location:
        raise HttpError(400, "Save path cannot be empty")

    def change(t: SimTorrent, now: float) -> None:
        t.save_path = location
        t.moving_until = now + 0.5 + t.completed / CHECK_RATE
        store.schedule(t, t.moving_until, "timer")

    _edit(store, torrents, change)


def remove_trackers(store: Store, t: SimTorrent, urls: list[str]) -> None:
    """torrents/removeTrackers: 409 when none of the URLs is a tracker of the torrent."""
    found = [u for u in urls if u in t.trackers]
    if not found:
        raise HttpError(409, "All urls not found")

    def change(t: SimTorrent, now: float) -> None:
        t.trackers = [u for u in t.trackers if u not in found]
        for u in found:
            t.tracker_status.pop(u, None)

    _edit(store, [t], change)
