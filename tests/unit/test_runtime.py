"""The program contract helpers: log format and scrubbing, backoff, debug triggers."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from qbarr import runtime
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
