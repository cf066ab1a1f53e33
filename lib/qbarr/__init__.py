"""qbarr: keeps the qBittorrent downloads of Radarr, Sonarr and Lidarr healthy."""

import sys

__version__ = "0.1.0"

# httpx imports its command-line client (httpx._main: click, rich, pygments) whenever those
# happen to be installed, ~5 MB and ~40 ms per process. qbarr never runs it; an import of
# httpx._main now fails and httpx installs its own stub instead (httpx/__init__.py).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
