"""An HTTP answer other than 200, raised by the simulator's logic, sent by the web layer."""

from __future__ import annotations


class HttpError(Exception):
    def __init__(self, status: int, body: str = "") -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
