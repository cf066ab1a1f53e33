"""The suite under a real supervisord: start, crash recovery, hangs, FATAL, reload, update.

One suite (two Arr sections whose services are unreachable) serves the whole module; each
test leaves it running with the same programs, though pids may change.
"""

from __future__ import annotations

import json
import os
import signal

import psutil
import pytest

from tests.system.conftest import TEST_PASSWORD, ArrSpec, Suite

pytestmark = pytest.mark.system


def test_run_brings_every_program_to_running(shared_suite: Suite) -> None:
    states = shared_suite.wait_running()
    assert {"webui", "watchdog", "arr:arr-radarr-a", "arr:arr-sonarr-b"} <= set(states)
    out = shared_suite.ctl("status").stdout
    for name in ("webui", "watchdog", "arr:arr-radarr-a", "arr:arr-sonarr-b"):
        assert any(line.startswith(name) and "RUNNING" in line for line in out.splitlines()), out
    # one glibc arena per process (supervisord.conf's environment; docs/performance.md)
    for name in ("webui", "watchdog", "arr:arr-radarr-a"):
        environ = psutil.Process(states[name]["pid"]).environ()
        assert environ.get("MALLOC_ARENA_MAX") == "1", name


def test_plain_supervisorctl_works_with_the_data_dir_conf(shared_suite: Suite) -> None:
    import subprocess

    from qbarr_programs.commands.common import find_tool

    ctl = find_tool("supervisorctl")
    assert ctl is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBARR")}
    out = subprocess.run(
        [ctl, "-c", str(shared_suite.home.supervisord_conf), "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert "arr:arr-radarr-a" in out.stdout and "RUNNING" in out.stdout


def test_socket_is_private(shared_suite: Suite) -> None:
    mode = shared_suite.home.socket.stat().st_mode & 0o777
    assert mode == 0o700


def test_manager_reports_unreachable_services_in_its_heartbeat(shared_suite: Suite) -> None:
    pid = shared_suite.pid("arr:arr-radarr-a")

    def errored() -> dict | None:
        row = shared_suite.heartbeat("Radarr-A")
        return row if row and row["status"] == "error" and row["pid"] == pid else None

    row = shared_suite.wait_for(errored, "Radarr-A heartbeat reporting the connection error")
    assert "qBittorrent" in row["last_error"]
    assert shared_suite.pid("arr:arr-radarr-a") == pid  # still the same process: no crash loop
    assert psutil.Process(pid).cmdline()[0].startswith("qbarr-arr Radarr-A")
    status = shared_suite.qbarr("status")
    assert status.returncode == 0 and "Radarr-A" in status.stdout and "Sonarr-B" in status.stdout
    assert TEST_PASSWORD not in shared_suite.log("arr-radarr-a")
    assert "testkey-0123456789" not in shared_suite.log("arr-radarr-a")


def test_sigkill_restarts_only_that_manager_and_records_the_crash(shared_suite: Suite) -> None:
    before = {name: info["pid"] for name, info in shared_suite.wait_running().items()}
    os.kill(before["arr:arr-radarr-a"], signal.SIGKILL)
    info = shared_suite.wait_state(
        "arr:arr-radarr-a", "RUNNING", not_pid=before["arr:arr-radarr-a"]
    )
    assert info["pid"] != before["arr:arr-radarr-a"]
    after = {name: i["pid"] for name, i in shared_suite.states().items()}
    for name in ("webui", "watchdog", "arr:arr-sonarr-b"):
        assert after[name] == before[name], name
    rows = shared_suite.wait_for(
        lambda: shared_suite.crashes("arr-radarr-a", "exited"), "crash row"
    )
    assert rows[-1]["pid"] == before["arr:arr-radarr-a"]


def test_sighup_reloads_config_without_restart(shared_suite: Suite) -> None:
    pid = shared_suite.wait_state("arr:arr-sonarr-b", "RUNNING")["pid"]
    shared_suite.write_config(settings={"LoopInterval": "0.7s"})
    try:
        os.kill(pid, signal.SIGHUP)

        def reloaded() -> bool:
            row = shared_suite.heartbeat("Sonarr-B")
            return bool(row) and json.loads(row["stats"]).get("loop_interval") == 0.7

        shared_suite.wait_for(reloaded, "LoopInterval 0.7 in Sonarr-B's heartbeat")
        assert shared_suite.pid("arr:arr-sonarr-b") == pid
    finally:
        shared_suite.write_config(settings={"LoopInterval": "0.5s"})
        os.kill(shared_suite.pid("arr:arr-sonarr-b"), signal.SIGHUP)


def test_hung_manager_is_restarted_with_a_stack_dump(shared_suite: Suite) -> None:
    pid = shared_suite.wait_state("arr:arr-sonarr-b", "RUNNING")["pid"]
    trigger = shared_suite.debug("hang", "sonarr-b")
    try:
        shared_suite.wait_for(
            lambda: shared_suite.crashes("arr-sonarr-b", "hung"),
            "the watchdog's hung record",
            timeout=90,
        )
    finally:
        trigger.unlink(missing_ok=True)
    shared_suite.wait_state("arr:arr-sonarr-b", "RUNNING", not_pid=pid, timeout=60)
    log = shared_suite.log("arr-sonarr-b")
    assert "most recent call first" in log and "hang_forever" in log
    assert "SIGUSR1" in log
    assert shared_suite.crashes("arr-sonarr-b", "restart")


def test_program_crashing_at_start_goes_fatal_and_comes_back(shared_suite: Suite) -> None:
    pid = shared_suite.wait_state("arr:arr-radarr-a", "RUNNING")["pid"]
    trigger = shared_suite.debug("crash", "radarr-a")
    try:
        os.kill(pid, signal.SIGKILL)
        shared_suite.wait_state("arr:arr-radarr-a", "FATAL", timeout=60)
    finally:
        trigger.unlink(missing_ok=True)
    shared_suite.wait_state("arr:arr-radarr-a", "RUNNING", timeout=60)
    events = [row["event"] for row in shared_suite.crashes("arr-radarr-a")]
    assert "backoff" in events and "fatal" in events and "restart" in events
    assert "crashing on purpose" in shared_suite.log("arr-radarr-a")


def test_adding_and_removing_an_instance_restarts_the_arr_group_only(shared_suite: Suite) -> None:
    before = {name: info["pid"] for name, info in shared_suite.wait_running().items()}
    managers = [a.program for a in shared_suite.arrs]
    third = ArrSpec("Lidarr-C", "cat-c")
    shared_suite.write_config(arrs=[*shared_suite.arrs, third])
    try:
        out = shared_suite.qbarr("render")
        assert out.returncode == 0, out.stderr
        assert "arr: restarted as a whole" in out.stdout, out.stdout
        states = shared_suite.wait_running([*managers, third.program])
        for name in managers:  # the group restarted: new manager processes
            assert states[name]["pid"] != before[name], name
        for name in ("webui", "watchdog"):  # nothing else was touched
            assert states[name]["pid"] == before[name], name
    finally:
        shared_suite.write_config(arrs=shared_suite.arrs[:-1])
    out = shared_suite.qbarr("render")
    assert out.returncode == 0, out.stderr
    assert "arr: restarted as a whole" in out.stdout
    states = shared_suite.wait_running(managers)
    assert third.program not in states
    assert {n: states[n]["pid"] for n in ("webui", "watchdog")} == {
        n: before[n] for n in ("webui", "watchdog")
    }
    # supervisor's own view agrees: nothing left to update
    assert "No config updates" in shared_suite.ctl("reread").stdout


def test_ctl_tail_watchdog_shows_its_log(shared_suite: Suite) -> None:
    out = shared_suite.ctl("tail", "watchdog")  # plain supervisorctl: "no log file"
    assert out.returncode == 0, out.stdout + out.stderr
    log = shared_suite.home.logs.joinpath("watchdog.log").read_text()
    last = out.stdout.strip().splitlines()[-1]
    assert "watchdog: " in last and last in log, out.stdout


def test_start_is_quiet_and_says_where_supervisorctl_is(shared_suite: Suite) -> None:
    from qbarr_programs.commands.common import find_tool

    log = shared_suite.home.logs.joinpath("supervisord.log").read_text()
    assert "running as root" not in log  # qbarr run passes --user root on purpose
    banner = (shared_suite.home.root / "run.out").read_text()
    assert f"{find_tool('supervisorctl')} -c {shared_suite.home.supervisord_conf}" in banner


def test_stopping_a_manager_is_a_clean_exit(shared_suite: Suite) -> None:
    shared_suite.wait_state("arr:arr-radarr-a", "RUNNING")
    shared_suite.sup.stop("arr:arr-radarr-a")
    info = shared_suite.states()["arr:arr-radarr-a"]
    assert info["statename"] == "STOPPED" and info["exitstatus"] == 0
    assert "stopping on request" in shared_suite.log("arr-radarr-a")
    shared_suite.sup.start("arr:arr-radarr-a")
    shared_suite.wait_state("arr:arr-radarr-a", "RUNNING")
