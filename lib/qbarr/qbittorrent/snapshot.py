"""In-memory view of qBittorrent built from `sync/maindata` responses.

The server sends everything once (`full_update`), then only what changed since
the rid the client confirms: changed torrent fields, new torrents in full,
`torrents_removed`, new or changed categories, *added* tags, removed names, and
changed `server_state` keys. `Snapshot.apply` merges one response; it does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import QbtProtocolError

PATH = "sync/maindata"


@dataclass
class Snapshot:
    """The merged state. Torrent dicts carry every torrents/info field, incl. "hash"."""

    torrents: dict[str, dict[str, Any]] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    server_state: dict[str, Any] = field(default_factory=dict)
    trackers: dict[str, list[str]] = field(default_factory=dict)
    rid: int = 0
    full_update: bool = False
    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    last_bytes: int = 0

    def apply(self, data: Any) -> None:
        """Merge one maindata response. Raises QbtProtocolError on a malformed one
        (and then leaves the snapshot untouched)."""
        validate(data)
        self.changed, self.removed = set(), set()
        self.full_update = bool(data.get("full_update"))
        if self.full_update:
            self._replace(data)
        else:
            self._merge(data)
        self.rid = int(data["rid"])

    def reset(self) -> None:
        """Forget everything: the next sync asks for a full update (rid 0)."""
        self.torrents.clear()
        self.categories.clear()
        self.tags.clear()
        self.server_state.clear()
        self.trackers.clear()
        self.rid = 0

    def _replace(self, data: dict[str, Any]) -> None:
        """A full update: the containers are refilled in place, so references callers
        hold to snapshot.torrents etc. stay valid."""
        before = set(self.torrents)
        self.torrents.clear()
        self.torrents.update(
            (h.lower(), {**t, "hash": h.lower()}) for h, t in (data.get("torrents") or {}).items()
        )
        self.changed = set(self.torrents)
        self.removed = before - self.changed
        self.categories.clear()
        self.categories.update((n, dict(c)) for n, c in (data.get("categories") or {}).items())
        self.tags.clear()
        self.tags.update(data.get("tags") or ())
        self.server_state.clear()
        self.server_state.update(data.get("server_state") or {})
        self.trackers.clear()
        self.trackers.update((u, list(hs)) for u, hs in (data.get("trackers") or {}).items())

    def _merge(self, data: dict[str, Any]) -> None:
        for raw, fields in (data.get("torrents") or {}).items():
            h = raw.lower()
            current = self.torrents.get(h)
            if current is None:
                self.torrents[h] = {**fields, "hash": h}
            else:
                current.update(fields)
            self.changed.add(h)
        for raw in data.get("torrents_removed") or ():
            h = raw.lower()
            if self.torrents.pop(h, None) is not None:
                self.removed.add(h)
            self.changed.discard(h)
        for name, cat in (data.get("categories") or {}).items():
            self.categories.setdefault(name, {}).update(cat)
        for name in data.get("categories_removed") or ():
            self.categories.pop(name, None)
        self.tags.update(data.get("tags") or ())
        self.tags.difference_update(data.get("tags_removed") or ())
        self.server_state.update(data.get("server_state") or {})
        for url, hashes in (data.get("trackers") or {}).items():
            self.trackers[url] = list(hashes)
        for url in data.get("trackers_removed") or ():
            self.trackers.pop(url, None)


_DICT_KEYS = ("torrents", "categories", "server_state", "trackers")
_LIST_KEYS = ("torrents_removed", "categories_removed", "tags", "tags_removed", "trackers_removed")


def validate(data: Any) -> None:
    """Check the shape before touching the snapshot, so a bad answer changes nothing."""
    if not isinstance(data, dict):
        raise QbtProtocolError(
            f"{PATH}: expected a JSON object, got {type(data).__name__}", path=PATH
        )
    rid = data.get("rid")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise QbtProtocolError(f"{PATH}: missing or non-integer 'rid'", path=PATH)
    for key in _DICT_KEYS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise QbtProtocolError(f"{PATH}: '{key}' is not an object", path=PATH)
    for key in _LIST_KEYS:
        if data.get(key) is not None and not isinstance(data[key], list):
            raise QbtProtocolError(f"{PATH}: '{key}' is not a list", path=PATH)
    for h, fields in (data.get("torrents") or {}).items():
        if not isinstance(fields, dict):
            raise QbtProtocolError(f"{PATH}: torrent {h[:12]} is not an object", path=PATH)
