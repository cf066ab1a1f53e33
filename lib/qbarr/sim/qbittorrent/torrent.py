"""One simulated torrent: its inner state, how time moves it, how it looks on the wire.

The inner state is what libtorrent would know (flags, bytes done per file,
rates, timers). `advance` moves it forward in simulated time; `state_of` applies
qBittorrent's precedence (TorrentImpl::updateState); `render` produces the
torrents/info fields of the chosen API version. The store diffs successive
renders to build sync/maindata deltas, so only what really changed is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .config import ApiMode

INFINITE_ETA = 8640000
MAX_RATIO = 9999.0


@dataclass(slots=True, eq=False)
class SimFile:
    path: str  # relative to the save path, '/'-separated
    size: int
    priority: int = 1  # 0 skip, 1 normal, 6 high, 7 max
    done: float = 0.0


@dataclass(slots=True, eq=False)
class SimTorrent:
    hash: str
    name: str
    save_path: str
    files: list[SimFile] = field(default_factory=list)
    piece_size: int = 4 * 1024 * 1024
    multi_file: bool = True
    category: str = ""
    tags: set[str] = field(default_factory=set)
    trackers: list[str] = field(default_factory=list)
    tracker_ok: bool = True
    tracker_msg: str = ""
    # per tracker URL: (status, msg) as torrents/trackers reports it (0 disabled, 1 not
    # contacted, 2 working, 3 updating, 4 not working; 5.2: 5 tracker error, 6 unreachable);
    # a URL not listed follows tracker_ok / tracker_msg
    tracker_status: dict[str, tuple[int, str]] = field(default_factory=dict)
    private: bool = False
    comment: str = ""
    created_by: str = ""
    creation_date: int = -1
    added_on: float = 0.0
    completion_on: float = 0.0
    seen_complete: float = 0.0
    last_activity: float = 0.0
    has_metadata: bool = True
    meta_files: list[SimFile] = field(default_factory=list)  # a magnet's files, once known
    paused: bool = False
    queued: bool = False
    forced: bool = False
    resume_until: float = 0.0  # checkingResumeData until (sim time)
    checking_from: float = 0.0
    checking_until: float = 0.0
    check_was_complete: bool = False
    moving_until: float = 0.0
    error: str = ""
    error_sticky: bool = True  # a recheck/resume finds the same error again
    error_pending: bool = False  # set while a check runs on an errored torrent
    missing: bool = False
    real_data: bool = False  # files were found on disk: checks look at the disk
    dl_rate: float = 0.0  # bytes/s while seeds are connected
    ul_rate: float = 0.0  # bytes/s while complete and leechers are connected
    seeds: int = 0
    leechs: int = 0
    swarm_seeds: int = 0
    swarm_leechs: int = 0
    availability: float = -2.0  # -2: derive from seeds
    downloaded: float = 0.0
    uploaded: float = 0.0
    downloaded_session: float = 0.0
    uploaded_session: float = 0.0
    seeding_time: float = 0.0
    time_active: float = 0.0
    last_advance: float = 0.0
    ratio_limit: float = -2
    seeding_time_limit: int = -2
    inactive_limit: int = -2
    share_action: str = "Default"
    dl_limit: int = 0
    up_limit: int = 0
    priority: int = 0
    stall_at: float = 0.0  # scheduled: seeds leave (0 = never)
    error_at: float = 0.0  # scheduled: an I/O error
    error_text: str = "Simulated I/O error: No space left on device"
    meta_at: float = 0.0  # scheduled: a magnet's metadata arrives
    next_counter: float = 0.0  # scheduled: counters refresh (tracker announce)
    # sync bookkeeping, owned by the store
    out: dict[str, Any] = field(default_factory=dict)
    fseq: dict[str, int] = field(default_factory=dict)
    cseq: int = 0
    mseq: int = 0

    # ------------------------------------------------------------------ sizes
    # libtorrent counts wanted bytes per piece: a skipped file that shares a piece with a
    # wanted one still counts; a seed (all pieces present) always reports its full size;
    # with every file skipped the torrent is "finished" (stalledUP) with size 0 [live 4.5.2].
    @property
    def file_wanted(self) -> int:
        return sum(f.size for f in self.files if f.priority > 0)

    @property
    def done_wanted(self) -> float:
        return sum(f.done for f in self.files if f.priority > 0)

    @property
    def is_seed(self) -> bool:
        return bool(self.files) and all(f.done >= f.size for f in self.files)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files) if self.has_metadata else -1

    def sizes(self) -> tuple[int, int, bool]:
        """(size, completed, finished) in one pass over the files (render is hot)."""
        if not self.has_metadata or not self.files:
            return 0, 0, False
        total = want = 0
        done_all = True
        all_wanted = True
        done = 0.0
        for f in self.files:
            total += f.size
            if f.done < f.size:
                done_all = False
            if f.priority > 0:
                want += f.size
                done += f.done
            else:
                all_wanted = False
        if done_all:
            return total, total, True
        size = total if all_wanted else _piece_wanted(self.files, self.piece_size)
        if not want:
            return size, 0, True
        if done >= want:
            return size, size, True
        return size, int(size * done / want), False

    @property
    def wanted(self) -> int:
        """torrents/info "size"."""
        return self.sizes()[0]

    @property
    def completed(self) -> int:
        return self.sizes()[1]

    @property
    def complete(self) -> bool:
        """Finished: every wanted piece present (also when nothing is wanted)."""
        return self.sizes()[2]

    # ------------------------------------------------------------------ predicates
    def busy(self, now: float) -> bool:
        return self.resume_until > now or self.moving_until > now or self.checking_until > now

    def running(self) -> bool:
        return not (self.paused or self.error or self.missing)

    def downloading(self, now: float, complete: bool | None = None) -> bool:
        if self.seeds <= 0 or self.dl_rate <= 0 or not self.running() or self.queued:
            return False
        if complete is None:
            complete = self.complete
        return self.has_metadata and not complete and not self.busy(now)

    def uploading(self, now: float, complete: bool | None = None) -> bool:
        if self.leechs <= 0 or self.ul_rate <= 0 or not self.running() or self.queued:
            return False
        if complete is None:
            complete = self.complete
        return complete and not self.busy(now)

    def content_path(self) -> str:
        if not self.has_metadata or not self.files:
            return ""
        if self.multi_file and len(self.files) > 1:
            return os.path.join(self.save_path, self.name)
        return os.path.join(self.save_path, self.files[0].path)

    def set_complete(self, now: float) -> None:
        for f in self.files:
            f.done = float(f.size)
        self.completion_on = self.completion_on or now
        self.seen_complete = self.seen_complete or now


def advance(t: SimTorrent, now: float, factor: float) -> tuple[float, float]:
    """Move t to `now`; return (bytes downloaded, bytes uploaded) in that span."""
    start = t.last_advance
    dt = now - start
    if dt <= 0:
        return 0.0, 0.0
    t.last_advance = now
    was_complete = now_complete = t.complete
    got = sent = 0.0
    if t.downloading(start, was_complete):
        rate = t.dl_rate * factor
        need = float(t.file_wanted - t.done_wanted)
        got = min(need, rate * dt)
        _fill(t, got)
        t.downloaded += got
        t.downloaded_session += got
        t.last_activity = now
        t.seen_complete = now
        if got >= need and rate > 0:
            t.completion_on = start + need / rate
            t.priority = 0
            now_complete = True
    elif t.uploading(start, was_complete):
        sent = t.ul_rate * dt
        t.uploaded += sent
        t.uploaded_session += sent
        t.last_activity = now
    if t.running() and not t.queued:
        t.time_active += dt
        if was_complete:
            t.seeding_time += dt
        elif now_complete and t.completion_on:
            t.seeding_time += max(0.0, now - t.completion_on)
    return got, sent


def _piece_wanted(files: list[SimFile], piece: int) -> int:
    """Bytes of the pieces that hold at least one byte of a wanted file."""
    total = sum(f.size for f in files)
    piece = max(1, piece)
    ranges, offset = [], 0
    for f in files:
        if f.priority > 0 and f.size:
            ranges.append((offset // piece, (offset + f.size - 1) // piece))
        offset += f.size
    pieces: set[int] = set()
    for first, last in ranges:
        pieces.update(range(first, last + 1))
    last_piece = (total - 1) // piece if total else 0
    return sum(piece if i < last_piece else total - i * piece for i in pieces)


def _fill(t: SimTorrent, amount: float) -> None:
    for f in t.files:
        if amount <= 0:
            return
        if f.priority > 0 and f.done < f.size:
            take = min(amount, f.size - f.done)
            f.done += take
            amount -= take


def ratio_of(t: SimTorrent, completed: int | None = None) -> float:
    """qBittorrent's TorrentImpl::realRatio."""
    done = t.completed if completed is None else completed
    down = done if t.downloaded < done * 0.01 else t.downloaded
    if down <= 0:
        return 0.0 if t.uploaded <= 0 else MAX_RATIO
    return min(t.uploaded / down, MAX_RATIO)


def state_of(t: SimTorrent, now: float, v5: bool, complete: bool | None = None) -> str:
    """The state string, in qBittorrent's order of precedence."""
    stopped = "stopped" if v5 else "paused"
    if complete is None:
        complete = t.complete
    if t.resume_until > now:
        return "checkingResumeData"
    if t.moving_until > now:
        return "moving"
    if t.missing:
        return "missingFiles"
    if t.error:
        return "error"
    if not t.has_metadata:
        if t.paused:
            return stopped + "DL"
        if t.queued:
            return "queuedDL"
        return "forcedMetaDL" if t.forced else "metaDL"
    if t.checking_until > now:
        return "checkingUP" if t.check_was_complete else "checkingDL"
    if complete:
        if t.paused:
            return stopped + "UP"
        if t.queued:
            return "queuedUP"
        if t.forced:
            return "forcedUP"
        return "uploading" if t.uploading(now, True) else "stalledUP"
    if t.paused:
        return stopped + "DL"
    if t.queued:
        return "queuedDL"
    if t.forced:
        return "forcedDL"
    return "downloading" if t.downloading(now, False) else "stalledDL"


@dataclass(frozen=True)
class Limits:
    """Global share limits from the preferences (-1 = off)."""

    max_ratio: float = -1.0
    max_seeding_minutes: int = -1
    max_inactive_minutes: int = -1


def effective_limits(t: SimTorrent, g: Limits) -> tuple[float, int, int]:
    ratio = g.max_ratio if t.ratio_limit == -2 else t.ratio_limit
    seeding = g.max_seeding_minutes if t.seeding_time_limit == -2 else t.seeding_time_limit
    inactive = g.max_inactive_minutes if t.inactive_limit == -2 else t.inactive_limit
    return float(ratio), int(seeding), int(inactive)


def eta_of(
    t: SimTorrent, sizes: tuple[int, int, bool], dlspeed: int, upspeed: int, g: Limits
) -> int:
    size, completed, complete = sizes
    if not complete:
        if dlspeed > 0:
            return min(INFINITE_ETA, int((size - completed) / dlspeed))
        return INFINITE_ETA
    if not t.running():
        return INFINITE_ETA
    ratio, seeding, _ = effective_limits(t, g)
    best = INFINITE_ETA
    if seeding >= 0:
        best = min(best, max(0, int(seeding * 60 - t.seeding_time)))
    if ratio >= 0 and upspeed > 0:
        base = max(t.downloaded, completed)
        best = min(best, max(0, int((ratio * base - t.uploaded) / upspeed)))
    return best


def progress_of(t: SimTorrent, now: float, sizes: tuple[int, int, bool]) -> float:
    size, done, _ = sizes
    if not size:
        return 0.0
    if t.checking_until > now:  # a hash check re-counts what it verified so far
        span = max(1e-9, t.checking_until - t.checking_from)
        done = int(done * max(0.0, min(1.0, (now - t.checking_from) / span)))
    return round(done / size, 6) if done < size else 1.0


def render(t: SimTorrent, now: float, api: ApiMode, factor: float, g: Limits) -> dict[str, Any]:
    """The torrents/info object (without "hash") for this API version."""
    sizes = t.sizes()
    size, completed, complete = sizes
    dlspeed = int(t.dl_rate * factor) if t.downloading(now, complete) else 0
    upspeed = int(t.ul_rate) if t.uploading(now, complete) else 0
    ratio, seeding, inactive = effective_limits(t, g)
    if complete:
        availability = -1.0
    elif t.availability != -2.0:
        availability = t.availability
    else:
        availability = float(t.seeds) if t.running() and t.has_metadata else 0.0
    magnet = f"magnet:?xt=urn:btih:{t.hash}&dn={quote(t.name, safe='')}" + "".join(
        f"&tr={quote(u, safe='')}" for u in t.trackers
    )
    out: dict[str, Any] = {
        "added_on": int(t.added_on),
        "amount_left": max(0, size - completed),
        "auto_tmm": False,
        "availability": round(availability, 4),
        "category": t.category,
        "completed": completed,
        "completion_on": int(t.completion_on) if complete or t.missing else 0,
        "content_path": t.content_path(),
        "dl_limit": t.dl_limit,
        "dlspeed": dlspeed,
        "download_path": "",
        "downloaded": int(t.downloaded),
        "downloaded_session": int(t.downloaded_session),
        "eta": eta_of(t, sizes, dlspeed, upspeed, g),
        "f_l_piece_prio": False,
        "force_start": t.forced,
        "infohash_v1": t.hash,
        "infohash_v2": "",
        "last_activity": int(t.last_activity or t.added_on),
        "magnet_uri": magnet,
        "max_ratio": ratio if ratio >= 0 else -1,
        "max_seeding_time": seeding,
        "name": t.name,
        "num_complete": t.swarm_seeds,
        "num_incomplete": t.swarm_leechs,
        "num_leechs": t.leechs if t.running() else 0,
        "num_seeds": t.seeds if t.running() else 0,
        "priority": 0 if complete else t.priority,
        "progress": progress_of(t, now, sizes),
        "ratio": round(ratio_of(t, completed), 6),
        "ratio_limit": t.ratio_limit,
        "save_path": t.save_path,
        "seeding_time": int(t.seeding_time),
        "seeding_time_limit": t.seeding_time_limit,
        "seen_complete": int(t.seen_complete),
        "seq_dl": False,
        "size": size,
        "state": state_of(t, now, api.v5, complete),
        "super_seeding": False,
        "tags": ", ".join(sorted(t.tags)),
        "time_active": int(t.time_active),
        "total_size": t.total_size,
        "tracker": working_tracker(t),
        "trackers_count": len(t.trackers),
        "up_limit": t.up_limit,
        "uploaded": int(t.uploaded),
        "uploaded_session": int(t.uploaded_session),
        "upspeed": upspeed,
    }
    version = api.webapi_tuple
    if version >= (2, 9, 2):
        out["inactive_seeding_time_limit"] = t.inactive_limit
        out["max_inactive_seeding_time"] = inactive
    if version >= (2, 11, 0):
        out.update(
            popularity=0,
            root_path=out["content_path"] if t.multi_file else "",
            reannounce=0,
            comment=t.comment,
            private=t.private,
            has_metadata=t.has_metadata,
        )
    if version >= (2, 11, 7):
        out.update(
            has_tracker_warning=False,
            has_tracker_error=bool(t.trackers) and not working_tracker(t),
            has_other_announce_error=False,
        )
    if version >= (2, 12, 0):
        out["share_limit_action"] = t.share_action
    return out


def tracker_rows(t: SimTorrent) -> list[tuple[str, int, str]]:
    """(url, status, msg) of each of the torrent's trackers, in tier order."""
    default = (2 if t.tracker_ok else 4, t.tracker_msg)
    return [(url, *t.tracker_status.get(url, default)) for url in t.trackers]


def working_tracker(t: SimTorrent) -> str:
    """qBittorrent's ``tracker`` field: the first working tracker, empty when none works."""
    return next((url for url, status, _ in tracker_rows(t) if status == 2), "")
