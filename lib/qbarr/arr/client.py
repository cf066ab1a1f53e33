"""httpx client for Radarr v3, Sonarr v3 and Lidarr v1.

One `ArrClient` per Arr instance per program. The per-kind differences live
in `qbarr.arr.kinds`; everything here is shared. Transport problems become the
typed errors of `qbarr.arr.errors` at this boundary, so a manager never sees
an httpx exception. The API key is only ever put in the `X-Api-Key` header:
it is never part of a URL, a message, a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from qbarr import __version__
from qbarr.arr.errors import (
    ArrAuthError,
    ArrBadRequest,
    ArrError,
    ArrNotFound,
    ArrProtocolError,
    ArrUnavailable,
)
from qbarr.arr.kinds import ArrKind, kind_of
from qbarr.arr.models import QueueItem, parse_queue_record
from qbarr.backoff import Backoff
from qbarr.peer import Peer, call_limit
from qbarr.tls import verify_for

log = logging.getLogger("qbarr.arr")
# httpx logs every request at INFO; a poller every 2 s would drown the log.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

RETRY_STATUSES = frozenset({502, 503, 504})
T = TypeVar("T")
QUEUE_PAGE_SIZE = 1000
MAX_QUEUE_PAGES = 1000  # a guard against an Arr that never stops paging
HISTORY_PAGE_SIZE = 50  # events of one download: a grab, an import per file, failures


def public_url(url: str) -> str:
    """The URL as shown in messages: no credentials, query or fragment."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class ArrClient:
    """A client for one Arr instance; use `make_client` to build one."""

    def __init__(
        self,
        kind: ArrKind,
        url: str,
        api_key: str,
        timeout: float = 30.0,
        *,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        queue_page_size: int = QUEUE_PAGE_SIZE,
    ) -> None:
        self.kind = kind.name
        self.spec = kind
        self.url = public_url(url)
        if urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).hostname:
            raise ValueError(f"not an http(s) URL: {self.url!r}")
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.backoff = Backoff(base=backoff, cap=max(backoff, 5.0), jitter=0.2)
        self.queue_page_size = max(1, int(queue_page_size))
        self.stats: dict[str, int] = {"calls": 0, "errors": 0, "bytes_in": 0}
        self.peer = Peer(kind.app_name, call_limit(self.timeout))
        self._http = httpx.Client(
            base_url=f"{self.url}{kind.api_prefix}/",
            headers={
                "X-Api-Key": api_key,
                "Accept": "application/json",
                "User-Agent": f"qbarr/{__version__}",
            },
            timeout=httpx.Timeout(self.timeout, connect=min(5.0, self.timeout)),
            follow_redirects=False,
            transport=transport,
            verify=verify_for(self.url),
        )

    # -- plumbing ---------------------------------------------------------

    def __repr__(self) -> str:
        return f"ArrClient(kind={self.kind!r}, url={self.url!r})"

    def __enter__(self) -> ArrClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        expect_json: bool = True,
    ) -> Any:
        """One call with retries for idempotent GETs; returns the decoded JSON (or None)."""
        attempts = 1 + (self.retries if method == "GET" else 0)
        what = f"{method} {path}"
        for attempt in range(attempts):
            try:
                return self._once(method, path, params, body, expect_json)
            except ArrUnavailable:
                if attempt + 1 >= attempts:
                    self.stats["errors"] += 1
                    raise
                delay = self.backoff.sample(attempt + 1)
                log.debug(
                    "%s %s: unavailable, retry %d in %.2f s", self.kind, what, attempt + 1, delay
                )
                time.sleep(delay)
            except ArrError:
                self.stats["errors"] += 1
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, expect_json: bool
    ) -> Any:
        what = f"{method} {path}"
        started = time.monotonic()
        self.stats["calls"] += 1
        try:
            with self.peer.call(what):
                response = self._send(method, path, params, body)
            self.stats["bytes_in"] += len(response.content)
            log.debug(
                "%s %s -> %d (%.0f ms, %d B)",
                self.kind,
                what,
                response.status_code,
                (time.monotonic() - started) * 1000,
                len(response.content),
            )
            self._check_status(response, what)
            result = self._decode(response, what, expect_json)
        except (ArrNotFound, ArrBadRequest):
            self.peer.answered()  # it answered: reachable, it only refused this call
            raise
        except ArrError as exc:
            self.peer.failed(str(exc))
            raise
        self.peer.answered()
        return result

    def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any
    ) -> httpx.Response:
        what = f"{method} {path}"
        try:
            return self._http.request(
                method, path, params=params, json=body if body is not None else None
            )
        except httpx.TimeoutException as exc:
            raise ArrUnavailable(
                f"{self.spec.app_name} at {self.url} did not answer {what} "
                f"within {self.timeout:g} s",
                url=self.url,
                maybe_applied=not isinstance(exc, httpx.ConnectTimeout),
            ) from exc
        except httpx.TransportError as exc:
            raise ArrUnavailable(
                f"{self.spec.app_name} at {self.url} is unreachable ({what}): {type(exc).__name__}",
                url=self.url,
                maybe_applied=not isinstance(exc, httpx.ConnectError),
            ) from exc

    def _check_status(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = _error_detail(response)
        key = self._http.headers.get("x-api-key", "")
        if key and key in detail:
            detail = detail.replace(key, "***")
        app = self.spec.app_name
        if status == 401:
            raise ArrAuthError(
                f"wrong API key for {self.url} ({app} answered 401 to {what})",
                url=self.url,
                status=status,
            )
        if status == 403:
            raise ArrAuthError(
                f"access to {self.url} refused (403 to {what}); check the API key "
                "and any reverse proxy in front of it",
                url=self.url,
                status=status,
            )
        if status == 404:
            raise ArrNotFound(
                f"{app} at {self.url}: {what} not found (404){detail}", url=self.url, status=status
            )
        if status >= 500 or status == 429:
            raise ArrUnavailable(
                f"{app} at {self.url} answered {status} to {what}{detail}",
                url=self.url,
                status=status,
                maybe_applied=status != 429,  # a 5xx may come after the Arr acted on it
            )
        if 300 <= status < 400:
            where = public_url(response.headers.get("location", "")) or "?"
            raise ArrProtocolError(
                f"{self.url} redirected {what} to {where} ({status}): a login "
                "page or a wrong URL base?",
                url=self.url,
                status=status,
            )
        raise ArrBadRequest(
            f"{app} at {self.url} refused {what} ({status}){detail}", url=self.url, status=status
        )

    def _decode(self, response: httpx.Response, what: str, expect_json: bool) -> Any:
        content = response.content
        if not content.strip():
            if expect_json:
                raise ArrProtocolError(
                    f"{self.url}: empty answer to {what}",
                    url=self.url,
                    status=response.status_code,
                    maybe_applied=True,
                )
            return None
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and "json" not in ctype:
            raise ArrProtocolError(
                f"{self.url} answered {what} with {ctype}, not JSON: a reverse proxy or login "
                "page in front of the Arr, or a wrong URL base?",
                url=self.url,
                status=response.status_code,
            )
        try:
            return json.loads(content)
        except ValueError as exc:
            raise ArrProtocolError(
                f"{self.url} answered {what} with malformed JSON ({len(content)} bytes)",
                url=self.url,
                status=response.status_code,
                maybe_applied=True,  # a 2xx whose body broke: the call went through
            ) from exc

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """Any other documented GET below the API prefix ('movie', 'series', 'episode/12'...):
        the decoded JSON, with the same retries and typed errors."""
        return self._get(path.lstrip("/"), params)

    def _expect(self, value: Any, typ: type[T], what: str) -> T:
        if not isinstance(value, typ):
            raise ArrProtocolError(
                f"{self.url}: {what} is a {type(value).__name__}, expected {typ.__name__}",
                url=self.url,
            )
        return value

    # -- API ----------------------------------------------------------------

    def system_status(self) -> dict[str, Any]:
        """GET system/status (appName, version, ...)."""
        return self._expect(self._get("system/status"), dict, "system/status")

    def download_clients(self) -> list[dict[str, Any]]:
        """GET downloadclient: the Arr's own download clients (settings in ``fields``)."""
        found = self._expect(self._get("downloadclient"), list, "downloadclient")
        return [c for c in found if isinstance(c, dict)]

    def queue(self) -> list[QueueItem]:
        """Every queue record, all pages, unknown items included, media objects left out."""
        items: dict[int, QueueItem] = {}
        page = 1
        while page <= MAX_QUEUE_PAGES:
            params = {
                "page": page,
                "pageSize": self.queue_page_size,
                "sortKey": "timeleft",
                "sortDirection": "ascending",
                **self.spec.queue_params,
            }
            data = self._expect(self._get("queue", params), dict, "queue")
            records = data.get("records") or []
            for record in self._expect(records, list, "queue records"):
                if isinstance(record, dict) and isinstance(record.get("id"), int):
                    item = parse_queue_record(self.spec, record)
                    items.setdefault(item.id, item)
            total = data.get("totalRecords")
            if not records or not isinstance(total, int) or page * self.queue_page_size >= total:
                break
            page += 1
        return list(items.values())

    def delete_queue(
        self,
        item_id: int,
        remove_from_client: bool = True,
        blocklist: bool = True,
        skip_redownload: bool = False,
    ) -> None:
        """DELETE queue/{id}: remove (and blocklist) one download."""
        params = {
            "removeFromClient": _flag(remove_from_client),
            "blocklist": _flag(blocklist),
            "skipRedownload": _flag(skip_redownload),
        }
        self._request("DELETE", f"queue/{int(item_id)}", params=params, expect_json=False)

    def command(self, name: str, **body: Any) -> dict[str, Any]:
        """POST command {name, **body}; returns the CommandResource (id, status...)."""
        payload = {"name": name, **body}
        return self._expect(self._request("POST", "command", body=payload), dict, "command")

    def get_command(self, command_id: int) -> dict[str, Any]:
        return self._expect(self._get(f"command/{int(command_id)}"), dict, "command")

    def commands(self) -> list[dict[str, Any]]:
        """GET command: the commands the Arr knows (queued, started, recently finished)."""
        return self._expect(self._get("command"), list, "command list")

    def download_history(self, download_id: str) -> list[dict[str, Any]]:
        """GET history?downloadId=: the Arr's events of one download (grabbed, imported,
        failed), newest first; kept for as long as the Arr keeps history, unlike commands."""
        params = {
            "page": 1,
            "pageSize": HISTORY_PAGE_SIZE,
            "sortKey": "date",
            "sortDirection": "descending",
            "downloadId": download_id.upper(),
        }
        data = self._expect(self._get("history", params), dict, "history")
        return self._expect(data.get("records") or [], list, "history records")

    def scan(self, path: str, download_client_id: str, import_mode: str = "Auto") -> dict[str, Any]:
        """Downloaded*Scan of one finished download (downloadClientId upper-case hash)."""
        return self.command(
            self.spec.scan_command,
            path=path,
            downloadClientId=download_client_id.upper(),
            importMode=import_mode,
        )

    def search_for(self, items: Iterable[QueueItem]) -> dict[str, Any] | None:
        """Search again for the media of these (failed) queue items; None if they carry none."""
        ids = sorted(
            {
                v
                for item in items
                for k, v in item.media.items()
                if k == self.spec.search_media_field and isinstance(v, int)
            }
        )
        if not ids:
            return None
        return self.command(self.spec.search_command, **{self.spec.search_ids_field: ids})

    def search_media(
        self,
        ids: list[int],
        series_id: int | None = None,
        mode: str = "episode",
        season: int | None = None,
    ) -> dict[str, Any]:
        """MoviesSearch / EpisodeSearch / SeasonSearch / SeriesSearch / AlbumSearch."""
        if self.kind == "sonarr" and mode in ("series", "season"):
            if series_id is None:
                raise ValueError(f"a {mode} search needs series_id")
            if mode == "season":
                if season is None:
                    raise ValueError("a season search needs season")
                return self.command("SeasonSearch", seriesId=int(series_id), seasonNumber=season)
            return self.command(self.spec.series_search_command, seriesId=int(series_id))
        if self.kind == "sonarr" and mode != "episode":
            raise ValueError(f"unknown search mode {mode!r} (episode, season or series)")
        clean = sorted({int(i) for i in ids})
        if not clean:
            raise ValueError("no media ids to search for")
        return self.command(self.spec.search_command, **{self.spec.search_ids_field: clean})

    def rss_sync(self) -> dict[str, Any]:
        return self.command("RssSync")

    def refresh_monitored_downloads(self) -> dict[str, Any]:
        return self.command("RefreshMonitoredDownloads")

    def wanted_missing(
        self,
        page: int = 1,
        page_size: int = 100,
        monitored: bool = True,
        sort_key: str | None = None,
        sort_direction: str = "descending",
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of wanted/missing: (records, totalRecords)."""
        return self._wanted("wanted/missing", page, page_size, monitored, sort_key, sort_direction)

    def wanted_cutoff(
        self,
        page: int = 1,
        page_size: int = 100,
        monitored: bool = True,
        sort_key: str | None = None,
        sort_direction: str = "descending",
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of wanted/cutoff (quality cutoff not met): (records, totalRecords)."""
        return self._wanted("wanted/cutoff", page, page_size, monitored, sort_key, sort_direction)

    def _wanted(
        self,
        path: str,
        page: int,
        page_size: int,
        monitored: bool,
        sort_key: str | None,
        sort_direction: str,
    ) -> tuple[list[dict[str, Any]], int]:
        params: dict[str, Any] = {
            "page": int(page),
            "pageSize": int(page_size),
            "monitored": _flag(monitored),
            **self.spec.wanted_params,
        }
        if sort_key:
            params["sortKey"] = sort_key
            params["sortDirection"] = sort_direction
        data = self._expect(self._get(path, params), dict, path)
        records = self._expect(data.get("records") or [], list, f"{path} records")
        total = data.get("totalRecords")
        return [r for r in records if isinstance(r, dict)], total if isinstance(
            total, int
        ) else len(records)

    def quality_profiles(self) -> list[dict[str, Any]]:
        return self._expect(self._get("qualityprofile"), list, "qualityprofile")

    def profile_owner(self, owner_id: int) -> dict[str, Any]:
        """The movie (Radarr), series (Sonarr) or artist (Lidarr) that carries a quality profile."""
        path = self.spec.profile_owner
        return self._expect(self._get(f"{path}/{int(owner_id)}"), dict, path)

    def set_quality_profile(self, owner_ids: list[int], profile_id: int) -> None:
        """PUT movie|series|artist/editor: only the quality profile of these changes."""
        path, field_name = self.spec.profile_owner, self.spec.profile_owner_ids
        body = {field_name: sorted({int(i) for i in owner_ids}), "qualityProfileId": profile_id}
        self._request("PUT", f"{path}/editor", body=body, expect_json=False)

    def media_files(self, owner_id: int) -> list[dict[str, Any]]:
        """Sonarr episodefile?seriesId / Lidarr trackfile?artistId (custom-format scores)."""
        if self.kind == "sonarr":
            found = self._get("episodefile", {"seriesId": int(owner_id)})
        elif self.kind == "lidarr":
            found = self._get("trackfile", {"artistId": int(owner_id)})
        else:
            raise ValueError("Radarr's files come with GET movie (movieFile)")
        return self._expect(found, list, "media files")

    def tags(self) -> list[dict[str, Any]]:
        return self._expect(self._get("tag"), list, "tag")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _error_detail(response: httpx.Response) -> str:
    """A short, key-free excerpt of an Arr error body (message or validation errors)."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return ""
    texts: list[str] = []
    if isinstance(data, dict):
        for key in ("message", "description", "error"):
            if isinstance(data.get(key), str):
                texts.append(data[key])
                break
    elif isinstance(data, list):
        for entry in data[:3]:
            if isinstance(entry, dict) and isinstance(entry.get("errorMessage"), str):
                prop = entry.get("propertyName")
                texts.append(f"{prop}: {entry['errorMessage']}" if prop else entry["errorMessage"])
    text = "; ".join(texts)[:300]
    return f": {text}" if text else ""


def make_client(
    kind: str, url: str, api_key: str, timeout: float = 30.0, **options: Any
) -> ArrClient:
    """An ArrClient for kind radarr | sonarr | lidarr at url (may carry a path prefix)."""
    return ArrClient(kind_of(kind), url, api_key, timeout, **options)
