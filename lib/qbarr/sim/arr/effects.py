"""What a finished command does to the simulated Arr.

Scans import a finished download: the media get a file (they leave
wanted/missing), the queue records go away, the torrent keeps seeding.
Searches look at the targeted media and, with --grab-probability, grab a
release: a magnet added to qBittorrent in the Arr's category, remembered
with the media ids so its queue records carry movieId / episodeId / albumId.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from qbarr.sim.arr import downloads as dl
from qbarr.sim.arr.history import IMPORTED
from qbarr.sim.arr.library import PROFILES, Item

if TYPE_CHECKING:
    from qbarr.sim.arr.commands import Command
    from qbarr.sim.arr.engine import SimArr

log = logging.getLogger("qbarr.sim.arr")
UTC = UTC


def run(sim: SimArr, command: Command) -> str:
    if command.cls == "scan":
        return scan(sim, command)
    if command.cls == "search":
        return search(sim, command)
    if command.name == "RefreshMonitoredDownloads":
        sim.poll_once() if sim.qbt is not None else None
        return "Completed"
    return "Completed"


# -- imports -------------------------------------------------------------------


def scan(sim: SimArr, command: Command) -> str:
    """Downloaded*Scan {path, downloadClientId, importMode}."""
    body = command.body
    wanted_hash = str(body.get("downloadClientId") or "").lower()
    path = str(body.get("path") or "").rstrip("/")
    with sim.lock:
        download = sim.downloads.get(wanted_hash) if wanted_hash else None
        torrent = sim.view.torrents.get(download.hash) if download else None
        if download is None and path:
            for torrent_hash, candidate in sim.view.torrents.items():
                if path in (
                    str(candidate.get("content_path") or "").rstrip("/"),
                    str(candidate.get("save_path") or "").rstrip("/")
                    + "/"
                    + str(candidate.get("name")),
                ):
                    download, torrent = sim.downloads.get(torrent_hash), candidate
                    break
        if download is None or torrent is None:
            return f"No files found are eligible for import in {path or wanted_hash or '?'}"
        if not download.active:
            return f"{download.title} was already {'imported' if download.imported else 'removed'}"
        if download.failure:
            return f"Import blocked: {download.title} ({download.failure['state']})"
        if not dl.torrent_complete(torrent):
            return f"{download.title} is not finished downloading"
        if not download.media_ids:
            return f"{download.title}: unknown media, manual import required"
        for media_id in download.media_ids:
            quality_id = (
                download.quality_id or PROFILES[sim.kind][sim.lib.items[media_id].profile_id][1]
            )
            sim.lib.give_file(media_id, quality_id)
        download.imported = True
        download.events.append(f"imported by command {command.id}")
        sim.history.add(
            IMPORTED[sim.kind],
            download.hash,
            download.media_ids,
            download.title,
            download.quality_id,
            datetime.now(UTC),
            importedPath=path,
        )
        sim.imports += 1
        sim.changes += 1
    log.info("imported %s (%s) for %s", download.title, download.hash, list(download.media_ids))
    return f"Imported {len(download.media_ids)} file(s) from {download.title}"


# -- searches ------------------------------------------------------------------


def targets(sim: SimArr, command: Command) -> list[Item]:
    """The media a search command is about, in the Arr's own terms."""
    lib, body, name = sim.lib, command.body, command.name
    items = lib.items
    if name in ("MoviesSearch", "EpisodeSearch", "AlbumSearch"):
        ids = body.get("movieIds") or body.get("episodeIds") or body.get("albumIds") or []
        return [items[i] for i in ids if i in items]
    if name in ("SeriesSearch", "ArtistSearch"):
        parent = int(body.get("seriesId") or body.get("artistId") or 0)
        return [i for i in lib.children(parent) if lib.effectively_monitored(i)]
    if name == "SeasonSearch":
        return [
            i
            for i in lib.children(int(body.get("seriesId") or 0))
            if i.season == body.get("seasonNumber") and lib.effectively_monitored(i)
        ]
    monitored = body.get("monitored", True) is not False
    which = "cutoff" if name.startswith("CutoffUnmet") else "missing"
    found = lib.wanted(which, monitored)
    if body.get("seriesId"):
        found = [i for i in found if i.parent_id == body["seriesId"]]
    return found


def search(sim: SimArr, command: Command) -> str:
    """Mark the targets searched; grab releases for some of the wanted ones."""
    now = datetime.now(UTC)
    found = targets(sim, command)
    sim.lib.mark_searched([i.id for i in found], now)
    with sim.lock:
        busy = {m for d in sim.downloads.values() if d.active for m in d.media_ids}
        wanted = [
            i
            for i in found
            if i.id not in busy
            and (
                sim.lib.is_missing(i, now)
                or (i.has_file and not sim.lib.cutoff_met(i))
                or sim.lib.cf_unmet(i)
            )
        ]
        lucky = [i for i in wanted if sim.rng.random() < sim.options.grab_probability]
    grabs = plan_grabs(sim, command, lucky)[: sim.options.max_grabs_per_command]
    for download in grabs:
        sim.add_to_client(download)
        with sim.lock:
            sim.grabs += 1
            command.grabs.append(download.hash)
        log.info(
            "command %d %s grabbed %s (%s) for %s",
            command.id,
            command.name,
            download.title,
            download.hash,
            list(download.media_ids),
        )
    return f"Searched {len(found)} item(s), {len(wanted)} wanted, grabbed {len(grabs)} release(s)"


def plan_grabs(sim: SimArr, command: Command, items: list[Item]) -> list[dl.Download]:
    """One release per movie / album / episode; a season pack for series-wide searches."""
    now = datetime.now(UTC)
    lib = sim.lib
    out: list[dl.Download] = []
    if sim.kind == "sonarr" and command.name in ("SeriesSearch", "SeasonSearch"):
        seasons: dict[tuple[int, int], list[Item]] = defaultdict(list)
        for item in items:
            seasons[(item.parent_id, item.season)].append(item)
        for (series_id, season), episodes in sorted(seasons.items()):
            title = (
                f"{_dotted(lib.parents[series_id].title)}.S{season:02d}."
                f"{_quality_name(sim, episodes[0])}-QBARR"
            )
            out.append(_download(sim, tuple(e.id for e in episodes), title, episodes[0], now))
        return out
    for item in items:
        out.append(_download(sim, (item.id,), release_title(sim, item), item, now))
    return out


def release_title(sim: SimArr, item: Item) -> str:
    q = _quality_name(sim, item)
    if sim.kind == "radarr":
        return f"{_dotted(item.title)}.{item.year}.{q}.x264-QBARR"
    parent = sim.lib.parents[item.parent_id]
    if sim.kind == "sonarr":
        return f"{_dotted(parent.title)}.S{item.season:02d}E{item.number:02d}.{q}-QBARR"
    return f"{parent.title} - {item.title} ({item.year}) [{q}]"


def _quality_name(sim: SimArr, item: Item) -> str:
    from qbarr.sim.arr.library import QUALITIES

    cutoff = sim.lib.cutoff_of(item)
    return next(q[1] for q in QUALITIES[sim.kind] if q[0] == cutoff)


def _dotted(text: str) -> str:
    return ".".join(part for part in text.replace("'", "").split() if part)


def _download(
    sim: SimArr, media: tuple[int, ...], title: str, item: Item, now: datetime
) -> dl.Download:
    return dl.Download(
        hash=sim.new_hash(),
        media_ids=media,
        title=title,
        quality_id=sim.lib.cutoff_of(item),
        grabbed=now,
        source="search",
    )


def grab_now(sim: SimArr, media_ids: list[int], title: str | None = None) -> dl.Download:
    """/sim/grab: grab a release for these media at once (no command)."""
    items = [sim.lib.items[i] for i in media_ids]
    download = _download(
        sim,
        tuple(i.id for i in items),
        title or release_title(sim, items[0]),
        items[0],
        datetime.now(UTC),
    )
    download.source = "control"
    sim.add_to_client(download)
    with sim.lock:
        sim.grabs += 1
    return download


def blocklist_resource(sim: SimArr, entry: Any) -> dict[str, Any]:
    """A BlocklistResource for one entry, with the kind's media id fields."""
    from qbarr.sim.arr.resources import iso, quality

    download = entry.download
    rec: dict[str, Any] = {
        "id": entry.id,
        "sourceTitle": download.title,
        "quality": quality(sim.kind, download.quality_id),
        "customFormats": [],
        "date": iso(entry.date),
        "protocol": "torrent",
        "indexer": download.indexer,
        "message": entry.message,
    }
    items = [sim.lib.items[i] for i in download.media_ids if i in sim.lib.items]
    if sim.kind == "radarr":
        rec["movieId"] = items[0].id if items else 0
        rec["languages"] = [{"id": 1, "name": "English"}]
    elif sim.kind == "sonarr":
        rec["seriesId"] = items[0].parent_id if items else 0
        rec["episodeIds"] = [i.id for i in items]
        rec["languages"] = [{"id": 1, "name": "English"}]
    else:
        rec["artistId"] = items[0].parent_id if items else 0
        rec["albumIds"] = [i.id for i in items]
    return rec
