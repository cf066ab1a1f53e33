"""The supervisord client and `qbarr render`'s apply step when supervisord misbehaves: a hung
supervisord never pins a caller, a connection lost in the middle of an update is a failure
(exit 1), and render + apply never interleave (run/apply.lock, shared with the web UI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from supervisor.xmlrpc import Faults

from qbarr import config as configmod
from qbarr.locks import APPLY_LOCK, FileLock
from qbarr.paths import Home
from qbarr.webui import apply as webapply
from qbarr.webui.supervisor import Supervisor as WebSupervisor
from qbarr.webui.supervisor import SupervisorUnavailable
from tests.support.fake_supervisord import CLOSE, HANG, FakeSupervisord
from tests.support.waiting import wait_for
from tests.system.conftest import QBARR, config_text, default_arrs

RUNNING = {"statecode": 1, "statename": "RUNNING"}


@pytest.fixture
def home() -> Iterator[Home]:
    home = Home(Path(tempfile.mkdtemp(prefix="qbs", dir="/tmp")))  # short: a unix socket path
    home.config.write_text(config_text(default_arrs(2)))
    try:
        yield home
    finally:
        shutil.rmtree(home.root, ignore_errors=True)


def render(home: Home, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QBARR, "--home", str(home.root), "render"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_the_web_ui_client_gives_up_on_a_hung_supervisord(home: Home) -> None:
    with FakeSupervisord(home.socket, {"supervisor.getAllProcessInfo": HANG}):
        thread, box = in_thread(WebSupervisor(home.supervisor_url).processes)
        thread.join(60)  # a bounded wait: without a timeout the call never returns
        assert not thread.is_alive(), "a hung supervisord pinned the web UI's thread"
    assert isinstance(box.get("error"), SupervisorUnavailable), box


def test_render_says_so_and_exits_1_when_supervisord_does_not_answer(home: Home) -> None:
    with FakeSupervisord(
        home.socket, {"supervisor.getState": HANG, "supervisor.reloadConfig": HANG}
    ):
        result = render(home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "does not answer" in result.stderr and "not running" not in result.stdout


def test_a_connection_lost_in_the_middle_of_an_update_is_a_failure(home: Home) -> None:
    assert render(home).returncode == 0  # programs.d for two managers, no supervisord
    home.config.write_text(config_text(default_arrs(3)))
    behaviours = {
        "supervisor.getState": RUNNING,
        "supervisor.reloadConfig": [[[], ["arr"], []]],
        "qbarr.getPluginVersion": xmlrpc.client.Fault(Faults.UNKNOWN_METHOD, "UNKNOWN_METHOD"),
        "supervisor.removeProcessGroup": CLOSE,
    }
    with FakeSupervisord(home.socket, behaviours) as fake:
        result = render(home)
    assert "supervisor.stopProcess" in fake.calls or "supervisor.stopProcessGroup" in fake.calls
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not running" not in result.stdout
    assert "arr" in result.stderr and "stopped" in result.stderr, result.stderr


def test_render_and_the_web_ui_apply_wait_for_each_other(home: Home) -> None:
    lock = FileLock.named(home, APPLY_LOCK).acquire()
    out = home.root / "render.out"
    with open(out, "w") as fh:
        proc = subprocess.Popen(
            [QBARR, "--home", str(home.root), "render"], stdout=fh, stderr=subprocess.STDOUT
        )
    cfg = configmod.load(home.config)
    thread, box = in_thread(lambda: webapply.apply(home, home.supervisor_url, None, cfg))
    try:
        wait_for(lambda: "waiting" in out.read_text(), timeout=60, what="render waiting")
        assert not (home.programs_dir / "arr.conf").exists()
        assert thread.is_alive() and proc.poll() is None
    finally:
        lock.release()
    assert proc.wait(60) == 0, out.read_text()
    thread.join(60)
    assert not thread.is_alive()
    assert (home.programs_dir / "arr.conf").exists()
    assert box["value"]["rendered"] is True, box
    assert f"pid {os.getpid()}" in out.read_text()  # it said whom it waited for
