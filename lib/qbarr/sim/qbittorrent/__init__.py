"""A qBittorrent (4.5 / 5.x WebUI API v2) simulator for the demo, tests and benchmarks.

from qbarr.sim.qbittorrent import SimConfig, api_mode, serve_in_thread, spawn
sim = serve_in_thread(SimConfig(api=api_mode("5.2"), username="u", password="p"))
... QbtClient(sim.url, "u", "p") ...; sim.store / sim.faults for direct control
sim.stop()

proc = spawn(port, "--api", "4", "--torrents", "1000")   # a real subprocess
proc.control("POST", "/sim/faults", {"error_next": 2}); proc.stop()
"""

from __future__ import annotations

from .config import MODES, ApiMode, Clock, SimConfig, api_mode
from .server import SimProcess, SimServer, build_app, serve_in_thread, spawn

__all__ = [
    "MODES",
    "ApiMode",
    "Clock",
    "SimConfig",
    "api_mode",
    "SimServer",
    "SimProcess",
    "build_app",
    "serve_in_thread",
    "spawn",
]
