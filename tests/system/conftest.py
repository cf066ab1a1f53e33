"""Start the real suite for a test: ``qbarr run --home <tmp>`` = a real supervisord.

Reusable by every system test (import nothing: the fixtures are found by pytest)::

    def test_something(suite_factory):
        suite = suite_factory(arrs=2)        # config.ini written, suite started, all RUNNING
        pid = suite.pid("arr:arr-radarr-a")
        suite.wait_for(lambda: ..., "what we wait for")   # waiting.wait_for, never a sleep
        assert "RUNNING" in suite.ctl("status").stdout

    def test_shared(shared_suite):           # one suite per test module (2 Arr sections);
        ...                                  # leave it as you found it (pids may change)

What a Suite gives (see the class): ``home`` (qbarr.paths.Home), ``pid(name)``,
``states()``, ``wait_running()``, ``wait_state()``, ``wait_for()``, ``ctl(...)`` /
``qbarr(...)`` (subprocess runs of the CLI), ``log(program)``, ``heartbeat(instance)``,
``crashes(program)``, ``write_config(...)``, ``debug(what, slug)`` (debug triggers),
``stop()`` (SIGTERM to supervisord, waits until it exited) and
``leftovers()`` (live processes whose environment carries this QBARR_HOME).

Settings used (short, so the system tests stay fast): LoopInterval 0.5s,
HeartbeatTimeout 10s (the minimum), RestartBackoffMax 5s, RetryBackoffMax 2s. The
qBittorrent and Arr URLs point at closed ports on 127.0.0.1: a manager that cannot
connect is RUNNING and reports the error in its heartbeat (the contract). Pass
``qbt_url=`` / ``arrs=[ArrSpec(...)]`` to point them at simulators or a real
qbittorrent-nox.

Data dirs are short (``/tmp/qbXXXXXX``): supervisord's unix socket path must stay under
~100 bytes, which pytest's tmp_path would exceed. Teardown is by pid in ``finally``:
SIGTERM to supervisord, then SIGKILL for anything of the suite still alive.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from qbarr import db as dbmod
from qbarr import store
from qbarr.paths import Home
from qbarr.supervision import SupervisionError, Supervisor, full_name
from tests.conftest import free_port
from tests.support import waiting
from tests.support.waiting import unless_exited

BIN = Path(sys.executable).parent
QBARR = str(BIN / "qbarr") if (BIN / "qbarr").exists() else "qbarr"
START_TIMEOUT = 60.0
# `%` in a password must work (configobj reads it verbatim; it never reaches supervisord's files).
TEST_PASSWORD = "s3cr%(et)s-%%pass"
FAST_SETTINGS = {
    "LoopInterval": "0.5s",
    "HeartbeatTimeout": "10s",
    "RestartBackoffMax": "5s",
    "RetryBackoffMax": "2s",
    "IdlePollInterval": "1s",  # [qBittorrent]: the reader's slow pace, short for the tests
}
QBT_KEYS = ("IdlePollInterval",)  # keys of FAST_SETTINGS / settings= that go to [qBittorrent]


@dataclass
class ArrSpec:
    """One Arr section of the test config."""

    name: str
    category: str
    url: str = ""
    api_key: str = "testkey-0123456789"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        from qbarr.config import slugify

        return slugify(self.name)

    @property
    def program(self) -> str:
        return f"arr:arr-{self.slug}"


def default_arrs(count: int) -> list[ArrSpec]:
    kinds = ["Radarr", "Sonarr", "Lidarr"]
    return [ArrSpec(f"{kinds[i % 3]}-{chr(ord('A') + i)}", f"cat-{i}") for i in range(count)]


def short_home() -> Home:
    return Home(Path(tempfile.mkdtemp(prefix="qb", dir="/tmp")))


def config_text(
    arrs: list[ArrSpec],
    settings: dict[str, str] | None = None,
    qbt_url: str | None = None,
    qbt_password: str = TEST_PASSWORD,
    webui_port: int | None = None,
) -> str:
    """A config.ini for tests (closed ports unless told otherwise)."""
    settings = {**FAST_SETTINGS, **(settings or {})}
    qbt = {k: v for k, v in settings.items() if k in QBT_KEYS}
    lines = ["[Settings]", *(f"{k} = {v}" for k, v in settings.items() if k not in qbt)]
    lines += [
        "[qBittorrent]",
        f"URL = {qbt_url or f'http://127.0.0.1:{free_port()}'}",
        "Username = admin",
        f"Password = {qbt_password}",
        "Timeout = 2s",
        *(f"{k} = {v}" for k, v in qbt.items()),
        "[WebUI]",
        "Host = 127.0.0.1",
        f"Port = {webui_port or free_port()}",
        "Token = test-token-abcdefgh",
    ]
    for arr in arrs:
        lines += [
            f"[{arr.name}]",
            f"URL = {arr.url or f'http://127.0.0.1:{free_port()}'}",
            f"APIKey = {arr.api_key}",
            f"Category = {arr.category}",
            "Timeout = 2s",
            *(f"{k} = {v}" for k, v in arr.extra.items()),
        ]
    return "\n".join(lines) + "\n"


class Suite:
    """A running ``qbarr run`` (supervisord) in a temp data dir."""

    def __init__(
        self, home: Home, proc: subprocess.Popen[bytes], arrs: list[ArrSpec], config: dict[str, Any]
    ):
        self.home = home
        self.proc = proc
        self.arrs = arrs
        self.config_args = config
        self._known: set[int] = set()
        # Under `unshare --pid`, the pids supervisord reports are the namespace's, not ours.
        self.namespaced = False

    # -- supervisord -----------------------------------------------------------------------

    @property
    def sup(self) -> Supervisor:
        return Supervisor(self.home.supervisor_url)

    @property
    def supervisord(self) -> psutil.Process:
        """supervisord itself (the `qbarr run` process after its exec, or unshare's child)."""
        proc = psutil.Process(self.proc.pid)
        if proc.name() == "unshare":
            children = proc.children()
            if children:
                return children[0]
        return proc

    def states(self) -> dict[str, dict[str, Any]]:
        """``group:name`` -> getProcessInfo dict ({} while supervisord does not answer)."""
        try:
            infos = self.sup.processes()
        except SupervisionError:
            return {}
        for info in infos:
            if info["pid"] and not self.namespaced:
                self._known.add(int(info["pid"]))
        return {full_name(i): i for i in infos}

    def pid(self, name: str) -> int:
        return int(self.states()[name]["pid"])

    def wait_for(
        self,
        predicate: Callable[[], Any],
        what: str,
        timeout: float = START_TIMEOUT,
        poll: float = 0.2,
    ) -> Any:
        """waiting.wait_for, failing at once if the suite (``qbarr run``) exits meanwhile."""
        return waiting.wait_for(
            unless_exited(self.proc, predicate, "the suite (qbarr run)", self.output),
            timeout=timeout,
            interval=poll,
            what=what,
            context=lambda: f"states: {self.brief()}",
        )

    def wait_state(
        self, name: str, state: str, timeout: float = START_TIMEOUT, not_pid: int | None = None
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            info = self.states().get(name)
            if info and info["statename"] == state and (not_pid is None or info["pid"] != not_pid):
                return info
            return None

        return self.wait_for(
            check,
            f"{name} {state}" + (f" with a pid other than {not_pid}" if not_pid else ""),
            timeout,
        )

    def expected_programs(self) -> list[str]:
        return ["webui", "watchdog", *(a.program for a in self.arrs)]

    def wait_running(
        self, names: list[str] | None = None, timeout: float = START_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        names = names or self.expected_programs()

        def check() -> dict[str, dict[str, Any]] | None:
            states = self.states()
            if all(states.get(n, {}).get("statename") == "RUNNING" for n in names):
                return states
            return None

        return self.wait_for(check, f"{names} RUNNING", timeout)

    def brief(self) -> str:
        return ", ".join(f"{n} {i['statename']} {i['pid']}" for n, i in self.states().items())

    # -- CLI, logs, database -----------------------------------------------------------------

    def qbarr(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [QBARR, "--home", str(self.home.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.qbarr("ctl", *args)

    def output(self) -> str:
        path = self.home.root / "run.out"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def log(self, program: str) -> str:
        path = self.home.logs / f"{program.split(':')[-1]}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        db = dbmod.connect(store.location(self.home))  # PostgreSQL under the engine fixture
        try:
            return dbmod.rows(db, sql, params)
        finally:
            db.close()

    def heartbeat(self, instance: str) -> dict[str, Any] | None:
        found = self.query("SELECT * FROM instances WHERE name = ?", (instance,))
        return found[0] if found else None

    def crashes(self, program: str, event: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM crashes WHERE program = ?", [program.split(":")[-1]]
        if event:
            sql, params = sql + " AND event = ?", [*params, event]
        return self.query(sql + " ORDER BY id", tuple(params))

    def write_config(self, arrs: list[ArrSpec] | None = None, **kwargs: Any) -> None:
        if arrs is not None:
            self.arrs = arrs
        self.config_args.update(kwargs)
        tmp = self.home.config.with_suffix(".tmp")
        tmp.write_text(config_text(self.arrs, **self.config_args))
        os.replace(tmp, self.home.config)

    def debug(self, what: str, slug: str, on: bool = True) -> Path:
        path = self.home.root / "debug" / f"{what}-{slug}"
        path.parent.mkdir(exist_ok=True)
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)
        return path

    # -- stopping ----------------------------------------------------------------------------

    def descendants(self) -> list[psutil.Process]:
        try:
            return self.supervisord.children(recursive=True)
        except psutil.Error:
            return []

    def leftovers(self) -> list[psutil.Process]:
        """Live (non-zombie) processes of this suite: its QBARR_HOME, or a pid it had."""
        found = []
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                    continue
                if proc.pid in self._known or proc.environ().get("QBARR_HOME") == str(
                    self.home.root
                ):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def stop(self, timeout: float = 40.0) -> None:
        """SIGTERM to supervisord; waits until `qbarr run` (or unshare) exited."""
        self.states()
        for proc in self.descendants():
            self._known.add(proc.pid)
        if self.proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                self.supervisord.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)

    def stop_quietly(self) -> None:
        """Teardown: stop, then SIGKILL whatever is left (never raises)."""
        try:
            self.stop(timeout=40)
        except Exception:
            pass
        finally:
            self.kill_all()

    def kill_all(self) -> None:
        """Teardown of last resort: SIGKILL supervisord and everything of the suite, by pid."""
        victims = [*self.descendants(), *self.leftovers()]
        for proc in [psutil.Process(self.proc.pid) if self.proc.poll() is None else None, *victims]:
            if proc is None:
                continue
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def start_suite(
    home: Home | None = None,
    arrs: list[ArrSpec] | int = 2,
    prefix: tuple[str, ...] = (),
    wait: bool = True,
    **config: Any,
) -> Suite:
    """Write config.ini (unless ``home`` already has one) and start ``qbarr run``."""
    home = home or short_home()
    specs = default_arrs(arrs) if isinstance(arrs, int) else arrs
    if not home.config.exists():
        home.root.mkdir(parents=True, exist_ok=True)
        home.config.write_text(config_text(specs, **config))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PUID", "PGID") and not k.startswith("QBARR")
    }
    with open(home.root / "run.out", "wb") as out:
        proc = subprocess.Popen(
            [*prefix, QBARR, "--home", str(home.root), "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    suite = Suite(home, proc, specs, dict(config))
    suite.namespaced = "unshare" in prefix
    if wait:
        try:
            suite.wait_running()
        except BaseException:
            suite.stop_quietly()
            raise
    return suite


@pytest.fixture
def suite_factory() -> Iterator[Callable[..., Suite]]:
    """Start suites with ``suite_factory(arrs=2, **config)``; all are stopped at teardown."""
    suites: list[Suite] = []

    def factory(*args: Any, **kwargs: Any) -> Suite:
        suite = start_suite(*args, **kwargs)
        suites.append(suite)
        return suite

    try:
        yield factory
    finally:
        for suite in suites:
            suite.stop_quietly()
            shutil.rmtree(suite.home.root, ignore_errors=True)


@pytest.fixture(scope="module")
def shared_suite() -> Iterator[Suite]:
    """One suite (2 Arr sections) for a whole test module."""
    suite = start_suite(arrs=2)
    try:
        yield suite
    finally:
        suite.stop_quietly()
        shutil.rmtree(suite.home.root, ignore_errors=True)
