"""Never two copies of one program: the suite dies with its terminal and its supervisord,
a second `qbarr run` refuses, and a second copy of a program never gets going."""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from qbarr.locks import FileLock
from qbarr.paths import Home
from tests.support.waiting import wait_for
from tests.system.conftest import QBARR, Suite, config_text, default_arrs, short_home

pytestmark = pytest.mark.system

GONE_WITHIN = 5.0  # the brief: no process of the suite is left within 5 s
ARR = str(Path(sys.executable).parent / "qbarr-arr")


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PUID", "PGID") and not k.startswith(("QBARR", "SUPERVISOR"))
    }


_MADE: list[Home] = []


@pytest.fixture(autouse=True)
def _remove_homes() -> Iterator[None]:
    try:
        yield
    finally:
        while _MADE:
            shutil.rmtree(_MADE.pop().root, ignore_errors=True)


def _home(arrs: int = 2) -> Home:
    """A fresh data dir with config.ini, removed after the test."""
    home = short_home()
    home.config.write_text(config_text(default_arrs(arrs)))
    _MADE.append(home)
    return home


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _all_started(suite: Suite, count: int) -> list[psutil.Process]:
    """The suite's processes, once there are ``count`` (the gunicorn worker comes last)."""
    return wait_for(
        lambda: (found := suite.descendants()) and len(found) >= count and found,
        timeout=60,
        what=f"{count} processes under the suite",
    )


class Pty:
    """`qbarr run` as the session leader of a new pseudo-terminal (like a shell in a terminal
    window or a tmux pane); its output is drained so the program never blocks on it."""

    def __init__(self, home: Home) -> None:
        self.master, slave = os.openpty()
        self.output = bytearray()
        self.closing = threading.Event()

        def take_the_terminal() -> None:  # runs in the child after setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [QBARR, "--home", str(home.root), "run"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=take_the_terminal,
            env=_env(),
        )
        os.close(slave)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while not self.closing.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def hang_up(self) -> None:
        """Close the terminal (what closing the window, `tmux kill-session` or an SSH
        disconnect do): the kernel sends SIGHUP to the session. (A read in progress would
        keep the terminal open: the reader stops first.)"""
        self.closing.set()
        self.reader.join(10)
        os.close(self.master)


def test_closing_the_terminal_stops_the_whole_suite(suite_factory) -> None:
    home = _home()
    term = Pty(home)
    suite = Suite(home, term.proc, default_arrs(2), {})
    try:
        suite.wait_running()
        suite.states()  # remembers every program's pid
        # qbarr run, supervisord, webui master + worker, watchdog, two managers
        members = [psutil.Process(term.proc.pid), *_all_started(suite, 6)]
        term.hang_up()
        wait_for(
            lambda: not [p for p in members if _alive(p)] and not suite.leftovers(),
            timeout=GONE_WITHIN,
            what="no process of the suite left after the terminal closed",
        )
        assert term.proc.wait(10) == 0
        log = suite.log("arr-radarr-a")
        assert "stopping on request" in log
        assert "reloading" not in suite.home.logs.joinpath("supervisord.log").read_text()
    finally:
        suite.kill_all()


def test_sigkill_of_supervisord_takes_every_program_with_it(suite_factory) -> None:
    suite: Suite = suite_factory(arrs=2)
    suite.states()
    programs = _all_started(suite, 5)  # webui master + worker, watchdog, two managers
    suite.supervisord.kill()
    suite.proc.wait(10)
    wait_for(
        lambda: not [p for p in programs if _alive(p)],
        timeout=GONE_WITHIN,
        what="every program gone after supervisord was SIGKILLed",
    )
    assert suite.leftovers() == []


def _managers(home: Home) -> Counter[str]:
    """Live `qbarr-arr` processes of this data dir, by instance (a sample of the table)."""
    found: Counter[str] = Counter()
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmd = proc.info["cmdline"] or []
            if proc.info["status"] == psutil.STATUS_ZOMBIE or not cmd:
                continue
            text = " ".join(cmd)
            if "qbarr-arr" not in text or proc.environ().get("QBARR_HOME") != str(home.root):
                continue
        except (psutil.Error, OSError):
            continue
        # `... qbarr-arr --instance NAME` while it starts, its title `qbarr-arr NAME` after
        words = text.split()
        found[words[words.index("--instance") + 1] if "--instance" in words else words[-1]] += 1
    return found


def test_two_qbarr_run_at_once_one_manager_per_instance_ever(suite_factory) -> None:
    home = _home()
    outputs = [home.root / "run-1.out", home.root / "run-2.out"]
    procs = []
    for path in outputs:
        with open(path, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [QBARR, "--home", str(home.root), "run"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env=_env(),
                )
            )
    suites = [Suite(home, p, default_arrs(2), {}) for p in procs]
    most: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 60
        running_since = None
        while time.monotonic() < deadline:  # sample the process table until well after start
            for name, count in _managers(home).items():
                most[name] = max(most[name], count)
            live = [s for s in suites if s.proc.poll() is None]
            if len(live) == 1 and running_since is None and live[0].states():
                states = live[0].states()
                if all(
                    states.get(n, {}).get("statename") == "RUNNING"
                    for n in live[0].expected_programs()
                ):
                    running_since = time.monotonic()
            if running_since is not None and time.monotonic() - running_since > 5:
                break
            time.sleep(0.05)
        assert running_since is not None, [p.read_text(errors="replace")[-2000:] for p in outputs]
        assert max(most.values()) == 1, most
        assert set(most) == {"Radarr-A", "Sonarr-B"}, most
        loser = next(i for i, p in enumerate(procs) if p.poll() is not None)
        assert procs[loser].returncode == 1
        winner = procs[1 - loser]
        text = outputs[loser].read_text()
        assert "already runs" in text and f"pid {winner.pid}" in text, text
    finally:
        for suite in suites:
            suite.stop_quietly()


def test_qbarr_run_refuses_while_a_program_of_the_data_dir_still_runs(tmp_path: Path) -> None:
    home = _home(arrs=1)
    home.ensure()
    # A leftover program of this data dir: spawned by its (now gone) supervisord, so its
    # environment names the data dir's control socket.
    env = dict(_env(), SUPERVISOR_ENABLED="1", SUPERVISOR_SERVER_URL=home.supervisor_url)
    env["SUPERVISOR_PROCESS_NAME"] = "arr-radarr-a"
    orphan = subprocess.Popen(["sleep", "600"], env=env, start_new_session=True)
    try:
        result = subprocess.run(
            [QBARR, "--home", str(home.root), "run"],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"arr-radarr-a (pid {orphan.pid})" in result.stderr, result.stderr
        assert orphan.poll() is None  # refused, named, never killed by qbarr run
        assert not (home.run / "supervisor.sock").exists()
    finally:
        orphan.kill()
        orphan.wait(10)


def test_a_second_copy_of_a_manager_exits_naming_the_holder_and_writes_nothing(
    tmp_path: Path,
) -> None:
    home = _home(arrs=1)
    home.ensure()
    lock = FileLock.named(home, "arr-radarr-a").acquire()  # "the copy that runs" is this test
    proc = subprocess.Popen(
        [ARR, "--instance", "Radarr-A", "--home", str(home.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        raise AssertionError(f"the second copy kept running:\n{out.decode()[-2000:]}") from None
    finally:
        lock.release()
    text = out.decode()
    assert proc.returncode == 75, text
    assert f"arr-radarr-a already runs as pid {os.getpid()}" in text, text
    if home.database.exists():
        import sqlite3

        with sqlite3.connect(home.database) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            rows = list(conn.execute("SELECT * FROM instances")) if "instances" in tables else []
        assert rows == []


ORPHAN = """
import signal, sys, time
from pathlib import Path
from qbarr.locks import FileLock
lock = FileLock(Path(sys.argv[1])).acquire(wait=300)  # as soon as the real copy lets go
print("holding", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(0.1)
"""


def test_a_manager_restarted_by_supervisord_takes_over_from_an_orphan(suite_factory) -> None:
    suite: Suite = suite_factory(arrs=1)
    old = suite.pid("arr:arr-radarr-a")
    # A copy of this data dir's manager whose supervisord is gone: it holds the lock the
    # moment the real manager dies.
    env = dict(_env(), SUPERVISOR_ENABLED="1", SUPERVISOR_SERVER_URL=suite.home.supervisor_url)
    orphan = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(suite.home.run / "arr-radarr-a.lock")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        os.kill(old, 9)
        assert orphan.stdout is not None and orphan.stdout.readline().strip() == "holding"
        new = suite.wait_state("arr:arr-radarr-a", "RUNNING", not_pid=old, timeout=90)["pid"]
        assert orphan.wait(30) == 0  # it got SIGTERM from the new copy
        beat = suite.wait_for(
            lambda: (b := suite.heartbeat("Radarr-A")) and b["pid"] == new and b,
            "the new copy's heartbeat",
        )
        assert beat["pid"] == new
        assert f"pid {orphan.pid} is an orphaned copy" in suite.log("arr-radarr-a")
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait(10)
