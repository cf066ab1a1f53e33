"""qbittorrent."""
