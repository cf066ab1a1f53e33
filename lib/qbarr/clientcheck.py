"""What an Arr's own download-client list says against qbarr's config (``qbarr check``).

An Arr sends each download to one of its download clients (Settings > Download Clients),
with a category. qbarr only sees the torrents of the categories its instances watch, in the
qBittorrents it reads. :func:`warnings` compares the two, for one instance, and returns one
line per disagreement: a category the Arr sends that no instance watches, the instance's own
category sent nowhere, or sent to a host or port that is not its qBittorrent's (harmless when
both names reach the same qBittorrent, e.g. a Docker service name next to 127.0.0.1). Pure:
the caller fetched the list (``GET /api/v3/downloadclient``, v1 for Lidarr).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from qbarr.config import DEFAULT_CLIENT, Config, Instance, is_loopback

CATEGORY_FIELD = {"radarr": "movieCategory", "sonarr": "tvCategory", "lidarr": "musicCategory"}


@dataclass(frozen=True)
class ArrClient:
    """One qBittorrent download client of an Arr."""

    name: str
    enabled: bool
    host: str
    port: int
    category: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def qbittorrent_clients(kind: str, listed: Iterable[Mapping[str, Any]]) -> list[ArrClient]:
    """The qBittorrent entries of a ``GET downloadclient`` answer (others are ignored)."""
    found = []
    for item in listed:
        if str(item.get("implementation") or "").lower() != "qbittorrent":
            continue
        fields = {
            str(f.get("name")): f.get("value")
            for f in item.get("fields") or []
            if isinstance(f, Mapping)
        }
        try:
            port = int(fields.get("port") or 8080)
        except (TypeError, ValueError):
            port = 0
        found.append(
            ArrClient(
                name=str(item.get("name") or "?"),
                enabled=bool(item.get("enable", True)),
                host=str(fields.get("host") or ""),
                port=port,
                category=str(fields.get(CATEGORY_FIELD.get(kind, "")) or ""),
            )
        )
    return found


def endpoint(url: str) -> tuple[str, int]:
    """(host, port) of a qBittorrent URL; every loopback name counts as one host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return ("loopback" if is_loopback(host) else host, port)


def _same(client: ArrClient, url: str) -> bool:
    host = "loopback" if is_loopback(client.host) else client.host.lower()
    return (host, client.port) == endpoint(url)


def _label(client: str) -> str:
    return f"[{client}]" if client != DEFAULT_CLIENT else "[qBittorrent]"


def warnings(cfg: Config, inst: Instance, listed: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per way the Arr's download clients and qbarr's config disagree."""
    clients = [c for c in qbittorrent_clients(inst.kind, listed) if c.enabled]
    url = str(cfg.client(inst.client)["URL"])
    own_host, own_port = urlsplit(url).hostname, endpoint(url)[1]
    lines = []
    mine = [c for c in clients if c.category == inst.category]
    if not mine:
        sent = ", ".join(f"{c.name!r} -> {c.category or '(none)'}" for c in clients) or "none"
        lines.append(
            f"sends no download to category {inst.category!r} (its enabled qBittorrent "
            f"download clients: {sent}): qbarr would see none of its downloads"
        )
    for c in mine:
        if _same(c, url):
            continue
        other = next(
            (n for n in cfg.clients if n != inst.client and _same(c, str(cfg.client(n)["URL"]))),
            None,
        )
        hint = (
            f"; that is {_label(other)}: set Client = {other.removeprefix('qBittorrent-')}"
            if other
            else " (fine if both names reach the same qBittorrent, e.g. a Docker service name)"
        )
        lines.append(
            f"download client {c.name!r} sends category {c.category!r} to {c.where}, but qbarr "
            f"reads it from {_label(inst.client)} at {own_host}:{own_port}: the host or port "
            f"differ{hint}"
        )
    for c in clients:
        if c.category and c.category != inst.category and not _watched(cfg, c):
            lines.append(
                f"download client {c.name!r} sends category {c.category!r} to {c.where}: "
                "qbarr is not watching that client and category (add an instance for it, or "
                "its downloads are never checked)"
            )
    return lines


def _watched(cfg: Config, c: ArrClient) -> bool:
    """Some instance watches this category in this client (by host and port; when the Arr
    names the qBittorrent in a way none of qbarr's URLs does, by category alone)."""
    urls = {n: str(cfg.client(n)["URL"]) for n in cfg.clients}
    known = any(_same(c, u) for u in urls.values())
    return any(
        i.category == c.category and (_same(c, urls[i.client]) or not known) for i in cfg.instances
    )
