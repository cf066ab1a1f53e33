"""The state of one simulated Arr: library, downloads tied to qBittorrent, commands.

Two background threads: a poller that reads the Arr's category from
qBittorrent (`torrents/info?category=`, as the real Arrs' qBittorrent client
does) and a command runner that moves commands queued -> started ->
completed and applies their effects (a scan imports, a search may grab a
release into qBittorrent). All state sits behind one lock; network calls to
qBittorrent are made outside it.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from qbarr.sim.arr import downloads as dl
from qbarr.sim.arr.commands import Command, CommandError, SimCommands
from qbarr.sim.arr.history import History
from qbarr.sim.arr.library import PROFILES, Library

log = logging.getLogger("qbarr.sim.arr")
UTC = UTC


@dataclass
class SimOptions:
    """Behaviour knobs of one Arr simulator (the CLI flags)."""

    kind: str
    category: str
    qbt_url: str = ""
    qbt_username: str = "admin"
    qbt_password: str = "adminadmin"
    search_duration: float = 2.0
    command_duration: float = 0.3
    grab_probability: float = 0.5
    poll_interval: float = 1.0
    unknown_fraction: float = 0.0
    max_grabs_per_command: int = 25
    command_history: float = 300.0
    seed: int = 1


@dataclass
class BlockEntry:
    id: int
    download: dl.Download
    date: datetime
    message: str


@dataclass
class QbtView:
    torrents: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 0
    polls: int = 0
    error: str | None = None
    last_poll: float = 0.0


class SimArr:
    """Everything one Arr simulator knows and does."""

    def __init__(self, lib: Library, options: SimOptions, qbt: Any = None) -> None:
        self.lib = lib
        self.kind = lib.kind
        self.options = options
        self.qbt = qbt  # a qbarr.qbittorrent.QbtClient (or None)
        self.lock = threading.RLock()
        self.downloads: dict[str, dl.Download] = {}
        self.view = QbtView()
        self.queue_ids: dict[tuple[str, int], int] = {}
        self._next_queue_id = [1]
        self._queue_cache: tuple[tuple[int, int], list[dict[str, Any]]] | None = None
        self.changes = 0  # bumps when downloads change
        self.blocklist: list[BlockEntry] = []
        self.history = History()
        self.commands = SimCommands(self.kind, options)
        self.rng = random.Random(f"sim:{self.kind}:{options.seed}")
        self.grabs = 0
        self.imports = 0
        self.api_calls: dict[str, int] = {}
        # the Arr's download clients (GET downloadclient); None: the qBittorrent it reads,
        # with its category, as an Arr wired to it would list it
        self.download_clients: list[dict[str, Any]] | None = None
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        for name, target in (("qbt-poller", self._poll_loop), ("commands", self._command_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.qbt is not None:
            self.qbt.close()

    # -- qBittorrent ---------------------------------------------------------

    def _poll_loop(self) -> None:
        category_ready = False
        while not self._stop.is_set():
            if self.qbt is not None:
                if not category_ready:
                    category_ready = self._ensure_category()
                self.poll_once()
            self._poke.wait(self.options.poll_interval)
            self._poke.clear()

    def _ensure_category(self) -> bool:
        try:
            self.qbt.create_category(self.options.category)
        except Exception as exc:  # QbtConflict = exists already; anything else: try again later
            if type(exc).__name__ != "QbtConflict":
                return False
        return True

    def poll_once(self) -> None:
        """Read this Arr's category from qBittorrent and adopt torrents it never grabbed."""
        try:
            listing = self.qbt.torrents_info(category=self.options.category)
        except Exception as exc:
            with self.lock:
                if self.view.error is None:
                    log.warning("qBittorrent poll failed: %s", exc)
                self.view.error = f"{type(exc).__name__}: {exc}"
            return
        torrents = {
            str(t["hash"]).lower(): t for t in listing if isinstance(t, dict) and "hash" in t
        }
        with self.lock:
            for torrent_hash, torrent in torrents.items():
                if torrent_hash not in self.downloads:
                    self._adopt(torrent_hash, torrent)
            if self.view.error:
                log.info("qBittorrent reachable again")
            self.view = QbtView(
                torrents, self.view.version + 1, self.view.polls + 1, None, time.time()
            )

    def _adopt(self, torrent_hash: str, torrent: dict[str, Any]) -> None:
        """A torrent in our category we did not grab: tie it to a wanted item, like a manual
        grab."""
        key = int(torrent_hash[:12], 16)
        unknown = (int(torrent_hash[12:20], 16) / 0xFFFFFFFF) < self.options.unknown_fraction
        media: tuple[int, ...] = ()
        if not unknown:
            pool = self.lib.wanted("missing", True) or list(self.lib.items.values())
            if pool:
                media = (pool[key % len(pool)].id,)
        quality_id = PROFILES[self.kind][self.lib.items[media[0]].profile_id][1] if media else 0
        self.downloads[torrent_hash] = dl.Download(
            hash=torrent_hash,
            media_ids=media,
            title=str(torrent.get("name") or torrent_hash),
            quality_id=quality_id,
            grabbed=datetime.now(UTC),
            source="adopted",
        )
        self.changes += 1

    def add_to_client(self, download: dl.Download) -> None:
        """torrents/add of a magnet nobody serves, in our category (it sits in metaDL)."""
        magnet = f"magnet:?xt=urn:btih:{download.hash}&dn={quote(download.title)}"
        with self.lock:
            self.downloads[download.hash] = download
            self.history.add(
                "grabbed",
                download.hash,
                download.media_ids,
                download.title,
                download.quality_id,
                download.grabbed,
                indexer=download.indexer,
            )
            self.changes += 1
        if self.qbt is None:
            raise CommandError("no qBittorrent configured (--qbt-url)")
        self.qbt.add(urls=[magnet], category=self.options.category)
        self._poke.set()

    def remove_from_client(self, torrent_hash: str) -> None:
        if self.qbt is not None:
            self.qbt.delete([torrent_hash], delete_files=True)
            self._poke.set()

    # -- queue ---------------------------------------------------------------

    def queue(self) -> list[dict[str, Any]]:
        """Every current queue record (cached until the torrents or downloads change)."""
        with self.lock:
            stamp = (self.view.version, self.changes)
            if self._queue_cache is None or self._queue_cache[0] != stamp:
                records = dl.queue_records(
                    self.lib,
                    self.downloads,
                    self.view.torrents,
                    self.queue_ids,
                    self._next_queue_id,
                    datetime.now(UTC),
                )
                self._queue_cache = (stamp, records)
            return self._queue_cache[1]

    def find_queue_record(self, record_id: int) -> dict[str, Any] | None:
        for rec in self.queue():
            if rec["id"] == record_id:
                return rec
        return None

    def delete_queue(
        self, record_id: int, remove_from_client: bool, blocklist: bool, skip_redownload: bool
    ) -> bool:
        """DELETE queue/{id}: False if there is no such record."""
        rec = self.find_queue_record(record_id)
        if rec is None:
            return False
        torrent_hash = str(rec["downloadId"]).lower()
        with self.lock:
            download = self.downloads[torrent_hash]
            download.removed = True
            download.events.append("removed from queue")
            self.changes += 1
            if blocklist:
                self.blocklist.append(
                    BlockEntry(
                        len(self.blocklist) + 1,
                        download,
                        datetime.now(UTC),
                        "Manually marked as failed",
                    )
                )
                self.history.add(
                    "downloadFailed",
                    download.hash,
                    download.media_ids,
                    download.title,
                    download.quality_id,
                    datetime.now(UTC),
                    message="Manually marked as failed",
                )
        log.info(
            "queue %d (%s) removed: removeFromClient=%s blocklist=%s skipRedownload=%s",
            record_id,
            torrent_hash,
            remove_from_client,
            blocklist,
            skip_redownload,
        )
        if remove_from_client:
            self.remove_from_client(torrent_hash)
        if blocklist and not skip_redownload and download.media_ids:
            self.commands.create(self.redownload_command(download), trigger="unspecified")
        return True

    def redownload_command(self, download: dl.Download) -> dict[str, Any]:
        """The search a real Arr starts by itself after a failed download (AutoRedownloadFailed)."""
        name = {"radarr": "MoviesSearch", "sonarr": "EpisodeSearch", "lidarr": "AlbumSearch"}[
            self.kind
        ]
        field_name = {"radarr": "movieIds", "sonarr": "episodeIds", "lidarr": "albumIds"}[self.kind]
        return {"name": name, field_name: list(download.media_ids)}

    def script_failure(self, torrent_hash: str, which: str, fields: dict[str, Any]) -> dl.Download:
        with self.lock:
            download = self.downloads.get(torrent_hash.lower())
            if download is None:
                raise KeyError(torrent_hash)
            download.failure = dl.failure_fields(self.kind, which, download.title, fields)
            download.events.append(f"scripted {which} failure")
            self.changes += 1
            return download

    def clear_failure(self, torrent_hash: str) -> None:
        with self.lock:
            download = self.downloads.get(torrent_hash.lower())
            if download is None:
                raise KeyError(torrent_hash)
            download.failure = None
            self.changes += 1

    # -- commands ------------------------------------------------------------

    def _command_loop(self) -> None:
        while not self._stop.is_set():
            for command in self.commands.due(time.monotonic()):
                try:
                    outcome = self.execute(command)
                except (
                    Exception
                ) as exc:  # an effect failed (qBittorrent down...): the command fails
                    log.warning("command %d %s failed: %s", command.id, command.name, exc)
                    self.commands.finish(command, failed=f"{type(exc).__name__}: {exc}")
                else:
                    self.commands.finish(command, outcome=outcome)
            self._stop.wait(0.02)

    def execute(self, command: Command) -> str:
        """Apply a command's effect when it completes; returns what happened."""
        from qbarr.sim.arr import effects

        return effects.run(self, command)

    # -- reporting -----------------------------------------------------------

    def count_call(self, route: str) -> None:
        with self.lock:
            self.api_calls[route] = self.api_calls.get(route, 0) + 1

    def download_client_specs(self) -> list[dict[str, Any]]:
        """The download clients as simple specs (host, port, category ...)."""
        with self.lock:
            if self.download_clients is not None:
                return [dict(c) for c in self.download_clients]
        if not self.options.qbt_url:
            return []
        parts = urlsplit(self.options.qbt_url)
        https = parts.scheme == "https"
        return [
            {
                "name": "qBittorrent",
                "host": parts.hostname or "localhost",
                "port": parts.port or (443 if https else 80),
                "useSsl": https,
                "urlBase": parts.path.rstrip("/"),
                "username": self.options.qbt_username,
                "category": self.options.category,
            }
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            active = [d for d in self.downloads.values() if d.active]
            return {
                "kind": self.kind,
                "category": self.options.category,
                "qbittorrent": {
                    "url": self.options.qbt_url,
                    "error": self.view.error,
                    "polls": self.view.polls,
                    "torrents": len(self.view.torrents),
                    "last_poll": self.view.last_poll,
                },
                "queue_records": len(self.queue()),
                "downloads": len(self.downloads),
                "active_downloads": len(active),
                "imported": sum(1 for d in self.downloads.values() if d.imported),
                "removed": sum(1 for d in self.downloads.values() if d.removed),
                "grabs": self.grabs,
                "imports": self.imports,
                "blocklist": len(self.blocklist),
                "commands": self.commands.summary(),
                "library": self.lib.stats(),
                "api_calls": dict(sorted(self.api_calls.items())),
                "api_calls_total": sum(self.api_calls.values()),
            }

    def new_hash(self) -> str:
        return secrets.token_hex(20)
