"""qBittorrent WebUI API v2 client (httpx), for 4.5 and 5.x.

One `QbtClient` per program: it pools the connection, owns the login session
(`QbtAuth`), probes the version once to choose pause/resume or stop/start and
the other 5.x spellings, and keeps one `Snapshot` that `sync()` updates in place
from `sync/maindata`. Only idempotent GETs are retried (connect errors,
timeouts, 502/503/504) with a short exponential backoff; a POST is retried only
when the connection was refused, i.e. it never reached qBittorrent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, TypeVar

import httpx

from qbarr.backoff import Backoff
from qbarr.peer import Peer, call_limit

from ..tls import verify_for
from .auth import LOGIN_PATH, QbtAuth
from .errors import (
    QbtAuthError,
    QbtConflict,
    QbtError,
    QbtNotFound,
    QbtProtocolError,
    QbtUnavailable,
)
from .snapshot import Snapshot, validate
from .version import QbtVersion, parse_webapi

log = logging.getLogger("qbarr.qbittorrent")
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

RETRY_STATUSES = frozenset({502, 503, 504})
T = TypeVar("T")


def _join(hashes: list[str] | tuple[str, ...]) -> str:
    return "|".join(h.lower() for h in hashes)


def _flag(value: bool) -> str:
    return "true" if value else "false"


class QbtClient:
    """Typed calls for what qbarr needs; every failure raises a `QbtError` subclass."""

    def __init__(
        self,
        url: str,
        username: str = "",
        password: str = "",
        api_key: str = "",
        timeout: float = 15.0,
        user_agent: str = "qbarr",
        *,
        retries: int = 2,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._retries = max(0, retries)
        self._backoff = Backoff(base=backoff, cap=max(backoff, 5.0), jitter=0.5)
        self._timeout = timeout
        self._version: QbtVersion | None = None
        self._snapshot = Snapshot()
        self._lock = threading.Lock()
        self._stats = {"calls": 0, "errors": 0, "bytes_in": 0, "retries": 0, "logins": 0}
        self.peer = Peer("qBittorrent", call_limit(timeout))
        self._auth = QbtAuth(
            self.url + "/api/v2/" + LOGIN_PATH,
            username,
            password,
            api_key,
            on_login=self._count_login,
        )
        self._http = httpx.Client(
            base_url=self.url + "/api/v2/",
            auth=self._auth,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            headers={"User-Agent": user_agent},
            follow_redirects=False,
            verify=verify_for(self.url),
        )

    # ------------------------------------------------------------------ plumbing
    def __enter__(self) -> QbtClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def stats(self) -> dict[str, int]:
        """Counters for /metrics: calls, errors, bytes_in (wire bytes), retries, logins."""
        with self._lock:
            return dict(self._stats)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def _bump(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def _count_login(self, response: httpx.Response) -> None:
        self._bump("logins")
        self._bump("bytes_in", response.num_bytes_downloaded)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> httpx.Response:
        """Send with bounded retries; map every failure to a QbtError."""
        attempts = 1 + self._retries
        for attempt in range(attempts):
            self._bump("calls")
            last = attempt + 1 == attempts
            try:
                with self.peer.call(f"{method} {path}"):
                    response = self._http.request(
                        method, path, params=params, data=data, files=files
                    )
            except QbtError as exc:  # the login inside the auth flow failed
                self._bump("errors")
                self._judged(exc)
                raise
            except httpx.TransportError as exc:
                error = self._transport_error(method, path, exc)
                # a refused connection never reached qBittorrent: safe to retry even a POST
                if not last and (method == "GET" or isinstance(exc, httpx.ConnectError)):
                    self._pause(attempt)
                    continue
                self._bump("errors")
                self._judged(error)
                raise error from exc
            self._bump("bytes_in", response.num_bytes_downloaded)
            if response.status_code in RETRY_STATUSES and method == "GET" and not last:
                self._pause(attempt)
                continue
            try:
                checked = self._check(method, path, response)
            except QbtError as exc:
                self._judged(exc)
                raise
            self.peer.answered()
            return checked
        raise AssertionError("unreachable")  # pragma: no cover

    def _judged(self, exc: QbtError) -> None:
        """Reachability after a failed call: it answered (a 404, a 409 ...) or it is down."""
        if isinstance(exc, (QbtUnavailable, QbtAuthError, QbtProtocolError)):
            self.peer.failed(str(exc))
        else:
            self.peer.answered()

    def _transport_error(self, method: str, path: str, exc: httpx.TransportError) -> QbtError:
        where = f"{method} /api/v2/{path}"
        if isinstance(exc, httpx.TimeoutException):
            return QbtUnavailable(
                f"qBittorrent did not answer {where} within {self._timeout:g} s "
                f"({type(exc).__name__})",
                path=path,
                maybe_applied=not isinstance(exc, httpx.ConnectTimeout),
            )
        if isinstance(exc, httpx.ConnectError):
            return QbtUnavailable(f"cannot connect to qBittorrent for {where}: {exc}", path=path)
        return QbtUnavailable(
            f"connection to qBittorrent failed during {where}: {type(exc).__name__}: {exc}",
            path=path,
            maybe_applied=True,
        )

    def _pause(self, attempt: int) -> None:
        self._bump("retries")
        time.sleep(self._backoff.sample(attempt + 1))

    def _check(self, method: str, path: str, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        self._bump("errors")
        detail = response.text.strip()[:200] if status < 500 else response.reason_phrase
        msg = f"qBittorrent {method} /api/v2/{path} -> HTTP {status}: {detail}"
        if status in (401, 403):
            why = (
                " (API key refused)"
                if self._auth.uses_api_key
                else " (still refused after logging in again)"
            )
            raise QbtAuthError(msg + why, status=status, path=path)
        if status == 404:
            raise QbtNotFound(msg, status=status, path=path)
        if status == 409:
            raise QbtConflict(msg, status=status, path=path)
        if status >= 500:
            raise QbtUnavailable(msg, status=status, path=path, maybe_applied=True)
        raise QbtError(msg, status=status, path=path)

    def _get_json(self, path: str, expect: type[T], params: dict[str, Any] | None = None) -> T:
        response = self._request("GET", path, params=params)
        return self._decode(path, response, expect)

    def _decode(self, path: str, response: httpx.Response, expect: type[T]) -> T:
        try:
            value = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            self._bump("errors")
            self.peer.failed(f"qBittorrent GET /api/v2/{path}: malformed JSON")
            raise QbtProtocolError(
                f"qBittorrent GET /api/v2/{path}: malformed JSON "
                f"({len(response.content)} bytes, HTTP {response.status_code})",
                status=response.status_code,
                path=path,
            ) from exc
        if not isinstance(value, expect):
            self._bump("errors")
            raise QbtProtocolError(
                f"qBittorrent GET /api/v2/{path}: expected a JSON "
                f"{expect.__name__}, got {type(value).__name__}",
                status=response.status_code,
                path=path,
            )
        return value

    def _get_text(self, path: str) -> str:
        return self._request("GET", path).text.strip()

    def _post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self._request("POST", path, data=data, **kw)

    # ------------------------------------------------------------------ auth + app
    def login(self) -> None:
        """Log in now (otherwise the first call does). QbtAuthError on wrong credentials."""
        if self._auth.uses_api_key:
            return
        self._bump("calls")
        try:
            template = self._http.build_request("POST", LOGIN_PATH)  # carries the timeouts
            with self.peer.call(f"POST {LOGIN_PATH}"):
                response = self._http.send(self._auth.login_request(template), auth=None)
        except httpx.TransportError as exc:
            self._bump("errors")
            error = self._transport_error("POST", LOGIN_PATH, exc)
            self._judged(error)
            raise error from exc
        try:
            self._auth.accept(response)
        except QbtError as exc:
            self._bump("errors")
            self._judged(exc)
            raise
        self.peer.answered()

    def logout(self) -> None:
        """End the session (qBittorrent invalidates the cookie); the next call logs in again."""
        if self._auth.has_session:
            try:
                self._post("auth/logout")
            finally:
                self._auth.forget()

    def version(self, refresh: bool = False) -> QbtVersion:
        """Probe app/version + app/webapiVersion once; cached until refresh=True."""
        if self._version is None or refresh:
            app = self._get_text("app/version")
            webapi = parse_webapi(self._get_text("app/webapiVersion"))
            self._version = QbtVersion(app=app, webapi=webapi)
            log.info("connected to %s at %s", self._version, self.url)
        return self._version

    @property
    def cached_version(self) -> QbtVersion | None:
        """The version probed by :meth:`version`, without a call (None before the probe)."""
        return self._version

    def preferences(self) -> dict[str, Any]:
        return self._get_json("app/preferences", dict)

    def transfer_info(self) -> dict[str, Any]:
        return self._get_json("transfer/info", dict)

    # ------------------------------------------------------------------ sync
    def sync(self) -> Snapshot:
        """One `sync/maindata` round: full the first time (or after session loss /
        unknown rid), then only changes. Returns the client's single Snapshot."""
        snap = self._snapshot
        response = self._request("GET", "sync/maindata", params={"rid": snap.rid})
        data = self._decode("sync/maindata", response, dict)
        if not data.get("full_update") and self._inconsistent(data):
            log.warning("sync/maindata diff names torrents this client never saw; resyncing")
            snap.reset()
            return self.sync()
        snap.apply(data)
        snap.last_bytes = len(response.content)
        return snap

    def maindata(self, rid: int = 0) -> dict[str, Any]:
        """One raw `sync/maindata` answer (checked, not merged into the client's Snapshot):
        with rid 0, everything qBittorrent has."""
        data = self._get_json("sync/maindata", dict, {"rid": rid})
        validate(data)
        return data

    def _inconsistent(self, data: dict[str, Any]) -> bool:
        """A partial update that brings an unknown torrent without its name is a diff
        against state we do not hold (e.g. our snapshot was reset)."""
        torrents = data.get("torrents") or {}
        return isinstance(torrents, dict) and any(
            h.lower() not in self._snapshot.torrents and isinstance(t, dict) and "name" not in t
            for h, t in torrents.items()
        )

    # ------------------------------------------------------------------ torrents: read
    def torrents_info(
        self,
        hashes: list[str] | None = None,
        category: str | None = None,
        *,
        filter: str | None = None,
        tag: str | None = None,
    ) -> list[dict[str, Any]]:
        """torrents/info. category "" = uncategorised; hashes [] = nothing (no request).
        `filter` takes the 4.x names; "paused"/"resumed" become "stopped"/"running" on
        5.x (an unknown filter would silently mean "all")."""
        if hashes is not None and not hashes:
            return []
        params: dict[str, Any] = {}
        if hashes:
            params["hashes"] = _join(hashes)
        if category is not None:
            params["category"] = category
        if tag is not None:
            params["tag"] = tag
        if filter:
            if self.version().v5:
                filter = {"paused": "stopped", "resumed": "running"}.get(filter, filter)
            else:
                filter = {"stopped": "paused", "running": "resumed"}.get(filter, filter)
            params["filter"] = filter
        return self._get_json("torrents/info", list, params)

    def files(self, hash: str) -> list[dict[str, Any]]:
        return self._get_json("torrents/files", list, {"hash": hash.lower()})

    def trackers(self, hash: str) -> list[dict[str, Any]]:
        return self._get_json("torrents/trackers", list, {"hash": hash.lower()})

    def properties(self, hash: str) -> dict[str, Any]:
        return self._get_json("torrents/properties", dict, {"hash": hash.lower()})

    # ------------------------------------------------------------------ torrents: act
    def _each(self, path: str, hashes: list[str], **extra: Any) -> None:
        """POST a hashes= action; an empty list sends nothing (never 'all' by accident)."""
        if hashes:
            self._post(path, {"hashes": _join(hashes), **extra})

    def delete(self, hashes: list[str], delete_files: bool) -> None:
        self._each("torrents/delete", hashes, deleteFiles=_flag(delete_files))

    def recheck(self, hashes: list[str]) -> None:
        self._each("torrents/recheck", hashes)

    def reannounce(self, hashes: list[str]) -> None:
        self._each("torrents/reannounce", hashes)

    def remove_trackers(self, hash: str, urls: list[str]) -> None:
        """Remove these tracker URLs from one torrent (409 when none of them is there)."""
        if urls:
            self._post("torrents/removeTrackers", {"hash": hash.lower(), "urls": "|".join(urls)})

    def pause(self, hashes: list[str]) -> None:
        """torrents/pause on 4.x, torrents/stop on 5.x."""
        self._each("torrents/stop" if self.version().v5 else "torrents/pause", hashes)

    def resume(self, hashes: list[str]) -> None:
        """torrents/resume on 4.x, torrents/start on 5.x."""
        self._each("torrents/start" if self.version().v5 else "torrents/resume", hashes)

    def set_category(self, hashes: list[str], category: str) -> None:
        """QbtConflict if the category does not exist ("" clears it)."""
        self._each("torrents/setCategory", hashes, category=category)

    def create_category(self, name: str, save_path: str = "") -> None:
        """QbtConflict if it already exists or the name is invalid."""
        self._post("torrents/createCategory", {"category": name, "savePath": save_path})

    def remove_categories(self, names: list[str]) -> None:
        """Torrents in them keep running with category ""."""
        if names:
            self._post("torrents/removeCategories", {"categories": "\n".join(names)})

    def delete_tags(self, tags: list[str]) -> None:
        """Delete tags everywhere (removed from every torrent)."""
        if tags:
            self._post("torrents/deleteTags", {"tags": ",".join(tags)})

    def create_tags(self, tags: list[str]) -> None:
        if tags:
            self._post("torrents/createTags", {"tags": ",".join(tags)})

    def add_tags(self, hashes: list[str], tags: list[str]) -> None:
        if tags:
            self._each("torrents/addTags", hashes, tags=",".join(tags))

    def remove_tags(self, hashes: list[str], tags: list[str]) -> None:
        if tags:  # no tags at all would mean "remove every tag" to qBittorrent
            self._each("torrents/removeTags", hashes, tags=",".join(tags))

    def file_prio(self, hash: str, file_ids: list[int], priority: int) -> None:
        """Priority 0 = do not download, 1 normal, 6 high, 7 maximal."""
        if file_ids:
            self._post(
                "torrents/filePrio",
                {
                    "hash": hash.lower(),
                    "id": "|".join(str(int(i)) for i in file_ids),
                    "priority": int(priority),
                },
            )

    def set_share_limits(
        self,
        hashes: list[str],
        ratio_limit: float,
        seeding_time_limit: int,
        inactive_seeding_time_limit: int = -2,
    ) -> None:
        """-2 = global limit, -1 = unlimited; seeding times in minutes. Sends the
        parameters each version requires (4.6+: inactive limit, 5.2+: action)."""
        extra: dict[str, Any] = {"ratioLimit": ratio_limit, "seedingTimeLimit": seeding_time_limit}
        v = self.version()
        if v.needs_inactive_seeding_limit:
            extra["inactiveSeedingTimeLimit"] = inactive_seeding_time_limit
        if v.needs_share_limit_action:
            extra["shareLimitAction"] = "Default"
        self._each("torrents/setShareLimits", hashes, **extra)

    def add(
        self,
        urls: list[str] | None = None,
        torrent_files: list[bytes] | None = None,
        category: str | None = None,
        tags: list[str] | None = None,
        save_path: str | None = None,
        paused: bool = False,
        skip_checking: bool = False,
    ) -> None:
        """Add magnets/URLs and/or .torrent files. QbtConflict if none was accepted
        (already present, invalid); QbtError 415 for a file that is not a torrent.
        ``skip_checking``: trust the data in the save path without hashing it."""
        if not urls and not torrent_files:
            raise ValueError("add() needs urls or torrent_files")
        v = self.version()
        data: dict[str, Any] = {}
        if urls:
            data["urls"] = "\n".join(urls)
        if category is not None:
            data["category"] = category
        if tags:
            data["tags"] = ",".join(tags)
        if save_path:
            data["savepath"] = save_path
        if paused:
            data["stopped" if v.v5 else "paused"] = "true"
        if skip_checking:
            data["skip_checking"] = "true"
        files = [
            ("torrents", (f"upload{i}.torrent", blob, "application/x-bittorrent"))
            for i, blob in enumerate(torrent_files or ())
        ]
        response = self._post("torrents/add", data, files=files or None)
        self._check_add(response, v)

    def _check_add(self, response: httpx.Response, v: QbtVersion) -> None:
        if response.status_code == 204:
            return
        text = response.text.strip()
        if text == "Fails.":
            raise QbtConflict(
                "qBittorrent POST /api/v2/torrents/add accepted no torrent "
                "(already present or invalid)",
                status=response.status_code,
                path="torrents/add",
            )
        if v.json_add_result and text.startswith("{"):
            result = self._decode("torrents/add", response, dict)
            if result.get("success_count", 1) == 0 and result.get("pending_count", 0) == 0:
                raise QbtConflict(
                    "qBittorrent POST /api/v2/torrents/add accepted no torrent",
                    status=response.status_code,
                    path="torrents/add",
                )


__all__ = ["QbtClient"]
