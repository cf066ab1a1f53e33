"""The I/O of a media check: the content fingerprint and one ffprobe run with a timeout.

qbarr uses the system's ``ffprobe`` (Debian package ``ffmpeg``) and never downloads one.
A file's fingerprint is the SHA-256 of its size, its first and its last 64 KiB: cheap
(128 KiB read, whatever the size), and different for a truncated or re-downloaded file, so a
result remembered under it is never reused for other content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from qbarr.media.judge import Verdict, judge

CHUNK = 64 * 1024
# Seek past the end, then read up to 60 s of packets: the last keyframe to the end of file.
FFPROBE_ARGS = (
    "-v",
    "error",
    "-read_intervals",
    "999999999%+60",
    "-show_entries",
    "format=format_name,duration,start_time:stream=codec_type:packet=pts_time",
    "-of",
    "json",
)


def ffprobe_path() -> str | None:
    """The ffprobe on PATH, or None."""
    return shutil.which("ffprobe")


def ffprobe_version(path: str | None = None) -> str | None:
    """``ffprobe version 5.1.9-0+deb12u1`` (the first line of ``-version``), or None."""
    exe = path or ffprobe_path()
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return " ".join(first.split()[:3]) or None


def fingerprint(path: Path) -> str:
    """SHA-256 of size + first 64 KiB + last 64 KiB (raises OSError when unreadable)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(CHUNK))
        if size > CHUNK:
            fh.seek(max(CHUNK, size - CHUNK))
            digest.update(fh.read(CHUNK))
    return digest.hexdigest()


@dataclass(frozen=True)
class ProbeResult:
    """What one run gave: a verdict, or ``timed_out`` (no verdict: the file is not judged)."""

    verdict: Verdict | None
    seconds: float
    timed_out: bool = False


class Runner:
    """Runs ffprobe processes and can kill the ones still running (on shutdown)."""

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def probe(self, path: Path, timeout: float) -> ProbeResult:
        started = time.monotonic()
        with self._lock:
            if self._closed:
                return ProbeResult(None, 0.0, timed_out=True)
            proc = subprocess.Popen(
                [self.exe, *FFPROBE_ARGS, os.fspath(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
            self._running.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=5)  # a child still holding the pipes: give up on them
            return ProbeResult(None, time.monotonic() - started, timed_out=True)
        finally:
            with self._lock:
                self._running.discard(proc)
        if self._closed:  # killed on shutdown: no verdict
            return ProbeResult(None, time.monotonic() - started, timed_out=True)
        verdict = judge(path.name, proc.returncode, stdout, stderr)
        return ProbeResult(verdict, time.monotonic() - started)

    def kill_all(self) -> None:
        with self._lock:
            self._closed = True
            for proc in list(self._running):
                proc.kill()
