"""`qbarr demo`: all programs RUNNING, an import and a failure in the simulators, clean stop
on SIGINT."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
import pytest

from qbarr.config import load, secrets_of
from tests.conftest import needs_tool
from tests.support.waiting import unless_exited, wait_for
from tests.system.conftest import short_home

pytestmark = pytest.mark.system
QBARR = str(Path(sys.executable).parent / "qbarr")
DEADLINE = 180.0


class DemoRun:
    """`qbarr demo --home H` as a subprocess whose output is collected by a thread."""

    def __init__(self, *extra: str) -> None:
        self.home = short_home()
        self.proc = subprocess.Popen(
            [QBARR, "demo", "--home", str(self.home.root), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, predicate, what: str, timeout: float = DEADLINE):
        """waiting.wait_for, failing at once if `qbarr demo` exits meanwhile."""
        check = unless_exited(self.proc, predicate, "qbarr demo", lambda: self.output)
        return wait_for(check, timeout, 0.5, what, context=lambda: self.output[-3000:])

    def arr_sim(self, name: str) -> str:
        return load(self.home.config, env={}).instance(name).url

    def supervisord(self) -> psutil.Process | None:
        """The demo's supervisord (from its pidfile), if it is alive."""
        try:
            return psutil.Process(int((self.home.run / "supervisord.pid").read_text()))
        except (OSError, ValueError, psutil.Error):
            return None

    def suite_pids(self) -> list[int]:
        """Live processes of this demo: supervisord, its descendants, and anything naming the
        data dir.
        """
        found: set[int] = set()
        sup = self.supervisord()
        if sup is not None:
            found.add(sup.pid)
            found.update(p.pid for p in sup.children(recursive=True))
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if proc.pid != self.proc.pid and str(self.home.root) in " ".join(
                proc.info["cmdline"] or []
            ):
                found.add(proc.pid)
        alive = []
        for pid in sorted(found):
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.Error:
                pass
        return alive

    def close(self) -> None:
        pids = (
            self.suite_pids()
        )  # before the demo dies: its supervisord's children are found through it
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in pids + self.suite_pids():
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        shutil.rmtree(self.home.root, ignore_errors=True)


def sim_get(url: str, path: str) -> dict:
    root = url.split("/", 3)[:3]
    return httpx.get("/".join(root) + path, timeout=10).json()


def commands_named(url: str, suffix: str) -> list[dict]:
    try:
        return [c for c in sim_get(url, "/sim/commands")["commands"] if c["name"].endswith(suffix)]
    except httpx.HTTPError:
        return []


def blocklisted(url: str) -> list[dict]:
    try:
        body = sim_get(url, "/sim/blocklist")
    except httpx.HTTPError:
        return []
    return body.get("records", body.get("blocklist", [])) if isinstance(body, dict) else body


def test_demo_runs_imports_fails_and_stops_on_sigint() -> None:
    run = DemoRun()
    try:
        run.wait_for(lambda: "programs RUNNING" in run.output, "all programs RUNNING")
        assert "web UI" in run.output and "token" in run.output
        # the simulators got their secrets from 0600 files: none on a command line or in
        # the (world-readable before) sims.conf
        secrets = secrets_of(load(run.home.config, env={}).data)
        sims = (run.home.programs_dir / "sims.conf").read_text()
        cmdlines = " ".join(" ".join(psutil.Process(p).cmdline()) for p in run.suite_pids())
        assert "qbarr-sim-arr" in cmdlines
        assert not [s for s in secrets if s in sims or s in cmdlines]
        radarr, sonarr = run.arr_sim("Radarr-Demo"), run.arr_sim("Sonarr-Demo")
        scans = run.wait_for(
            lambda: commands_named(radarr, "Scan") + commands_named(sonarr, "Scan"),
            "an import (Downloaded*Scan) in the Arr simulators",
        )
        assert all(c["body"]["downloadClientId"].isupper() for c in scans)
        run.wait_for(
            lambda: blocklisted(radarr) + blocklisted(sonarr), "a failed download blocklisted"
        )
        assert run.suite_pids(), "the suite should be running"

        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(60) == 0, run.output[-2000:]
        assert "stopped in" in run.output
        wait_for(lambda: not run.suite_pids(), 30, 0.5, "no program of the demo left")
    finally:
        run.close()


@pytest.mark.qbt
@needs_tool("qbittorrent-nox", "apt-get install qbittorrent-nox")
def test_demo_with_real_qbittorrent_imports_the_seeded_torrents() -> None:
    run = DemoRun("--real-qbittorrent")
    try:
        run.wait_for(lambda: "programs RUNNING" in run.output, "all programs RUNNING")
        radarr = run.arr_sim("Radarr-Demo")
        scans = run.wait_for(lambda: commands_named(radarr, "Scan"), "the real torrent imported")
        assert any("Demo.Movie" in c["body"]["path"] for c in scans)
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(60) == 0, run.output[-2000:]
        assert run.suite_pids() == []
    finally:
        run.close()
