"""A full disk under the data dir: reported, waited out without a crash loop, and every
pending action carried out exactly once when space returns.

The data dir lives on a small tmpfs mounted by the test (we are root; it is unmounted in
``finally``). Two layouts, as users have them:

- ``logs-elsewhere``: supervisord's and the programs' logs (and ``qbarr run``'s output) on
  another disk, as with systemd or Docker: only qbarr.db is on the full disk;
- ``logs-inside``: everything in the data dir, as ``qbarr demo`` has it: supervisord's own
  log files fail too.

While the disk is full, ten downloads complete in qBittorrent (the simulator); their imports
cannot even be journaled. Once the filler is removed, each must be imported exactly once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from qbarr.paths import Home
from tests.conftest import needs_root
from tests.system.conftest import QBARR, Suite
from tests.system.manager_helpers import (
    Inst,
    decisions,
    manager_config,
    scans_by_hash,
    spec,
    wait_cycles,
    world,
)

pytestmark = [pytest.mark.system, needs_root]

TORRENTS = 10
OBSERVE = 25.0  # long enough for a crash loop to reach FATAL (startsecs 2, 3 retries)
SETTINGS = {"LoopInterval": "1s", "QueueRefresh": "1s"}
BAD_STATES = {"BACKOFF", "FATAL", "EXITED", "UNKNOWN"}


def H(n: int) -> str:
    return f"df{n:04d}".ljust(40, "0")


@contextlib.contextmanager
def small_disk(size: str = "64m") -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="qbdf", dir="/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte; returns the filler."""
    filler = disk / "filler"
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True, check=False
    )
    return filler


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("QBARR", "SUPERVISOR"))}


@pytest.mark.parametrize("layout", ["logs-elsewhere", "logs-inside"])
def test_a_full_disk_is_waited_out_and_every_import_happens_once(
    tmp_path: Path, layout: str
) -> None:
    with small_disk() as disk, world(tmp_path / "sims", ["radarr"]) as (qbt, arrs):
        arr = arrs["radarr"]
        home = Home(disk / "home")
        home.root.mkdir()
        outside = Path(tempfile.mkdtemp(prefix="qbdo", dir="/tmp"))
        try:
            if layout == "logs-elsewhere":
                (outside / "logs").mkdir()
                home.logs.symlink_to(outside / "logs")
                run_out = outside / "run.out"
            else:
                run_out = home.root / "run.out"
            inst = Inst("Radarr-Main", "radarr", arr.url)
            home.config.write_text(manager_config(qbt.url, [inst], SETTINGS))
            with open(run_out, "wb") as out:
                proc = subprocess.Popen(
                    [QBARR, "--home", str(home.root), "run"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env=_env(),
                )
            suite = Suite(home, proc, [inst.spec], {})
            try:
                _scenario(suite, qbt, arr, disk, run_out)
            finally:
                suite.stop_quietly()
        finally:
            shutil.rmtree(outside, ignore_errors=True)


def _scenario(suite: Suite, qbt, arr, disk: Path, run_out: Path) -> None:  # noqa: ANN001
    suite.wait_running()
    hashes = [H(n) for n in range(TORRENTS)]
    qbt.control(
        "POST",
        "/sim/torrents",
        [spec(h, "radarr", "downloading", progress=0.5, dl_speed=1024) for h in hashes],
    )
    arr.control("POST", "/sim/poll")
    suite.wait_for(
        lambda: all(decisions(suite, "Radarr-Main", h) for h in hashes), "the downloads seen"
    )
    supervisord = suite.supervisord
    filler = fill(disk)
    assert shutil.disk_usage(disk).free < 1024 * 1024
    for h in hashes:
        qbt.control("POST", f"/sim/torrents/{h}", {"state": "stalledUP"})
    arr.control("POST", "/sim/poll")

    # While it is full: no crash loop, supervisord alive, the trouble reported.
    seen_bad: list[str] = []
    deadline = time.monotonic() + OBSERVE
    while time.monotonic() < deadline:
        assert supervisord.is_running() and supervisord.status() != psutil.STATUS_ZOMBIE, (
            f"supervisord died: {run_out.read_text(errors='replace')[-3000:]}"
        )
        for name, info in suite.states().items():
            if info["statename"] in BAD_STATES:
                seen_bad.append(f"{name} {info['statename']}")
        time.sleep(0.5)
    assert seen_bad == [], seen_bad
    status = suite.qbarr("status")
    assert status.returncode == 0, status.stderr
    assert "disk" in status.stdout and "full" in status.stdout, status.stdout
    port = int(suite.home.config.read_text().split("Port = ")[1].split()[0])
    page = httpx.get(
        f"http://127.0.0.1:{port}/programs",
        headers={"Authorization": "Bearer test-token-abcdefgh"},
        timeout=30,
    )
    assert page.status_code == 200 and "full" in page.text, page.text[:2000]

    # Space returns: every import exactly once, nothing half-written.
    filler.unlink()
    keys = tuple(f"import:{h}" for h in hashes)
    marks = ",".join("?" * len(keys))

    def imported() -> bool:
        done = suite.query(
            f"SELECT COUNT(*) AS n FROM actions WHERE status = 'done' AND key IN ({marks})", keys
        )[0]["n"]
        return done == TORRENTS and all(scans_by_hash(arr)[h] >= 1 for h in hashes)

    suite.wait_for(imported, "every import done after space returned", timeout=120)
    wait_cycles(suite, "Radarr-Main", 5)
    scans = scans_by_hash(arr)
    assert {h: scans[h] for h in hashes} == dict.fromkeys(hashes, 1)
    assert suite.query("PRAGMA quick_check") == [{"quick_check": "ok"}]
    assert suite.query("SELECT * FROM actions WHERE status IN ('sending', 'planned')") == []
    assert [r for r in suite.crashes("arr-radarr-main") if r["event"] in ("backoff", "fatal")] == []
    suite.wait_running()
    assert suite.heartbeat("Radarr-Main")["status"] == "ok"
