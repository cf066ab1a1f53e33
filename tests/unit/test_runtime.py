"""The program contract helpers: log format and scrubbing, backoff, debug triggers."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from qbarr import lifeline, runtime
from qbarr.paths import Home


def test_log_line_format_and_secret_scrubbing() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("httpx").level)
    try:
        formatter = runtime.setup_logging("arr-radarr-4k", "INFO", stream=stream)
        formatter.set_secrets(["hunter2%x", "ab", ""])
        logging.getLogger("qbarr.test").info("login with %s failed for key %s", "hunter2%x", "ab")
        logging.getLogger("httpx").info("hidden")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("httpx").setLevel(saved[2])
    line = stream.getvalue().strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO arr-radarr-4k: "
        r"login with \*{8} failed for key ab",
        line,
    )


def test_debug_trigger(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert not runtime.debug_trigger(home, "hang", "radarr-a")
    (tmp_path / "debug").mkdir()
    (tmp_path / "debug" / "hang-radarr-a").touch()
    assert runtime.debug_trigger(home, "hang", "radarr-a")
    assert not runtime.debug_trigger(home, "crash", "radarr-a")


def test_signals_wait_returns_on_request() -> None:
    signals = runtime.Signals()
    signals.request_stop()
    signals.wait(10)  # returns at once
    assert signals.stop_requested
    assert not signals.take_reload()


TITLED = """
import sys, time
from qbarr import lifeline, runtime
runtime.set_title("qbarr-arr Title-Test")
print("titled", flush=True)
time.sleep(120)
"""


def test_a_titled_program_is_still_found_as_its_data_dir_s(tmp_path: Path) -> None:
    """setproctitle may reuse the environment's memory for a long title: then
    /proc/PID/environ reads blank, and lifeline (qbarr run's refusal of a second suite, the
    takeover of an orphan) could not tell a program's data dir any more."""
    home = Home(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBARR", "SUPERVISOR"))}
    env.pop("SPT_NOENV", None)
    env.update(SUPERVISOR_SERVER_URL=home.supervisor_url, SUPERVISOR_PROCESS_NAME="arr-title")
    proc = subprocess.Popen(
        [sys.executable, "-c", TITLED], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "titled"
        found = {p.pid: p.program for p in lifeline.supervised_processes(home)}
        assert found == {proc.pid: "arr-title"}
    finally:
        proc.kill()
        proc.wait(10)
