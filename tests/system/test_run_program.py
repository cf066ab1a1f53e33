"""`qbarr run-program` (one program in the foreground, no supervisord) and `qbarr health`.

What an orchestrator relies on: the program runs in the foreground as the command's own
process (exec: the pid the orchestrator started), writes its heartbeat, stops on SIGTERM with
exit 0 within the grace period, exits non-zero on a fatal error (so it is restarted), and
`qbarr health` tells alive from not alive by the heartbeat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from qbarr.paths import Home
from tests.support.waiting import wait_for
from tests.system.conftest import short_home
from tests.system.manager_helpers import Inst, manager_config, world

pytestmark = pytest.mark.system

INSTANCE, CATEGORY, PROGRAM = "Radarr-Main", "radarr", "arr-radarr-main"


def qbarr(home: Home, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qbarr_programs.cli", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(home: Home, program: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "qbarr_programs.cli", "--home", str(home.root)]
            + ["run-program", program],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SUPERVISOR_")},
        )
    finally:
        out.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def make_home(qbt_url: str, arr_url: str) -> Home:
    home = short_home()
    home.root.mkdir(parents=True, exist_ok=True)
    inst = Inst(INSTANCE, CATEGORY, url=arr_url)
    home.config.write_text(manager_config(qbt_url, [inst]))
    return home


def test_a_manager_runs_in_the_foreground_reports_alive_and_stops_on_term(tmp_path: Path) -> None:
    with world(tmp_path, [CATEGORY]) as (qbt, arrs):
        home = make_home(qbt.url, arrs[CATEGORY].url)
        assert qbarr(home, "health", PROGRAM).returncode == 1  # nothing ran yet
        log = tmp_path / "program.log"
        proc = start(home, PROGRAM, log)
        try:
            alive = wait_for(
                lambda: qbarr(home, "health", PROGRAM).returncode == 0,
                timeout=60,
                interval=0.5,
                what="a fresh heartbeat",
                context=lambda: log.read_text(errors="replace"),
            )
            assert alive
            # exec'd: the process the orchestrator started *is* the manager, no supervisord
            cmdline = " ".join(psutil.Process(proc.pid).cmdline())
            assert "qbarr-arr" in cmdline and INSTANCE in cmdline, cmdline
            assert not (home.run / "supervisord.pid").exists()
            health = qbarr(home, "health", PROGRAM)
            assert f"pid {proc.pid}" in health.stdout, health.stdout
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text(errors="replace")
        finally:
            stop(proc)
        after = qbarr(home, "health", PROGRAM)
        assert after.returncode == 1 and "stopped" in after.stderr, after.stderr


def test_a_crash_exits_non_zero_so_the_orchestrator_restarts_it(tmp_path: Path) -> None:
    home = make_home("http://127.0.0.1:9", "http://127.0.0.1:9")
    (home.root / "debug").mkdir()
    (home.root / "debug" / "crash-radarr-main").touch()
    proc = start(home, PROGRAM, tmp_path / "crash.log")
    try:
        assert proc.wait(timeout=60) != 0
    finally:
        stop(proc)


def test_unknown_programs_and_bad_config_are_refused_with_exit_78(tmp_path: Path) -> None:
    home = make_home("http://127.0.0.1:9", "http://127.0.0.1:9")
    unknown = qbarr(home, "run-program", "arr-nope")
    assert unknown.returncode == 78
    assert "arr-nope" in unknown.stderr and PROGRAM in unknown.stderr, unknown.stderr
    watchdog = qbarr(home, "run-program", "watchdog")
    assert watchdog.returncode == 78 and "qbarr health" in watchdog.stderr
    dry = qbarr(home, "run-program", "--dry-run", PROGRAM)
    assert dry.returncode == 0 and "qbarr-arr" in dry.stdout and INSTANCE in dry.stdout
    assert home.database.exists()  # migrated before the program would start
    text = home.config.read_text()
    assert "LoopInterval = 0.5s" in text
    home.config.write_text(text.replace("LoopInterval = 0.5s", "LoopInterval = soon"))
    broken = qbarr(home, "run-program", PROGRAM)
    assert broken.returncode == 78 and "LoopInterval" in broken.stderr, broken.stderr


def test_the_web_ui_runs_alone_and_answers_its_health_probe(tmp_path: Path) -> None:
    home = make_home("http://127.0.0.1:9", "http://127.0.0.1:9")
    log = tmp_path / "webui.log"
    proc = start(home, "webui", log)
    try:
        wait_for(
            lambda: qbarr(home, "health", "webui").returncode == 0,
            timeout=60,
            interval=0.5,
            what="the web UI's /health",
            context=lambda: log.read_text(errors="replace"),
        )
        assert not (home.run / "supervisord.pid").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text(errors="replace")
    finally:
        stop(proc)
    down = qbarr(home, "health", "webui")
    assert down.returncode == 1 and "/health" in down.stderr, down.stderr


@pytest.mark.usefixtures("engine")  # one data dir: SQLite, then PostgreSQL
def test_a_second_copy_waits_naming_the_holder_and_takes_over_when_it_dies(
    tmp_path: Path,
) -> None:
    """Under an orchestrator exiting would only be a restart loop: the second copy of a
    program on the same data dir waits, says who holds the program (pid, host, since when),
    takes over when the holder is SIGKILLed (its heartbeat, its lease), and a copy asked to
    stop while it waits exits 0 at once."""
    with world(tmp_path, [CATEGORY]) as (qbt, arrs):
        home = make_home(qbt.url, arrs[CATEGORY].url)
        text = home.config.read_text()
        home.config.write_text(text.replace("[Settings]\n", "[Settings]\nLeaseTimeout = 3s\n", 1))
        logs = [tmp_path / f"copy{i}.log" for i in range(3)]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(start(home, PROGRAM, logs[0]))

            def alive_as(pid: int) -> bool:
                health = qbarr(home, "health", PROGRAM)
                return health.returncode == 0 and f"pid {pid}" in health.stdout

            first = procs[0]
            wait_for(lambda: alive_as(first.pid), timeout=60, interval=0.5, what="the first")
            procs.append(start(home, PROGRAM, logs[1]))
            second = procs[1]
            said = wait_for(
                lambda: (
                    "waiting for it to stop" in logs[1].read_text(errors="replace")
                    and logs[1].read_text(errors="replace")
                ),
                timeout=30,
                what="the second copy naming the holder",
                context=lambda: logs[1].read_text(errors="replace"),
            )
            assert f"runs as pid {first.pid} on host " in said and " ago " in said, said
            assert second.poll() is None, said  # waits, never exits 75
            assert alive_as(first.pid)  # the heartbeat is still the holder's

            first.kill()
            first.wait(timeout=30)
            wait_for(
                lambda: alive_as(second.pid),
                timeout=60,
                interval=0.5,
                what="the second copy's heartbeat after the takeover",
                context=lambda: logs[1].read_text(errors="replace"),
            )
            assert "takes over" in logs[1].read_text(errors="replace")

            procs.append(start(home, PROGRAM, logs[2]))  # a third copy, stopped while it waits
            wait_for(
                lambda: "waiting for it to stop" in logs[2].read_text(errors="replace"),
                timeout=30,
                what="the third copy waiting",
            )
            procs[2].send_signal(signal.SIGTERM)
            assert procs[2].wait(timeout=30) == 0, logs[2].read_text(errors="replace")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, logs[1].read_text(errors="replace")
        finally:
            for proc in procs:
                stop(proc)
