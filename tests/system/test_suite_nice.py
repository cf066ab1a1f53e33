"""CPU niceness under supervisord: ``[Settings] Nice`` for every program, an Arr section's own
``Nice`` for its manager; every thread of each program runs at its level (what ``ps -o ni``
shows), and a raise by reload (SIGHUP) reaches the threads already running."""

from __future__ import annotations

import os
import subprocess

import pytest

from qbarr.niceness import of_thread
from tests.system.conftest import ArrSpec

pytestmark = pytest.mark.system


def levels(pid: int) -> set[int]:
    return {of_thread(pid, int(t)) for t in os.listdir(f"/proc/{pid}/task")}


def ps_ni(pid: int) -> int:
    return int(
        subprocess.run(
            ["ps", "-o", "ni=", "-p", str(pid)], capture_output=True, text=True, check=True
        ).stdout
    )


def test_each_program_runs_at_its_niceness(suite_factory) -> None:
    arrs = [ArrSpec("Radarr-A", "cat-a", extra={"Nice": "10"}), ArrSpec("Sonarr-B", "cat-b")]
    suite = suite_factory(arrs=arrs, settings={"Nice": "5"})
    a, b = suite.pid("arr:arr-radarr-a"), suite.pid("arr:arr-sonarr-b")
    watchdog, webui = suite.pid("watchdog"), suite.pid("webui")
    suite.wait_for(lambda: levels(a) == {10} and levels(b) == {5}, "the managers' levels")
    assert ps_ni(a) == 10 and ps_ni(b) == 5
    suite.wait_for(lambda: levels(watchdog) == {5}, "the watchdog's level")
    suite.wait_for(lambda: levels(webui) == {5}, "the web UI's level")
    workers = [p.pid for p in suite.descendants() if p.ppid() == webui]
    assert workers and all(levels(w) == {5} for w in workers)  # gunicorn's workers inherit it

    # a raise by reload reaches every thread of the running manager (the reader's too)
    suite.write_config(
        arrs=[ArrSpec("Radarr-A", "cat-a", extra={"Nice": "12"}), arrs[1]], settings={"Nice": "5"}
    )
    suite.ctl("signal", "HUP", "arr:arr-radarr-a")
    suite.wait_for(lambda: levels(a) == {12}, "the manager's new level after HUP")
    assert suite.pid("arr:arr-radarr-a") == a
