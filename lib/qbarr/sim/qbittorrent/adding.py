"""torrents/add: .torrent files, magnets and URLs, with the 4.5 and 5.x answers."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from .actions import CHECK_RATE, split_tags
from .bencode import BencodeError, parse_torrent
from .disk import probe_new
from .errors import HttpError
from .store import Store
from .torrent import SimFile, SimTorrent

_HEX = re.compile(r"^[0-9a-fA-F]{40}$")
_B32 = re.compile(r"^[A-Za-z2-7]{32}$")


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)
    failed: int = 0
    pending: int = 0


def parse_magnet(url: str) -> tuple[str, str, list[str]] | None:
    """magnet:?xt=urn:btih:<hex|base32>&dn=..&tr=.. -> (hash, name, trackers)."""
    parts = urlsplit(url)
    if parts.scheme != "magnet":
        return None
    query = parse_qs(parts.query)
    for xt in query.get("xt", []):
        if xt.lower().startswith("urn:btih:"):
            raw = xt[9:]
            if _HEX.match(raw):
                h = raw.lower()
            elif _B32.match(raw):
                h = base64.b32decode(raw.upper()).hex()
            else:
                continue
            return h, query.get("dn", [h])[0], query.get("tr", [])
    return None


@dataclass(frozen=True)
class AddOptions:
    """The torrents/add form fields the simulator honours."""

    save_path: str
    category: str
    tags: tuple[str, ...]
    paused: bool
    skip_checking: bool
    rename: str
    dl_limit: int
    up_limit: int
    ratio: float
    seeding: int
    inactive: int


def _options(store: Store, form: dict[str, str]) -> AddOptions:
    v5 = store.api.v5
    key = "stopped" if v5 else "paused"  # 5.x ignores "paused", 4.x ignores "stopped"
    default_stop = store.prefs.get("add_stopped_enabled" if v5 else "start_paused_enabled", False)

    def num(name: str, default: float) -> float:
        try:
            return float(form[name]) if form.get(name, "") != "" else default
        except ValueError as exc:
            raise HttpError(400, "Bad Request") from exc

    return AddOptions(
        save_path=form.get("savepath") or store.prefs["save_path"],
        category=form.get("category", ""),
        tags=tuple(split_tags(form.get("tags", ""))),
        paused=form.get(key, "true" if default_stop else "false").lower() == "true",
        skip_checking=form.get("skip_checking", "").lower() == "true",
        rename=form.get("rename", ""),
        dl_limit=int(num("dlLimit", 0)),
        up_limit=int(num("upLimit", 0)),
        ratio=num("ratioLimit", -2),
        seeding=int(num("seedingTimeLimit", -2)),
        inactive=int(num("inactiveSeedingTimeLimit", -2)),
    )


def _new(h: str, name: str, opts: AddOptions, now: float) -> SimTorrent:
    return SimTorrent(
        hash=h,
        name=opts.rename or name,
        save_path=opts.save_path,
        category=opts.category,
        tags=set(opts.tags),
        added_on=now,
        last_activity=now,
        paused=opts.paused,
        dl_limit=opts.dl_limit,
        up_limit=opts.up_limit,
        ratio_limit=opts.ratio,
        seeding_time_limit=opts.seeding,
        inactive_limit=opts.inactive,
        resume_until=now + 0.15,
    )


def add(
    store: Store, urls: list[str], blobs: list[tuple[str, bytes]], form: dict[str, str]
) -> AddResult:
    """Add everything that parses; unknown categories and tags are created."""
    metas = []
    for filename, blob in blobs:
        try:
            metas.append(parse_torrent(blob))
        except BencodeError as exc:
            raise HttpError(415, f"Error: '{filename}' is not a valid torrent file.") from exc
    opts = _options(store, form)
    now = store.clock.now()
    store.bump()
    result = AddResult()
    for meta in metas:
        if meta.hash in store.torrents:
            result.failed += 1
            continue
        t = _new(meta.hash, meta.name, opts, now)
        t.files = [SimFile(path, size) for path, size in meta.files]
        t.multi_file, t.piece_size = meta.multi_file, meta.piece_length
        t.trackers, t.private = list(meta.trackers), meta.private
        t.comment, t.created_by, t.creation_date = meta.comment, meta.created_by, meta.creation_date
        if probe_new(t):
            if opts.skip_checking:
                from .disk import verify

                verify(t, now)
            else:
                t.checking_from = t.resume_until
                t.checking_until = t.resume_until + 0.3 + t.wanted / CHECK_RATE
        store.insert(t, now)
        result.added.append(t.hash)
    for url in urls:
        magnet = parse_magnet(url)
        if magnet is None:
            if url.startswith(("http://", "https://", "bc://bt/")):
                result.pending += 1  # fetched in the background by qBittorrent; never here
            else:
                result.failed += 1
            continue
        h, name, trackers = magnet
        if h in store.torrents:
            result.failed += 1
            continue
        t = _new(h, name, opts, now)
        t.has_metadata, t.trackers = False, list(trackers)
        t.resume_until = 0.0  # a magnet shows metaDL at once [live 4.5.2]
        if store.on_add:
            swarm(store, t, store.on_add, now)
        store.insert(t, now)
        result.added.append(h)
    return result


def swarm(store: Store, t: SimTorrent, rules: dict[str, object], now: float) -> None:
    """Scenario "on_add": give an added magnet a simulated swarm - metadata after a while,
    then a download at a random speed; some stall, error or never get metadata."""
    from .scenario import size_of  # scenario imports this module's neighbours

    rnd = store.rnd

    def span(key: str, default: list[float]) -> float:
        lo, hi = (float(size_of(v)) for v in rules.get(key, default))  # type: ignore[attr-defined]
        return rnd.uniform(lo, max(lo, hi))

    if rnd.random() < float(rules.get("dead_fraction", 0.0)):  # type: ignore[arg-type]
        return  # nobody has it: metaDL forever
    size = int(span("size", [200 * 2**20, 4 * 2**30]))
    ext = ".flac" if "FLAC" in t.name else ".mkv"
    t.meta_files = [SimFile(f"{t.name}/{t.name}{ext}", size)]
    t.meta_at = now + span("meta_after", [1, 5])
    t.seeds, t.dl_rate = rnd.randint(1, 20), span("speed", [2 * 2**20, 30 * 2**20])
    t.swarm_seeds, t.swarm_leechs = t.seeds + rnd.randint(0, 30), rnd.randint(0, 30)
    if rnd.random() < float(rules.get("stall_fraction", 0.0)):  # type: ignore[arg-type]
        t.stall_at = t.meta_at + span("stall_after", [5, 60])
    elif rnd.random() < float(rules.get("error_fraction", 0.0)):  # type: ignore[arg-type]
        t.error_at = t.meta_at + span("error_after", [5, 60])
