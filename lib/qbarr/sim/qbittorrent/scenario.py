"""Torrents from specs: the /sim/torrents control API and JSON scenarios.

A *spec* describes one torrent by what a test cares about ("state": "stalledDL",
"progress": 0.4, "stall_after": 120, ...); `apply_spec` turns it into the inner
flags that produce that state, for a new or an existing torrent. A *scenario*
generates N torrents from a seeded RNG (same seed, same torrents) with a mix of
initial states and timed events (stall, error, completion).
"""

from __future__ import annotations

import math
import random
from typing import Any

from ...units import parse_size
from .errors import HttpError
from .store import Store
from .torrent import SimFile, SimTorrent

STATES = {
    "downloading",
    "forcedDL",
    "stalledDL",
    "metaDL",
    "forcedMetaDL",
    "uploading",
    "forcedUP",
    "stalledUP",
    "pausedUP",
    "pausedDL",
    "stoppedUP",
    "stoppedDL",
    "queuedDL",
    "queuedUP",
    "checkingDL",
    "checkingUP",
    "checkingResumeData",
    "moving",
    "error",
    "missingFiles",
}
COMPLETE_STATES = {
    "uploading",
    "forcedUP",
    "stalledUP",
    "pausedUP",
    "stoppedUP",
    "queuedUP",
    "checkingUP",
    "missingFiles",
}
DEFAULT_MIX = {
    "complete": 0.5,
    "downloading": 0.35,
    "stalled": 0.08,
    "metadl": 0.03,
    "error": 0.02,
    "missing": 0.01,
    "paused": 0.01,
}
MIX_STATE = {
    "complete": "stalledUP",
    "uploading": "uploading",
    "downloading": "downloading",
    "stalled": "stalledDL",
    "metadl": "metaDL",
    "error": "error",
    "missing": "missingFiles",
    "paused": "pausedDL",
    "paused_complete": "pausedUP",
    "queued": "queuedDL",
    "checking": "checkingDL",
}
_TITLES = (
    "Amber",
    "Harbor",
    "Quiet",
    "Northern",
    "Silver",
    "Hollow",
    "Iron",
    "Velvet",
    "Last",
    "Glass",
    "Winter",
    "Paper",
    "Lunar",
    "Crimson",
    "Distant",
    "Wild",
)
_NOUNS = (
    "Signal",
    "River",
    "Kingdom",
    "Frontier",
    "Garden",
    "Protocol",
    "Orchard",
    "Empire",
    "Tide",
    "Echo",
    "Station",
    "Voyage",
    "Archive",
    "Meridian",
    "Harvest",
    "Canyon",
)


def size_of(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else parse_size(str(value))


def release_name(rnd: random.Random, category: str, i: int) -> str:
    title = f"{rnd.choice(_TITLES)}.{rnd.choice(_NOUNS)}"
    if any(k in category.lower() for k in ("sonarr", "tv", "show")):
        return f"{title}.S{rnd.randint(1, 9):02d}E{rnd.randint(1, 24):02d}.1080p.WEB.h264-SIM{i}"
    if any(k in category.lower() for k in ("lidarr", "music")):
        return f"{title.replace('.', ' ')} - Album {i} ({rnd.randint(1970, 2025)}) [FLAC]"
    return f"{title}.{rnd.randint(1960, 2025)}.1080p.BluRay.x264-SIM{i}"


def new_torrent(store: Store, spec: dict[str, Any], now: float) -> SimTorrent:
    """A torrent from a spec (not inserted yet)."""
    rnd = store.rnd
    h = str(spec.get("hash") or f"{rnd.getrandbits(160):040x}").lower()
    if len(h) != 40 or any(c not in "0123456789abcdef" for c in h):
        raise HttpError(400, "hash must be 40 hex digits")
    category = str(spec.get("category", ""))
    name = str(spec.get("name") or release_name(rnd, category, len(store.torrents)))
    cat = store.categories.get(category) or {}
    save_path = str(spec.get("save_path") or cat.get("savePath") or store.prefs["save_path"])
    if "files" in spec:
        files = [SimFile(str(f["name"]), size_of(f["size"])) for f in spec["files"]]
    else:
        size = size_of(spec.get("size", 1024**3))
        ext = ".flac" if "FLAC" in name else ".mkv"
        files = [SimFile(f"{name}/{name}{ext}", size)]
    t = SimTorrent(
        hash=h,
        name=name,
        save_path=save_path,
        files=files,
        category=category,
        added_on=now,
        last_activity=now,
        multi_file=True,
        trackers=["http://tracker.sim.invalid/announce"],
        created_by="qbarr-sim",
    )
    t.piece_size = 1 << max(15, min(24, int(math.log2(max(1, t.wanted) / 1500) + 1)))
    apply_spec(store, t, {"state": "stalledDL", **spec}, now, new=True)
    return t


def apply_spec(
    store: Store, t: SimTorrent, spec: dict[str, Any], now: float, new: bool = False
) -> None:
    """Set what the spec names; a "state" resets the flags that would contradict it."""
    if "state" in spec:
        _apply_state(store, t, str(spec["state"]), spec, now)
    if "progress" in spec:
        _set_progress(t, float(spec["progress"]))
    simple = {
        "name": str,
        "category": str,
        "save_path": str,
        "seeds": int,
        "leechs": int,
        "swarm_seeds": int,
        "swarm_leechs": int,
        "availability": float,
        "tracker_ok": bool,
        "tracker_msg": str,
        "private": bool,
        "ratio_limit": float,
        "seeding_time_limit": int,
        "inactive_seeding_time_limit": int,
        "dl_limit": int,
        "up_limit": int,
        "seeding_time": float,
        "time_active": float,
        "uploaded": float,
        "downloaded": float,
        "error_sticky": bool,
        "comment": str,
        "share_limit_action": str,
    }
    rename = {"inactive_seeding_time_limit": "inactive_limit", "share_limit_action": "share_action"}
    for key, kind in simple.items():
        if key in spec:
            setattr(t, rename.get(key, key), kind(spec[key]))
    if "dl_speed" in spec:
        t.dl_rate = float(size_of(spec["dl_speed"]))
    if "up_speed" in spec:
        t.ul_rate = float(size_of(spec["up_speed"]))
    if "tags" in spec:
        tags = spec["tags"]
        t.tags = set(tags.split(",") if isinstance(tags, str) else tags) - {""}
    if "trackers" in spec or "tracker" in spec:
        value = spec.get("trackers", spec.get("tracker"))
        t.trackers = [value] if isinstance(value, str) and value else list(value or [])
    if "tracker_list" in spec:  # [{"url", "status", "msg"}]: each tracker scripted
        listed = [dict(x) for x in spec["tracker_list"] or []]
        t.trackers = [str(x["url"]) for x in listed]
        t.tracker_status = {
            str(x["url"]): (int(x.get("status", 2)), str(x.get("msg", ""))) for x in listed
        }
    if "ratio" in spec:
        t.uploaded = float(spec["ratio"]) * max(t.downloaded, t.wanted)
    if "error_message" in spec:
        t.error_text = str(spec["error_message"])
        if t.error:
            t.error = t.error_text
    for key in ("added_on", "completion_on", "last_activity"):
        if key in spec:
            setattr(t, key, float(spec[key]))
    if "added_ago" in spec:
        t.added_on = now - float(spec["added_ago"])
    if "completed_ago" in spec and t.complete:
        t.completion_on = now - float(spec["completed_ago"])
    if "inactive_for" in spec:
        t.last_activity = now - float(spec["inactive_for"])
    for key, attr in (
        ("stall_after", "stall_at"),
        ("error_after", "error_at"),
        ("meta_after", "meta_at"),
    ):
        if key in spec and spec[key] is not None:
            setattr(t, attr, now + float(spec[key]))
            if not new:
                store.schedule(t, getattr(t, attr), attr.split("_")[0])


def _set_progress(t: SimTorrent, progress: float) -> None:
    files = t.files if t.has_metadata else t.meta_files
    left = max(0.0, min(1.0, progress)) * sum(f.size for f in files if f.priority > 0)
    for f in files:
        f.done = min(float(f.size), left) if f.priority > 0 else 0.0
        left -= f.done
    if progress < 1:
        t.completion_on = 0.0


def _apply_state(store: Store, t: SimTorrent, state: str, spec: dict[str, Any], now: float) -> None:
    if state not in STATES:
        raise HttpError(400, f"unknown state {state!r}")
    t.paused = t.queued = t.forced = t.missing = False
    t.error, t.resume_until, t.checking_until, t.moving_until = "", 0.0, 0.0, 0.0
    if state in ("metaDL", "forcedMetaDL"):
        if t.has_metadata:
            t.meta_files, t.files, t.has_metadata = t.files, [], False
    elif not t.has_metadata:
        t.files, t.has_metadata = t.meta_files or t.files, True
    if state in COMPLETE_STATES and t.has_metadata:
        t.set_complete(now)
        t.priority = 0
    elif "progress" not in spec and t.complete:
        _set_progress(t, 0.0)
    if state in ("downloading", "forcedDL"):
        t.seeds = max(t.seeds, 3)
        t.swarm_seeds = max(t.swarm_seeds, t.seeds)
        t.dl_rate = t.dl_rate or 4 * 1024 * 1024
    elif state in ("stalledDL", "metaDL", "forcedMetaDL"):
        t.seeds = 0
    elif state in ("uploading", "forcedUP"):
        t.leechs = max(t.leechs, 2)
        t.swarm_leechs = max(t.swarm_leechs, t.leechs)
        t.ul_rate = t.ul_rate or 512 * 1024
    elif state == "stalledUP":
        t.leechs = 0
    t.paused = state.startswith(("paused", "stopped"))
    t.queued = state.startswith("queued")
    t.forced = state.startswith("forced")
    if state == "error":
        t.error = t.error_text
    elif state == "missingFiles":
        t.missing = True
        for f in t.files:
            f.done = 0.0
    hold = float(spec.get("hold", 3600.0))
    if state.startswith("checking") and state != "checkingResumeData":
        t.check_was_complete = state == "checkingUP"
        t.checking_from, t.checking_until = now, now + hold
        store.schedule(t, t.checking_until, "timer")
    elif state == "checkingResumeData":
        t.resume_until = now + hold
        store.schedule(t, t.resume_until, "timer")
    elif state == "moving":
        t.moving_until = now + hold
        store.schedule(t, t.moving_until, "timer")


def generate(store: Store, scenario: dict[str, Any], now: float) -> list[SimTorrent]:
    """N torrents with a seeded mix of states and timed events (not inserted yet)."""
    rnd = random.Random(scenario.get("seed", store.config.seed))
    store.rnd.seed(rnd.random())
    if isinstance(scenario.get("on_add"), dict):
        store.on_add = dict(scenario["on_add"])
    count = int(scenario.get("torrents", 0))
    cats = scenario.get("categories") or {}
    if isinstance(cats, list):
        cats = {c: "" for c in cats}
    mix = scenario.get("mix") or DEFAULT_MIX
    lo, hi = (size_of(v) for v in scenario.get("size", ["200MiB", "8GiB"]))
    slo, shi = (size_of(v) for v in scenario.get("speed", ["256KiB", "16MiB"]))
    trackers = scenario.get("trackers") or ["http://tracker.sim.invalid/announce"]
    stall = scenario.get("stall") or {}
    error = scenario.get("error") or {}
    complete_after = scenario.get("complete_after")
    within = float(scenario.get("added_within", 7 * 86400))
    states, weights = zip(*mix.items(), strict=True)
    out = []
    for i in range(count):
        kind = rnd.choices(states, weights)[0]
        category = rnd.choice(list(cats)) if cats else ""
        size = int(math.exp(rnd.uniform(math.log(lo), math.log(max(lo, hi)))))
        spec: dict[str, Any] = {
            "hash": f"{rnd.getrandbits(160):040x}",
            "category": category,
            "name": release_name(rnd, category, i),
            "size": size,
            "state": MIX_STATE.get(kind, kind),
            "dl_speed": int(rnd.uniform(slo, shi)),
            "trackers": [rnd.choice(trackers)],
            "added_ago": rnd.uniform(0, within),
            "private": rnd.random() < float(scenario.get("private_fraction", 0.0)),
            "tags": list(scenario.get("tags", [])),
            "swarm_seeds": rnd.randint(0, 50),
            "swarm_leechs": rnd.randint(0, 50),
        }
        state = spec["state"]
        if state in COMPLETE_STATES:
            spec["completed_ago"] = rnd.uniform(0, spec["added_ago"])
            spec["seeding_time"] = spec["completed_ago"]
            spec["downloaded"] = size
            spec["uploaded"] = size * rnd.uniform(0, 3)
        elif state not in ("metaDL",):
            spec["progress"] = round(rnd.uniform(0, 0.95), 4)
            spec["downloaded"] = int(size * spec["progress"])
        spec["time_active"] = spec["added_ago"]
        if state == "downloading":
            if complete_after:
                left = size * (1 - spec["progress"])
                spec["dl_speed"] = int(left / max(1.0, rnd.uniform(*complete_after)))
            if stall and rnd.random() < float(stall.get("fraction", 0)):
                spec["stall_after"] = rnd.uniform(*stall.get("after", [30, 600]))
            elif error and rnd.random() < float(error.get("fraction", 0)):
                spec["error_after"] = rnd.uniform(*error.get("after", [30, 600]))
        t = new_torrent(store, spec, now)
        for c, path in cats.items():
            store.ensure_category(c, path)
        out.append(t)
    return out
