"""JSON answers and query parameters of the Arr simulators' bottle routes (API and /sim/)."""

from __future__ import annotations

import json
from typing import Any

import bottle


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def as_json(data: Any, status: int = 200) -> str:
    bottle.response.status = status
    bottle.response.content_type = "application/json; charset=utf-8"
    return dumps(data)


def fail(
    status: int, message: str, errors: list[dict[str, Any]] | None = None
) -> bottle.HTTPResponse:
    body = dumps(errors if errors is not None else {"message": message})
    return bottle.HTTPResponse(
        body=body, status=status, headers={"Content-Type": "application/json; charset=utf-8"}
    )


def q_int(name: str, default: int, minimum: int = 0) -> int:
    raw = bottle.request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise fail(400, f"'{name}' must be an integer") from None
    return max(minimum, value)


def q_bool(name: str, default: bool) -> bool:
    raw = bottle.request.query.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() == "true"


def q_ints(name: str) -> list[int]:
    values = []
    for raw in bottle.request.query.getall(name):
        for part in str(raw).split(","):
            if part.strip():
                try:
                    values.append(int(part))
                except ValueError:
                    raise fail(400, f"'{name}' must be integers") from None
    return values
