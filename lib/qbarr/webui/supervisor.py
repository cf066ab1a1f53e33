"""A thin supervisord XML-RPC client for the web UI.

Every call builds a fresh proxy over the unix socket (:func:`qbarr.supervision.proxy`): a
transport keeps one HTTP connection that stays broken after any failure
(``CannotSendRequest``), and a proxy must never be shared between gunicorn threads. A fresh
one costs about 2 ms.

Faults and connection errors are translated into :class:`SupervisorError` subclasses that
carry the HTTP status the web UI answers with (404 unknown program, 409 wrong state, 503
supervisord unreachable). Only the operations the web UI offers are wrapped here.
"""

from __future__ import annotations

import http.client
import xmlrpc.client
from typing import Any

from qbarr.supervision import fault_name, proxy


class SupervisorError(Exception):
    """A supervisord call failed; ``status`` is the HTTP status to answer with."""

    status = 502


class SupervisorUnavailable(SupervisorError):
    """supervisord's socket cannot be reached."""

    status = 503


class UnknownProgram(SupervisorError):
    status = 404


class WrongState(SupervisorError):
    """The program is already started / not running / still running, or a spawn failed."""

    status = 409


_FAULT_CLASSES = {  # by supervisor.xmlrpc.Faults name (imported only when a fault comes)
    "BAD_NAME": UnknownProgram,
    "NO_FILE": UnknownProgram,
    "ALREADY_STARTED": WrongState,
    "NOT_RUNNING": WrongState,
    "STILL_RUNNING": WrongState,
    "SPAWN_ERROR": WrongState,
    "ABNORMAL_TERMINATION": WrongState,
    "FAILED": WrongState,
    "ALREADY_ADDED": WrongState,
    "SHUTDOWN_STATE": SupervisorUnavailable,
}


class Supervisor:
    """supervisord at ``url`` (``unix:///path/supervisor.sock``)."""

    def __init__(self, url: str) -> None:
        if not url.startswith("unix://"):
            raise ValueError("the supervisord control socket must be a unix socket (unix://...)")
        self.url = url

    def _rpc(self) -> Any:
        return proxy(self.url)

    def _call(self, method: str, *args: Any) -> Any:
        proxy = self._rpc()
        try:
            return getattr(proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            cls = _FAULT_CLASSES.get(fault_name(exc.faultCode), SupervisorError)
            raise cls(f"supervisord: {exc.faultString}") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            raise SupervisorUnavailable(
                f"supervisord is not reachable ({type(exc).__name__})"
            ) from None

    def state(self) -> dict[str, Any]:
        return self._call("getState")

    def processes(self) -> list[dict[str, Any]]:
        """``getAllProcessInfo`` with a ``fullname`` (``group:name``) added to each entry."""
        infos = self._call("getAllProcessInfo")
        for info in infos:
            info["fullname"] = full_name(info)
        return infos

    def process(self, name: str) -> dict[str, Any]:
        info = self._call("getProcessInfo", name)
        info["fullname"] = full_name(info)
        return info

    def start(self, name: str, wait: bool = False) -> bool:
        return bool(self._call("startProcess", name, wait))

    def stop(self, name: str, wait: bool = True) -> bool:
        return bool(self._call("stopProcess", name, wait))

    def signal(self, name: str, sig: str) -> bool:
        return bool(self._call("signalProcess", name, sig))

    def tail(self, name: str, offset: int, length: int) -> tuple[str, int, bool]:
        """``tailProcessStdoutLog``: (text, new offset, overflow). Poll with the new offset."""
        text, new_offset, overflow = self._call("tailProcessStdoutLog", name, offset, length)
        return str(text), int(new_offset), bool(overflow)


def full_name(info: dict[str, Any]) -> str:
    """``group:name``, or just ``name`` when the group has the process's name."""
    if info.get("group") and info["group"] != info["name"]:
        return f"{info['group']}:{info['name']}"
    return str(info["name"])
