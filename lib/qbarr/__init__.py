"""qbarr: keeps the qBittorrent downloads of Radarr, Sonarr and Lidarr healthy."""

__version__ = "0.1.0"
