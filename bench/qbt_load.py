"""Load a real qbittorrent-nox with a library of real small torrents made from local data.

    python bench/qbt_load.py [--torrents 2000] [--keep]   (starts one, loads it, prints, stops)

The mix the performance figures use (docs/performance.md):

- 70 % complete and seeding: a one-file payload (``Bench.Movie.NNNNN.2020.1080p/...mkv``,
  16 KiB: a release the rules accept) written under ``data/``, its
  torrent added with that save path and ``skip_checking`` (the data is there; hashing 1,400
  payloads one by one would only make the set-up slower), so they seed: ``stalledUP``;
- 20 % stalled: the payload is made, the torrent built from it, the payload deleted: no data,
  no peers (DHT, PeX and LSD are off in a Nox profile): ``stalledDL``;
- 10 % paused downloads: like the stalled ones, added paused: ``pausedDL``.

Torrents go round-robin into the given categories (one per Arr instance). Payload names and
contents are seeded (same count, same torrents). :func:`load` waits until qBittorrent shows
every torrent in its final state.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qbarr.qbittorrent import QbtClient  # noqa: E402
from qbarr.qbittorrent.nox import Nox  # noqa: E402
from tests.support.torrents import Torrent, make_torrent, write_random  # noqa: E402

USER, PASSWORD = "bench", "bench-pass-0123"
BATCH = 50
FINAL = {"seed": "stalledUP", "stalled": "stalledDL", "paused": "pausedDL"}


def mix(count: int) -> list[str]:
    """The fate of each torrent: 70 % seed, 20 % stalled, 10 % paused, interleaved."""
    fates = []
    for i in range(count):
        r = i % 10
        fates.append("seed" if r < 7 else "stalled" if r < 9 else "paused")
    return fates


def build(count: int, workdir: Path) -> tuple[Path, dict[str, list[Torrent]]]:
    """Payloads and torrents; returns the data dir and the torrents by fate."""
    data, gone = workdir / "data", workdir / "gone"
    by_fate: dict[str, list[Torrent]] = {"seed": [], "stalled": [], "paused": []}
    for i, fate in enumerate(mix(count)):
        name = f"Bench.Movie.{i:05d}.2020.1080p"
        folder = (data if fate == "seed" else gone) / name
        write_random(folder / f"{name}.mkv", 16_384, i)
        by_fate[fate].append(make_torrent(folder, piece_length=16_384))
    shutil.rmtree(gone, ignore_errors=True)
    return data, by_fate


def load(
    client: QbtClient,
    count: int,
    workdir: Path,
    categories: list[str],
    timeout: float = 600.0,
) -> dict[str, int]:
    """Add ``count`` torrents (the mix above) and wait until each is in its final state."""
    data, by_fate = build(count, workdir)
    for c in categories:
        client.create_category(c, "")
    n = 0
    for fate, torrents in by_fate.items():
        for i in range(0, len(torrents), BATCH):
            batch = torrents[i : i + BATCH]
            groups: dict[str, list[bytes]] = {}  # one request per category
            for t in batch:
                groups.setdefault(categories[n % len(categories)], []).append(t.data)
                n += 1
            for category, blobs in groups.items():
                client.add(
                    torrent_files=blobs,
                    category=category,
                    save_path=str(data),
                    paused=fate == "paused",
                    skip_checking=fate == "seed",
                )
    want = Counter({FINAL[f]: len(ts) for f, ts in by_fate.items()})
    deadline = time.monotonic() + timeout
    while True:
        got = Counter(t["state"] for t in client.torrents_info())
        if got == want:
            return dict(got)
        if time.monotonic() > deadline:
            raise RuntimeError(f"qBittorrent did not settle: {dict(got)}, want {dict(want)}")
        time.sleep(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torrents", type=int, default=2000)
    parser.add_argument("--categories", default="radarr,sonarr")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="qbt-load-"))
    nox = Nox(workdir / "profile", USER, PASSWORD).start()
    try:
        t0 = time.monotonic()
        with QbtClient(nox.url, USER, PASSWORD, timeout=60) as client:
            states = load(client, args.torrents, workdir, args.categories.split(","))
        print(f"{nox.version}: {states} in {time.monotonic() - t0:.1f} s")
    finally:
        nox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
