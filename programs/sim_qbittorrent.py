"""qbarr-sim-qbittorrent: a qBittorrent WebUI API v2 simulator (4.5 or 5.x behaviour).

    qbarr-sim-qbittorrent --host 127.0.0.1 --port 8080 [--api 4|4.6|5.0|5.1|5.2]
        [--username admin --password adminadmin] [--api-key qbt_...] [--scenario FILE]
        [--torrents N --seed S --categories radarr,sonarr] [--free-space BYTES]
        [--time-scale X] [--refresh-ms MS] [--serialize-us US]

The password and API key may also come from $QBARR_SIM_QBT_PASSWORD and
$QBARR_SIM_QBT_API_KEY, and the password from --password-file. Logs go to stdout
(unbuffered); SIGTERM exits 0 at once.
The control API under /sim/ is documented in qbarr.sim.qbittorrent.control.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from qbarr import lifeline, runtime


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="qbarr-sim-qbittorrent", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--api", default="4", help="4 (4.5.2), 4.6, 5.0, 5.1 or 5.2 (default 4)")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default=os.environ.get("QBARR_SIM_QBT_PASSWORD", "adminadmin"))
    p.add_argument(
        "--password-file",
        type=Path,
        default=None,
        help="read the password from this file (not visible in ps or the environment)",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("QBARR_SIM_QBT_API_KEY", ""),
        help="5.2 mode: accept 'Authorization: Bearer KEY'",
    )
    p.add_argument("--scenario", type=Path, help="JSON scenario (see docs/qbittorrent.md)")
    p.add_argument("--torrents", type=int, default=None, help="generate N torrents")
    p.add_argument("--seed", type=int, default=None, help="RNG seed (same seed, same torrents)")
    p.add_argument("--categories", default=None, help="comma-separated categories to create")
    p.add_argument(
        "--swarm",
        action="store_true",
        help="added magnets get a simulated swarm (metadata, then a download) "
        "instead of sitting in metaDL like on a machine without peers",
    )
    p.add_argument("--save-path", default="/downloads", help="default save path")
    p.add_argument("--free-space", type=int, default=500 * 1024**3, help="free_space_on_disk bytes")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per second")
    p.add_argument(
        "--refresh-ms",
        type=int,
        default=1500,
        help="state refresh interval, like qBittorrent's refresh_interval",
    )
    p.add_argument(
        "--counter-interval",
        type=float,
        default=1800.0,
        help="simulated seconds between counter refreshes (seeding_time, ...) of "
        "idle torrents with trackers, like an announce (0 = never)",
    )
    p.add_argument(
        "--serialize-us",
        type=float,
        default=0.0,
        help="CPU microseconds spent per torrent serialized (sync/maindata, torrents/info), "
        "to make a poller cost CPU like qBittorrent does (~150 for 4.5.2); 0 = none",
    )
    p.add_argument("--ban-after", type=int, default=0, help="failed logins before 403 (0 = never)")
    p.add_argument("--no-gzip", action="store_true", help="never compress answers")
    p.add_argument("--access-log", action="store_true", help="log every request")
    args = p.parse_args(argv)
    if args.password_file is not None:
        args.password = args.password_file.read_text(encoding="utf-8").strip()
    return args


def load_scenario(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if args.scenario:
        spec = json.loads(args.scenario.read_text())
        if not isinstance(spec, dict):
            raise SystemExit(f"{args.scenario}: a scenario is a JSON object")
    if args.torrents is not None:
        spec["torrents"] = args.torrents
    if args.seed is not None:
        spec["seed"] = args.seed
    if args.categories:
        spec["categories"] = [c for c in args.categories.split(",") if c]
    if args.swarm:
        spec.setdefault("on_add", {"meta_after": [1, 5], "stall_fraction": 0.1})
    return spec


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if lifeline.under_supervisord():  # the demo's simulators die with its supervisord
        lifeline.die_with_parent()
    if isinstance(sys.stdout, io.TextIOWrapper):  # not when a test replaced it
        sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from qbarr.sim.qbittorrent import SimConfig, SimServer, api_mode

    try:
        mode = api_mode(args.api)
    except ValueError as exc:
        print(f"qbarr-sim-qbittorrent: {exc}", file=sys.stderr)
        return 2
    scenario = load_scenario(args)
    config = SimConfig(
        api=mode,
        username=args.username,
        password=args.password,
        api_key=args.api_key,
        port=args.port,
        save_path=args.save_path,
        free_space=args.free_space,
        time_scale=args.time_scale,
        refresh_ms=args.refresh_ms,
        counter_interval=args.counter_interval,
        ban_after=args.ban_after,
        seed=int(scenario.get("seed", 0)),
        gzip=not args.no_gzip,
        serialize_us=args.serialize_us,
    )
    signal.signal(signal.SIGTERM, _terminate)
    runtime.set_title(f"qbarr-sim-qbittorrent :{args.port} ({mode.app})")
    server = SimServer(config, args.host, scenario or None, access_log=args.access_log)
    logging.getLogger("qbarr.sim.qbittorrent").info(
        "qBittorrent %s (WebAPI %s) simulated at %s with %d torrents, time x%g",
        mode.app,
        mode.webapi,
        server.url,
        len(server.store.torrents),
        args.time_scale,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
