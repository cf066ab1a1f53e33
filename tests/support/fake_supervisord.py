"""A stand-in for supervisord's XML-RPC control socket, for the failure paths a real
supervisord will not produce on demand: a call that never answers, a connection dropped in
the middle of an update, a fault.

    with FakeSupervisord(home.socket, {"supervisor.getState": {"statename": "RUNNING"},
                                       "supervisor.removeProcessGroup": CLOSE}) as fake:
        ...                     # fake.calls lists the method names received, in order

A behaviour is a value to answer, an ``xmlrpc.client.Fault`` to answer with, a callable
(its result is answered), ``HANG`` (read the request, never answer) or ``CLOSE`` (read the
request, close the connection). A method without a behaviour answers ``True``. Everything
runs on a daemon thread and stops on ``__exit__``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANG = object()
CLOSE = object()


class FakeSupervisord:
    def __init__(self, path: Path, behaviours: dict[str, Any] | None = None) -> None:
        self.path = path
        self.behaviours = dict(behaviours or {})
        self.calls: list[str] = []
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeSupervisord:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server.bind(str(self.path))
        self._server.listen(16)
        self._server.settimeout(0.1)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for conn in self._held:
            conn.close()
        self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            body = _read_request(conn)
        except OSError:
            conn.close()
            return
        params, method = xmlrpc.client.loads(body)
        self.calls.append(str(method))
        behaviour = self.behaviours.get(str(method), True)
        if behaviour is HANG:
            self._held.append(conn)  # never answered; closed at exit
            return
        if behaviour is CLOSE:
            conn.close()
            return
        if isinstance(behaviour, xmlrpc.client.Fault):
            payload = xmlrpc.client.dumps(behaviour, methodresponse=True, allow_none=True)
        else:
            value = behaviour(*params) if isinstance(behaviour, Callable) else behaviour
            payload = xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)
        data = payload.encode()
        head = f"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(data)}\r\n\r\n"
        with contextlib.suppress(OSError):
            conn.sendall(head.encode() + data)
        conn.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise OSError("closed")
        body += chunk
    return body
