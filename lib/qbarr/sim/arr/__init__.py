"""Simulators of Radarr, Sonarr, Lidarr, Overseerr and Ombi."""
