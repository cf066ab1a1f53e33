"""Talking to supervisord over its unix control socket (XML-RPC).

Every call builds a fresh proxy and transport: a transport that keeps one HTTP connection
stays broken after a failed call ("CannotSendRequest: Request-sent"), and a proxy must never
be shared between threads. A fresh one costs ~2 ms. The transport is the standard library's
over a unix socket: supervisor's own (``supervisor.xmlrpc``) imports supervisor's whole HTTP
server (medusa), ~4 MB in every program that talks to supervisord; fault names are looked up
there only when a fault must be named.

Errors, translated at this boundary::

    SupervisionError
    +-- SupervisorUnreachable   no socket, connection refused, timeout (supervisord not running)
    +-- SupervisorFault         supervisord answered with an XML-RPC fault (``code``, ``name``)

:func:`update` applies a re-rendered ``programs.d`` like ``supervisorctl update``, except
that inside the ``arr`` and ``search`` groups only the programs that changed are stopped or
started (through qbarr's supervisord plugin, :mod:`qbarr.supervisor_plugin`).
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 10.0
# stopProcess(wait=True) may take a program's whole stopwaitsecs (15 s) plus the SIGKILL.
STOP_TIMEOUT = 60.0
NOT_RUNNING = 70  # supervisor.xmlrpc.Faults.NOT_RUNNING (tests/unit/test_supervision_faults.py)


def fault_name(code: int) -> str:
    """supervisor's name of an XML-RPC fault code (``BAD_NAME`` ...), or the number."""
    from supervisor.xmlrpc import Faults  # rare: only when a fault is reported

    names = {v: k for k, v in vars(Faults).items() if isinstance(v, int)}
    return names.get(code, str(code))


class SupervisionError(Exception):
    """Base of the errors of this module."""


class SupervisorUnreachable(SupervisionError):
    """supervisord is not running for this data dir (or does not answer)."""


class SupervisorFault(SupervisionError):
    """supervisord answered with an XML-RPC fault."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.name = fault_name(code)
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
    except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
        raise SupervisorUnreachable(f"supervisord at {url} does not answer: {exc}") from None


class Supervisor:
    """Convenience wrapper: the calls qbarr makes, each over a fresh connection."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        return call(self.url, method, *args, timeout=timeout or self.timeout)

    def is_running(self) -> bool:
        try:
            return self.call("supervisor.getState")["statename"] == "RUNNING"
        except SupervisionError:
            return False

    def pid(self) -> int:
        return int(self.call("supervisor.getPID"))

    def processes(self) -> list[dict[str, Any]]:
        return list(self.call("supervisor.getAllProcessInfo"))

    def process(self, name: str) -> dict[str, Any]:
        return dict(self.call("supervisor.getProcessInfo", name))

    def start(self, name: str, wait: bool = False) -> None:
        self.call("supervisor.startProcess", name, wait, timeout=STOP_TIMEOUT)

    def stop(self, name: str, wait: bool = True) -> None:
        """Stop a program; a program that is not running is fine."""
        try:
            self.call("supervisor.stopProcess", name, wait, timeout=STOP_TIMEOUT)
        except SupervisorFault as exc:
            if exc.code != NOT_RUNNING:
                raise

    def signal(self, name: str, signame: str) -> None:
        self.call("supervisor.signalProcess", name, signame)

    def has_plugin(self) -> bool:
        try:
            self.call("qbarr.getPluginVersion")
            return True
        except SupervisorFault:
            return False


def full_name(info: dict[str, Any]) -> str:
    """``group:name`` as supervisorctl shows it (just ``name`` when both are equal)."""
    return info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"


@dataclass
class UpdateResult:
    """What :func:`update` did, as ``group:program`` names."""

    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    whole_groups: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{name}: stopped and removed" for name in self.stopped]
        out += [f"{name}: added" for name in self.started]
        out += [f"{name}: whole group updated" for name in self.whole_groups]
        return out or ["no change"]


PER_PROCESS_GROUPS = ("arr", "search")


def update(url: str) -> UpdateResult:
    """Apply the current config files to a running supervisord, like ``supervisorctl update``.

    Groups that disappeared are stopped and removed, new groups are added (and autostart).
    A changed ``arr``/``search`` group is updated program by program, so that the programs
    that did not change keep running; any other changed group is restarted as a whole.

    Raises:
        SupervisorUnreachable: supervisord is not running.
        SupervisorFault: the config files are invalid (``CANT_REREAD``) or a call failed.
    """
    sup = Supervisor(url)
    [[added, changed, removed]] = sup.call("supervisor.reloadConfig")
    result = UpdateResult()
    for group in removed:
        sup.stop(f"{group}:*")
        sup.call("supervisor.removeProcessGroup", group)
        result.stopped.append(f"{group}:*")
    plugin = sup.has_plugin() if changed else False
    for group in changed:
        if plugin and group in PER_PROCESS_GROUPS and _update_per_process(sup, group, result):
            continue
        sup.stop(f"{group}:*")
        sup.call("supervisor.removeProcessGroup", group)
        sup.call("supervisor.addProcessGroup", group)
        result.whole_groups.append(group)
    for group in added:
        sup.call("supervisor.addProcessGroup", group)
        result.started.append(f"{group}:*")
    return result


def _update_per_process(sup: Supervisor, group: str, result: UpdateResult) -> bool:
    diff = sup.call("qbarr.diffGroup", group)
    if not diff["per_process"]:
        return False
    for name in diff["removed"] + diff["changed"]:
        sup.stop(f"{group}:{name}")
    applied = sup.call("qbarr.applyGroup", group)
    result.stopped += [
        f"{group}:{name}" for name in applied["removed"] if name not in diff["changed"]
    ]
    result.started += [f"{group}:{name}" for name in applied["added"]]
    return True
