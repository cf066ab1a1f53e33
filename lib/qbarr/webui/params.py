"""Reading request input strictly: query parameters, JSON bodies, form fields.

Anything malformed is a :class:`WebError` 400 (413 for an oversize body) with a message
that names the parameter, never a 500.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import bottle

from qbarr.webui.context import WebError

MAX_BODY = 256 * 1024


def query_str(name: str, maxlen: int = 500) -> str | None:
    value = bottle.request.query.getunicode(name)
    if value is None:
        if name in bottle.request.query:
            raise WebError(400, f"parameter {name!r} is not valid UTF-8")
        return None
    if len(value) > maxlen:
        raise WebError(400, f"parameter {name!r} is longer than {maxlen} characters")
    return value or None


def query_int(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = query_str(name, 40)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WebError(400, f"parameter {name!r} must be a whole number") from None
    if not lo <= value <= hi:
        raise WebError(400, f"parameter {name!r} must be between {lo} and {hi}")
    return value


def query_enum(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = query_str(name, 40)
    if raw is None:
        return default
    if raw not in choices:
        raise WebError(400, f"parameter {name!r} must be one of {', '.join(choices)}")
    return raw


def query_time(name: str) -> float | None:
    """Unix seconds, or an ISO 8601 date/time (local time when it has no zone)."""
    raw = query_str(name, 40)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            value = datetime.fromisoformat(raw).timestamp()
        except (ValueError, OverflowError, OSError):
            raise WebError(
                400, f"parameter {name!r} must be Unix seconds or an ISO date/time"
            ) from None
    if not math.isfinite(value) or not 0 <= value <= 1e11:
        raise WebError(400, f"parameter {name!r} is out of range")
    return value


def raw_body(limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 when it is larger than ``limit`` bytes (read once)."""
    env = bottle.request.environ
    if "qbarr.body" in env:
        return env["qbarr.body"]
    try:
        length = int(env.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise WebError(400, "bad Content-Length") from None
    if length > limit:
        raise WebError(413, f"request body larger than {limit} bytes")
    stream = env.get("wsgi.input")
    if stream is None:
        return b""
    if length:
        data = stream.read(length)
        if len(data) < length:  # the client stopped sending (or was too slow: worker.py)
            raise WebError(400, f"the request body ended after {len(data)} of {length} bytes")
    elif "chunked" in env.get("HTTP_TRANSFER_ENCODING", "").lower():
        data = stream.read(limit + 1)
    else:
        data = b""
    if len(data) > limit:
        raise WebError(413, f"request body larger than {limit} bytes")
    env["qbarr.body"] = data
    return data


def json_body(limit: int = MAX_BODY) -> dict[str, Any]:
    """The body as a JSON object (400 for anything else)."""
    content_type = bottle.request.content_type.split(";")[0].strip().lower()
    data = raw_body(limit)
    if content_type and content_type != "application/json":
        raise WebError(400, "the body must be JSON (Content-Type: application/json)")
    if not data.strip():
        return {}
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise WebError(400, "the body is nested too deeply") from None
    if not isinstance(value, dict):
        raise WebError(400, "the body must be a JSON object")
    try:  # JSON may spell lone surrogates (\ud800): not text that can be written as UTF-8
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise WebError(400, "the body holds a lone surrogate (\\uD800-\\uDFFF): not text") from None
    return value


def form_body(limit: int = MAX_BODY) -> dict[str, str]:
    """An urlencoded form body as a dict of str (the last value of a repeated field)."""
    from urllib.parse import parse_qsl

    data = raw_body(limit)
    try:
        pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True, max_num_fields=5000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebError(400, f"bad form body: {exc}") from None
    return {k: v for k, v in pairs}
