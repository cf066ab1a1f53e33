"""Before and after: the same qbittorrent-nox scenario with the programs of two revisions.

    python bench/compare.py [--before 8296762] [--after WORKTREE] [--window 180]

Installs each side with a regular ``pip install`` into a venv of its own (the revision from
``git archive``; the after side from this checkout), then runs bench/run.py's 2-instance
qbittorrent-nox scenario (fresh qbittorrent-nox 4.5.2, 2,000 torrents, floor, warm-up,
window, 5 kills) with the suite's ``qbarr`` taken from that venv, one side after the other.
Settings a side does not know (e.g. ``IdlePollInterval`` before it existed) are left out of
its config.ini. Prints one table; docs/performance.md ("Before and after") quotes it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bench.run as bench  # noqa: E402
import tests.system.conftest as conftest  # noqa: E402

ROWS = [
    ("qbittorrent-nox CPU caused by qbarr, %", lambda r: r["caused_by_qbarr_pct"]),
    ("qbarr's CPU (every process), %", lambda r: r["qbarr_pct"]),
    ("requests to qBittorrent per minute", lambda r: r["requests_per_min"]),
    ("PSS of the whole suite, 2 instances, MiB", lambda r: r["pss_total_mb"]),
    ("PSS of the whole suite, 1 instance, MiB", lambda r: r["one_instance"]["pss_total_mb"]),
    (
        "SIGKILL -> first qBittorrent request, median s",
        lambda r: r["restart"]["kill_to_first_request_s_median"],
    ),
    ("SIGKILL -> RUNNING, median s", lambda r: r["restart"]["kill_to_running_s_median"]),
    ("SIGTERM -> every process gone, s", lambda r: r["stop_s"]),
]


def install(source: Path, venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True)
    return venv / "bin" / "qbarr"


def known_settings(venv: Path) -> set[str]:
    """The keys the installed qbarr's configspec knows (any section)."""
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import qbarr.config as c; print(c.spec_path())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        line.split("=", 1)[0].strip()
        for line in Path(found).read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }


def side(label: str, source: Path, plan: bench.Plan, work: Path) -> dict[str, Any]:
    venv = work / f"venv-{label}"
    qbarr = install(source, venv)
    known = known_settings(venv)
    conftest.QBARR = str(qbarr)
    saved = dict(bench.DEFAULTS), dict(conftest.FAST_SETTINGS)
    try:
        for table in (bench.DEFAULTS, conftest.FAST_SETTINGS):
            for key in [k for k in table if k not in known]:
                del table[key]
        bench.step(f"{label}: {source}")
        return bench.nox_scenario(2, plan, work / label)
    finally:
        bench.DEFAULTS.clear()
        bench.DEFAULTS.update(saved[0])
        conftest.FAST_SETTINGS.clear()
        conftest.FAST_SETTINGS.update(saved[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="8296762", help="git revision of the before side")
    parser.add_argument("--after", type=Path, default=REPO, help="source tree of the after side")
    parser.add_argument("--window", type=float, default=180.0)
    args = parser.parse_args()
    plan = bench.Plan(settle=60, floor=120, warmup=120, window=args.window, instances=(2,))
    work = Path(tempfile.mkdtemp(prefix="qbarr-compare-"))
    try:
        old = work / "before-src"
        old.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.before], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        results = {
            "before": side("before", old, plan, work),
            "after": side("after", args.after, plan, work),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'figure':<50} {'before ' + args.before:>18} {'after':>10}")
    for label, get in ROWS:
        print(f"{label:<50} {get(results['before']):>18} {get(results['after']):>10}")
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    out = REPO / "bench" / "results" / "compare.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"(JSON in {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
