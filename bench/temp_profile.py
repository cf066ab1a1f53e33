"""Arr requests of one temporary-profile cycle (figures printed, nothing asserted).

    python bench/temp_profile.py

Against a Radarr simulator with missing movies on the "HD-1080p" profile: one search pass
(switch + search), then a file is imported for every searched movie and the wanted list is
read again (switch-back). Runs the same with and without UseTempForMissing and prints the
API calls per route and the difference per movie.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from qbarr.arr import make_client
from qbarr.db import open_migrated
from qbarr.search.runner import SearchRunner
from qbarr.search.settings import SearchSettings
from qbarr.sim.arr.launch import start_sim

KEY = "bench-key"


def one(temp: bool, folder: Path) -> tuple[Counter[str], int]:
    sim = start_sim("radarr", api_key=KEY, library=40, missing_fraction=0.1, seed=5,
                    grab_probability=0.0, search_duration=0.05)  # fmt: skip
    try:
        settings = SearchSettings(
            kind="radarr", enabled=True, search_delay=0.0, search_limit=50, max_per_day=0,
            max_per_hour=-1, search_cutoff_unmet=False, use_temp_for_missing=temp,
            profile_mappings=(("HD-1080p", "Any"),),
        )  # fmt: skip
        db = open_migrated(folder / f"{temp}.db")
        runner = SearchRunner("bench", settings, db, make_client("radarr", sim.url, KEY))
        before = Counter(sim.control("GET", "/sim/state")["api_calls"])
        runner.step()
        searched = [int(r["item"].split(":")[1]) for r in db.query("SELECT item FROM searches")]
        sim.control("POST", "/sim/library/file", json={"ids": searched})
        runner.wanted_at = None
        runner.step()
        after = Counter(sim.control("GET", "/sim/state")["api_calls"])
        switched = db.execute(
            "SELECT COUNT(*) FROM actions WHERE key LIKE 'profile-switch:%' AND status = 'done'"
        ).fetchone()[0]
        return after - before, int(switched)
    finally:
        sim.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain, _ = one(False, Path(tmp))
        temp, m = one(True, Path(tmp))
    print(f"movies switched to the temporary profile (and back): {m}")
    for route in sorted(set(plain) | set(temp)):
        print(f"  {route:<40} {plain[route]:>4} {temp[route]:>4}")
    extra = sum(temp.values()) - sum(plain.values())
    print(
        f"total {sum(plain.values())} without, {sum(temp.values())} with: {extra} more, "
        f"{extra / max(m, 1):.1f} per movie (switch + switch-back, profile list included)"
    )


if __name__ == "__main__":
    main()
