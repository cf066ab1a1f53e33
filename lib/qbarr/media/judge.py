"""Which files of a torrent are media, and what ffprobe's answer says about one (pure).

A file "cannot be read" when ffprobe fails on it (its own error line is kept), when it has
no audio or video stream, when its duration is zero or unknown, when its container does not
match its extension (an ``.mkv`` that is really an MP4), or when it is cut short: ffprobe
reads the packets at the very end of the file (``-read_intervals``, a seek past the end),
so a truncated file shows either the demuxer's own complaint ("File ended prematurely"),
no packets at all, or packets that stop well before the duration the header announces.
Only the header and the last seconds are read, never the whole file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qbarr.policy.settings import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

# Disc images and DVD/Blu-ray structure files are media, but not files ffprobe can judge alone.
NOT_PROBED = frozenset({".iso", ".img", ".ifo", ".bup"})

# Extension -> substrings one of which ffprobe's format_name must contain.
CONTAINERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((".mkv", ".mk3d", ".mka", ".webm"), ("matroska", "webm")),
    **dict.fromkeys((".mp4", ".m4v", ".m4a", ".m4b", ".mov"), ("mov", "mp4")),
    ".avi": ("avi",),
    **dict.fromkeys((".ts", ".m2ts", ".mts"), ("mpegts",)),
    **dict.fromkeys((".mpg", ".mpeg", ".m2v", ".vob"), ("mpeg",)),
    **dict.fromkeys((".wmv", ".asf", ".wma"), ("asf",)),
    ".flv": ("flv",),
    **dict.fromkeys((".ogv", ".ogg", ".oga", ".ogm", ".opus"), ("ogg",)),
    ".flac": ("flac",),
    ".mp3": ("mp3",),
    ".wav": ("wav",),
    ".aac": ("aac",),
    ".ape": ("ape",),
    ".wv": ("wv",),
    **dict.fromkeys((".aif", ".aiff"), ("aiff",)),
}

# What ffprobe's demuxers print when the data stops before the container says it should.
TRUNCATION = re.compile(
    r"file ended prematurely|partial file|truncat|end of file|invalid data found", re.I
)
# A stream that ends this much before the announced duration is cut short (a seek lands on
# the last keyframe, so a few seconds of slack are normal).
MIN_GAP_S = 10.0
GAP_SHARE = 0.01


@dataclass(frozen=True)
class MediaFile:
    """One wanted media file of a torrent (``name`` relative to the save path)."""

    index: int
    name: str
    size: int


@dataclass(frozen=True)
class Verdict:
    """ffprobe's verdict on one file: ``ok``, or why not (``detail`` starts with ffprobe's
    own error line when it printed one)."""

    ok: bool
    detail: str
    format_name: str = ""
    duration: float | None = None


def extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    return "." + base.rsplit(".", 1)[-1] if "." in base else ""


def media_files(files: Sequence[Mapping[str, Any]], kind: str) -> list[MediaFile]:
    """The files to probe: wanted (priority > 0), not empty, a video (Radarr, Sonarr) or audio
    (Lidarr) extension; subtitles, NFOs and disc images are not probed."""
    allowed = AUDIO_EXTENSIONS if kind == "lidarr" else VIDEO_EXTENSIONS + AUDIO_EXTENSIONS
    out = []
    for position, f in enumerate(files):
        name = str(f.get("name") or "").replace("\\", "/")
        ext = extension(name)
        size = f.get("size")
        priority = f.get("priority", 1)
        if ext not in allowed or ext in NOT_PROBED or not isinstance(size, int) or size <= 0:
            continue
        if isinstance(priority, int) and priority <= 0:
            continue
        index = f.get("index", position)
        out.append(MediaFile(int(index) if isinstance(index, int) else position, name, size))
    return out


def error_line(stderr: str) -> str:
    """ffprobe's own words, without the ``[demuxer @ 0x...]`` prefix and the file's path."""
    lines = []
    for raw in stderr.splitlines():
        text = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", raw.strip())
        text = re.sub(r"^/\S*:\s+|^\S+\.\w{2,4}:\s+", "", text)
        if text and text not in lines:
            lines.append(text)
    return "; ".join(lines)[:300]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def judge(name: str, returncode: int, stdout: str, stderr: str) -> Verdict:
    """The verdict for one file from ffprobe's exit code and output (see the module doc)."""
    said = error_line(stderr)
    if returncode != 0:
        return Verdict(False, said or f"ffprobe exited with status {returncode}")
    try:
        data = json.loads(stdout or "{}")
    except ValueError:
        return Verdict(False, "ffprobe printed something that is not JSON")
    fmt = data.get("format") if isinstance(data.get("format"), Mapping) else {}
    format_name = str(fmt.get("format_name") or "")
    duration = _number(fmt.get("duration"))
    streams = [s for s in data.get("streams") or [] if isinstance(s, Mapping)]
    kinds = {str(s.get("codec_type")) for s in streams}
    ext = extension(name)

    def bad(why: str) -> Verdict:
        return Verdict(False, f"{said}: {why}" if said else why, format_name, duration)

    if not kinds & {"video", "audio"}:
        return bad("no audio or video stream")
    if duration is None or duration <= 0:
        return bad("zero or unknown duration")
    expected = CONTAINERS.get(ext)
    if expected and not any(part in format_name for part in expected):
        return bad(f"the container is {format_name or 'unknown'}, not what {ext} promises")
    if said and TRUNCATION.search(said):
        return bad("the file is cut short")
    stamps = [
        t
        for p in data.get("packets") or []
        if isinstance(p, Mapping) and (t := _number(p.get("pts_time"))) is not None
    ]
    if not stamps:
        return bad("no data at the end of the file (cut short)")
    end = (_number(fmt.get("start_time")) or 0.0) + duration
    gap = end - max(stamps)
    if gap > max(MIN_GAP_S, GAP_SHARE * duration):
        return bad(f"the data ends at {max(stamps):.1f} s of {duration:.1f} s (cut short)")
    return Verdict(True, "", format_name, duration)
