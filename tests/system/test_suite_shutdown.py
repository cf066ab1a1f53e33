"""Stopping the suite: SIGTERM to supervisord, and supervisord as PID 1 (the Docker case)."""

from __future__ import annotations

import psutil
import pytest

from tests.conftest import needs_root, needs_tool
from tests.system.conftest import Suite, short_home

pytestmark = pytest.mark.system

# A program of our own next to the generated ones: it orphans five short-lived children
# (their parent, a subshell, exits at once) every few seconds, so only PID 1 can reap them.
ORPHANS_CONF = """[program:orphans]
command = sh -c 'while true; do for i in 1 2 3 4 5; do (sleep 0.3 &); done; sleep 5; done'
startsecs = 1
stopasgroup = true
killasgroup = true
stdout_logfile = NONE
"""


def test_sigterm_to_supervisord_stops_everything(suite_factory) -> None:
    suite: Suite = suite_factory(arrs=2)
    # RUNNING in supervisord only means alive for startsecs; on a loaded machine the manager
    # may still be importing, before its TERM handler exists. Wait until it says it started.
    for arr in suite.arrs:
        suite.wait_for(lambda a=arr: "started (pid" in suite.log(a.program), f"{arr.name} started")
    children = suite.descendants()
    assert len(children) >= 4  # webui (+ its gunicorn worker), watchdog, two managers
    # supervisord started with qbarr's reflexes on (every program stopped at once)
    assert suite.sup.call("qbarr.reflexes") == {"on": True, "off_because": ""}
    assert "qbarr reflexes off" not in suite.log("supervisord")
    suite.stop()
    assert suite.proc.returncode == 0
    assert not [p for p in children if _alive(p)]
    assert suite.leftovers() == []
    assert "stopping on request" in suite.log("arr-radarr-a")


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _zombies_of(pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["ppid", "status"]):
        if proc.info["ppid"] == pid and proc.info["status"] == psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@needs_root
@needs_tool("unshare", "apt-get install util-linux")
def test_supervisord_as_pid1_reaps_orphans_and_stops_on_sigterm(suite_factory) -> None:
    home = short_home()
    home.programs_dir.mkdir(parents=True)
    (home.programs_dir / "orphans.conf").write_text(ORPHANS_CONF)
    suite: Suite = suite_factory(
        home=home,
        arrs=1,
        prefix=("unshare", "--pid", "--fork", "--kill-child", "--mount-proc"),
        wait=False,
    )
    suite.arrs = suite.arrs[:1]
    suite.wait_running([*suite.expected_programs(), "orphans"])
    supervisord = suite.supervisord
    assert supervisord.name() != "unshare"
    # Inside the namespace supervisord is PID 1.
    with open(f"/proc/{supervisord.pid}/status") as f:
        status = f.read()
    nspid = [line for line in status.splitlines() if line.startswith("NSpid:")][0].split()
    assert nspid[-1] == "1"

    def reaped_enough() -> bool:
        return (
            suite.home.logs.joinpath("supervisord.log").read_text().count("reaped unknown pid") >= 5
        )

    suite.wait_for(reaped_enough, "supervisord reaping the orphans")
    # At any moment there may be a fresh batch not yet reaped; a moment without any shows that
    # every batch so far was reaped (a zombie PID 1 left behind would stay).
    suite.wait_for(lambda: not _zombies_of(supervisord.pid), "a moment without zombies", 20)
    children = suite.descendants()
    suite.stop()
    assert suite.proc.returncode == 0
    assert not [p for p in children if _alive(p)]
    assert suite.leftovers() == []
