"""Probe time per GB of media: what one VerifyMedia check costs (figures printed, nothing asserted).

    python bench/media_probe.py [--gib 1] [--dir /tmp] [--runs 3]

Makes a Matroska file of about --gib GiB with ffmpeg (raw video, so it is written fast), then
times the content fingerprint and the ffprobe run qbarr does per file (qbarr.media.probe), and
the same ffprobe on a copy cut in half (the truncated case). The file is deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qbarr.media.probe import Runner, ffprobe_path, fingerprint


def make(path: Path, gib: float) -> None:
    rate = 640 * 480 * 1.5 * 25  # raw yuv420p at 25 fps, bytes per second
    seconds = max(1, int(gib * 2**30 / rate))
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=640x480:rate=25",
            "-f", "lavfi", "-i", f"sine=duration={seconds}",
            "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", str(path),
        ],
        check=True,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    exe = ffprobe_path()
    if exe is None:
        print("ffprobe not found (apt-get install ffmpeg)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        movie = Path(tmp) / "movie.mkv"
        started = time.monotonic()
        make(movie, args.gib)
        size = movie.stat().st_size
        gib = size / 2**30
        print(f"made {movie.name}: {gib:.2f} GiB in {time.monotonic() - started:.1f} s")
        runner = Runner(exe)
        fps, probes = [], []
        for _ in range(args.runs):
            t0 = time.monotonic()
            fingerprint(movie)
            fps.append(time.monotonic() - t0)
            result = runner.probe(movie, timeout=600)
            assert result.verdict is not None and result.verdict.ok, result
            probes.append(result.seconds)
        cut = Path(tmp) / "cut.mkv"
        with movie.open("rb") as src, cut.open("wb") as dst:
            dst.write(src.read(size // 2))
        bad = runner.probe(cut, timeout=600)
        fp, pr = statistics.median(fps), statistics.median(probes)
        print(f"fingerprint: median {fp * 1000:.1f} ms ({fp / gib * 1000:.1f} ms per GiB)")
        print(f"ffprobe (valid file): median {pr:.3f} s ({pr / gib:.3f} s per GiB)")
        print(f"ffprobe (cut in half): {bad.seconds:.3f} s, verdict: {bad.verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
