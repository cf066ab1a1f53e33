"""supervisord for the web UI: :mod:`qbarr.supervision`'s client, with HTTP statuses.

Every call goes through :class:`qbarr.supervision.Supervisor` (a fresh connection per call,
and a timeout, so a hung supervisord makes a request fail with 503 instead of pinning a
gunicorn thread). Its errors become :class:`SupervisorError` subclasses that carry the HTTP
status the web UI answers with (404 unknown program, 409 wrong state, 503 supervisord
unreachable or stopping). Only the operations the web UI offers are wrapped here.
"""

from __future__ import annotations

from typing import Any

from qbarr import supervision
from qbarr.supervision import full_name

TIMEOUT = supervision.DEFAULT_TIMEOUT


class SupervisorError(Exception):
    """A supervisord call failed; ``status`` is the HTTP status to answer with."""

    status = 502


class SupervisorUnavailable(SupervisorError):
    """supervisord's socket cannot be reached, or supervisord does not answer."""

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

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        if not url.startswith("unix://"):
            raise ValueError("the supervisord control socket must be a unix socket (unix://...)")
        self.url = url
        self.client = supervision.Supervisor(url, timeout)

    def _do(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.client, method)(*args)
        except supervision.SupervisorFault as exc:
            cls = _FAULT_CLASSES.get(exc.name, SupervisorError)
            raise cls(f"supervisord: {exc.message}") from None
        except supervision.SupervisionError as exc:
            raise SupervisorUnavailable(f"supervisord is not reachable ({exc})") from None

    def state(self) -> dict[str, Any]:
        return dict(self._do("state"))

    def processes(self) -> list[dict[str, Any]]:
        """``getAllProcessInfo`` with a ``fullname`` (``group:name``) added to each entry."""
        infos = list(self._do("processes"))
        for info in infos:
            info["fullname"] = full_name(info)
        return infos

    def process(self, name: str) -> dict[str, Any]:
        info = dict(self._do("process", name))
        info["fullname"] = full_name(info)
        return info

    def start(self, name: str, wait: bool = False) -> bool:
        return bool(self._do("start", name, wait))

    def stop(self, name: str, wait: bool = True) -> bool:
        return bool(self._do("stop", name, wait))

    def signal(self, name: str, sig: str) -> bool:
        return bool(self._do("signal", name, sig))

    def tail(self, name: str, offset: int, length: int) -> tuple[str, int, bool]:
        """The end of a program's log (the watchdog's stderr log): (text, new offset,
        overflow). Poll with the new offset."""
        text, new_offset, overflow = self._do("tail", name, offset, length)
        return str(text), int(new_offset), bool(overflow)


__all__ = [
    "Supervisor",
    "SupervisorError",
    "SupervisorUnavailable",
    "UnknownProgram",
    "WrongState",
    "full_name",
]
