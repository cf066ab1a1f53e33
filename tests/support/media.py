"""Small real media files for the media-check tests, made with the system's ffmpeg.

``make_media(folder)`` writes a valid Matroska file, the same file cut in half (truncated)
and an MP4 file named ``.mkv`` (a container that does not match its extension), plus a
valid FLAC; it skips the test when ffmpeg is missing (Debian package ffmpeg).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LAVFI_VIDEO = ["-f", "lavfi", "-i", "testsrc=duration={d}:size=160x120:rate=25"]
LAVFI_AUDIO = ["-f", "lavfi", "-i", "sine=duration={d}"]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def make_video(path: Path, seconds: int = 20, codec: str = "mpeg4") -> Path:
    video = [a.format(d=seconds) for a in LAVFI_VIDEO]
    audio = [a.format(d=seconds) for a in LAVFI_AUDIO]
    _ffmpeg(*video, *audio, "-shortest", "-c:v", codec, "-c:a", "aac", str(path))
    return path


def make_media(folder: Path, seconds: int = 20) -> dict[str, Path]:
    """{"good": .mkv, "truncated": .mkv cut in half, "wrong": MP4 named .mkv, "flac": .flac}."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("missing tool: ffmpeg/ffprobe (apt-get install ffmpeg)")
    folder.mkdir(parents=True, exist_ok=True)
    good = make_video(folder / "good.mkv", seconds)
    data = good.read_bytes()
    truncated = folder / "truncated.mkv"
    truncated.write_bytes(data[: len(data) // 2])
    mp4 = make_video(folder / "real.mp4", seconds)
    wrong = folder / "wrong.mkv"
    wrong.write_bytes(mp4.read_bytes())
    mp4.unlink()
    flac = folder / "good.flac"
    _ffmpeg(*[a.format(d=seconds) for a in LAVFI_AUDIO], str(flac))
    return {"good": good, "truncated": truncated, "wrong": wrong, "flac": flac}
