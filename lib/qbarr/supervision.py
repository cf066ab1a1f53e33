"""Talking to supervisord over its unix control socket (XML-RPC): the one client of qbarr.

Every caller (the CLI, the watchdog, the web UI through :mod:`qbarr.webui.supervisor`) goes
through :func:`call`, and every call has a timeout: a hung supervisord makes a call fail,
it never pins a thread. Every call builds a fresh proxy and transport: a transport that keeps
one HTTP connection stays broken after a failed call ("CannotSendRequest: Request-sent"), and
a proxy must never be shared between threads. A fresh one costs ~2 ms. The transport is the
standard library's over a unix socket: supervisor's own (``supervisor.xmlrpc``) imports
supervisor's whole HTTP server (medusa), ~4 MB in every program that talks to supervisord;
fault names are looked up there only when a fault must be named.

Errors, translated at this boundary::

    SupervisionError
    +-- SupervisorUnreachable   supervisord does not answer (timeout, connection lost)
    |   +-- SupervisorNotRunning    no socket, or nobody listening: supervisord is not running
    +-- SupervisorFault         supervisord answered with an XML-RPC fault (``code``, ``name``)
    +-- UpdateFailed            an update stopped half-way (what it had done is in ``done``)

:func:`render_and_update` is what ``qbarr render`` and the web UI's Apply do: under the lock
``run/apply.lock`` (so that two of them never interleave), write ``programs.d`` from
config.ini, then apply it like ``supervisorctl update``: a group that disappeared is stopped
and removed, a new group is added (and autostarts), a changed group (e.g. ``arr`` when an
Arr section was added or removed) is stopped and added again as a whole. Restarting every
manager for a membership change costs them a few seconds, and they are built to be
restarted at any moment (the journal makes every action exactly-once); in exchange qbarr
needs no code inside supervisord. (An earlier version loaded a plugin into supervisord that
swapped single programs in and out of a running group through supervisor's private
internals: supervisord could not start when its import broke, and a failure half-way
looked like "supervisord is not running" after programs had been stopped.)
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbarr import locks
from qbarr.config import Config
from qbarr.paths import Home
from qbarr.render import install_supervisord_conf, write_programs

DEFAULT_TIMEOUT = 10.0
# stopProcess(wait=True) may take a program's whole stopwaitsecs (15 s) plus the SIGKILL.
STOP_TIMEOUT = 60.0
APPLY_WAIT = 120.0
"""Seconds a render + apply waits for another one (two group restarts, at worst)."""
# supervisor.xmlrpc.Faults codes (tests/unit/test_supervision_faults.py keeps them in step)
NOT_RUNNING = 70
NO_FILE = 20


def fault_name(code: int) -> str:
    """supervisor's name of an XML-RPC fault code (``BAD_NAME`` ...), or the number."""
    from supervisor.xmlrpc import Faults  # rare: only when a fault is reported

    names = {v: k for k, v in vars(Faults).items() if isinstance(v, int)}
    return names.get(code, str(code))


class SupervisionError(Exception):
    """Base of the errors of this module."""


class SupervisorUnreachable(SupervisionError):
    """supervisord does not answer (a timeout, a connection lost half-way)."""


class SupervisorNotRunning(SupervisorUnreachable):
    """Nothing listens on the control socket: supervisord is not running for this data dir."""


class SupervisorFault(SupervisionError):
    """supervisord answered with an XML-RPC fault."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.name = fault_name(code)
        self.message = message
        super().__init__(f"{self.name}: {message}")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _Transport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket, with a socket timeout."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self._path, self._timeout = path, timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path, self._timeout)


def proxy(url: str, timeout: float = DEFAULT_TIMEOUT) -> xmlrpc.client.ServerProxy:
    """A new XML-RPC proxy for ``url`` (``unix:///path/supervisor.sock``): one per call."""
    if not url.startswith("unix://"):
        raise SupervisorUnreachable(f"not a unix socket URL: {url}")
    transport = _Transport(url[len("unix://") :], timeout)
    return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=transport)


def call(url: str, method: str, *args: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Call ``namespace.method`` on supervisord with a fresh proxy; translate errors."""
    namespace, _, name = method.partition(".")
    target = getattr(getattr(proxy(url, timeout), namespace), name)
    try:
        return target(*args)
    except xmlrpc.client.Fault as exc:
        raise SupervisorFault(exc.faultCode, exc.faultString) from None
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise SupervisorNotRunning(f"supervisord is not running at {url} ({exc})") from None
    except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
        what = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        raise SupervisorUnreachable(f"supervisord at {url} does not answer ({what})") from None


class Supervisor:
    """The calls qbarr makes, each over a fresh connection with a timeout."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        return call(self.url, method, *args, timeout=timeout or self.timeout)

    def is_running(self) -> bool:
        try:
            return self.state()["statename"] == "RUNNING"
        except SupervisionError:
            return False

    def state(self) -> dict[str, Any]:
        return dict(self.call("supervisor.getState"))

    def pid(self) -> int:
        return int(self.call("supervisor.getPID"))

    def processes(self) -> list[dict[str, Any]]:
        return list(self.call("supervisor.getAllProcessInfo"))

    def process(self, name: str) -> dict[str, Any]:
        return dict(self.call("supervisor.getProcessInfo", name))

    def start(self, name: str, wait: bool = False) -> bool:
        return bool(self.call("supervisor.startProcess", name, wait, timeout=STOP_TIMEOUT))

    def stop(self, name: str, wait: bool = True) -> bool:
        return bool(self.call("supervisor.stopProcess", name, wait, timeout=STOP_TIMEOUT))

    def stop_if_running(self, name: str) -> None:
        """Stop a program (or ``group:*``); one that is not running is fine."""
        try:
            self.stop(name)
        except SupervisorFault as exc:
            if exc.code != NOT_RUNNING:
                raise

    def signal(self, name: str, signame: str) -> bool:
        return bool(self.call("supervisor.signalProcess", name, signame))

    def tail(self, name: str, offset: int, length: int) -> tuple[str, int, bool]:
        """The end of a program's log: (text, new offset, overflow); poll with the new offset.

        An event listener (the watchdog) has no stdout log (its stdout is the event
        protocol): its stderr log is read instead.
        """
        try:
            text, new_offset, overflow = self.call(
                "supervisor.tailProcessStdoutLog", name, offset, length
            )
        except SupervisorFault as exc:
            if exc.code != NO_FILE:
                raise
            text, new_offset, overflow = self.call(
                "supervisor.tailProcessStderrLog", name, offset, length
            )
        return str(text), int(new_offset), bool(overflow)


def full_name(info: dict[str, Any]) -> str:
    """``group:name`` as supervisorctl shows it (just ``name`` when both are equal)."""
    if info.get("group") and info["group"] != info["name"]:
        return f"{info['group']}:{info['name']}"
    return str(info["name"])


# -- applying programs.d -------------------------------------------------------------------


@dataclass
class UpdateResult:
    """What :func:`update` did: groups as ``group:*`` (and the steps, for a half-way stop)."""

    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    whole_groups: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{name}: stopped and removed" for name in self.stopped]
        out += [f"{name}: added" for name in self.started]
        out += [
            f"{name}: restarted as a whole (its programs changed)" for name in self.whole_groups
        ]
        return out or ["no change"]


class UpdateFailed(SupervisionError):
    """An update failed after it had changed something (``done``, ``cause``)."""

    def __init__(self, done: UpdateResult, cause: SupervisionError) -> None:
        self.done = done
        self.cause = cause
        already = "; ".join(done.steps) or "nothing"
        super().__init__(f"{cause} (already done: {already})")


def update(url: str) -> UpdateResult:
    """Apply the current config files to a running supervisord, like ``supervisorctl update``.

    Raises:
        SupervisorNotRunning / SupervisorUnreachable / SupervisorFault: before anything was
            changed (``CANT_REREAD``: the config files are invalid).
        UpdateFailed: a later call failed; ``done`` says what had been done.
    """
    sup = Supervisor(url)
    [[added, changed, removed]] = sup.call("supervisor.reloadConfig")
    result = UpdateResult()
    try:
        for group in removed:
            _stop_group(sup, group, result)
            sup.call("supervisor.removeProcessGroup", group)
            result.stopped.append(f"{group}:*")
            result.steps.append(f"{group}:* removed")
        for group in changed:
            _stop_group(sup, group, result)
            sup.call("supervisor.removeProcessGroup", group)
            result.steps.append(f"{group}:* removed")
            sup.call("supervisor.addProcessGroup", group)
            result.whole_groups.append(group)
            result.steps.append(f"{group}:* added again")
        for group in added:
            sup.call("supervisor.addProcessGroup", group)
            result.started.append(f"{group}:*")
            result.steps.append(f"{group}:* added")
    except SupervisionError as exc:
        raise UpdateFailed(result, exc) from None
    return result


def _stop_group(sup: Supervisor, group: str, result: UpdateResult) -> None:
    sup.stop_if_running(f"{group}:*")
    result.steps.append(f"{group}:* stopped")


@dataclass
class Applied:
    """What :func:`render_and_update` did: the files written, then the update (None when it
    was not asked for, or ``running`` is False) or the ``error`` that stopped it."""

    written: list[Path]
    update: UpdateResult | None = None
    running: bool = True
    error: SupervisionError | None = None


def render_and_update(
    home: Home,
    cfg: Config,
    url: str | None = None,
    apply: bool = True,
    wait: float = APPLY_WAIT,
    waiting: Callable[[int | None], None] | None = None,
    install_conf: bool = False,
) -> Applied:
    """Under ``run/apply.lock``: write programs.d (and, if ``install_conf``, the packaged
    supervisord.conf), then :func:`update` supervisord if ``apply`` (see :class:`Applied`).

    ``waiting(pid)`` is called once when another render or Apply holds the lock.

    Raises:
        locks.LockHeld: the other one still holds the lock after ``wait`` seconds.
        qbarr.render.RenderError: config.ini cannot be expressed for supervisord.
    """
    with _apply_lock(home, wait, waiting):
        written = write_programs(cfg, home)
        if install_conf:
            install_supervisord_conf(home)
        if not apply:
            return Applied(written)
        try:
            applied = Applied(written, update(url or home.supervisor_url))
        except SupervisorNotRunning:
            applied = Applied(written, running=False)
        except SupervisionError as exc:
            return Applied(written, error=exc)
        forget_removed(home, cfg)  # their programs are gone now (or nothing runs)
        return applied


def forget_removed(home: Home, cfg: Config) -> list[str]:
    """Drop the status rows of instances no longer in config.ini (see heartbeat.forget_except)."""
    from qbarr import db as dbmod
    from qbarr import heartbeat, store
    from qbarr.search.status import row_name

    if store.missing(home) is not None:  # no database yet: nothing to forget
        return []
    names = [n for inst in cfg.instances for n in (inst.name, row_name(inst.name))]
    db = dbmod.connect(store.location(home))
    try:
        return heartbeat.forget_except(db, names)
    finally:
        db.close()


def update_locked(
    home: Home,
    url: str | None = None,
    wait: float = APPLY_WAIT,
    waiting: Callable[[int | None], None] | None = None,
) -> UpdateResult | None:
    """:func:`update` under the apply lock (``qbarr ctl update``); None when not running."""
    with _apply_lock(home, wait, waiting):
        try:
            return update(url or home.supervisor_url)
        except SupervisorNotRunning:
            return None


def _apply_lock(
    home: Home, wait: float, waiting: Callable[[int | None], None] | None
) -> locks.FileLock:
    lock = locks.FileLock.named(home, locks.APPLY_LOCK)
    try:
        return lock.acquire()
    except locks.LockHeld as held:
        if waiting is not None:
            waiting(held.pid)
    return lock.acquire(wait=wait)
