"""qbarr-sim-arr: a Radarr, Sonarr or Lidarr simulator (or Overseerr / Ombi).

    qbarr-sim-arr --kind radarr --port 7878 --api-key K --qbt-url http://127.0.0.1:8080 \\
                  --category radarr [--library 10000 --missing-fraction 0.1 ...]
    qbarr-sim-arr --kind overseerr --port 5055 --api-key K [--radarr-sim URL --sonarr-sim URL]

The qBittorrent password may also come from $QBARR_SIM_QBT_PASSWORD or
--qbt-password-file, and the API key from --api-key-file, so they need not be on the
command line. Logs go to
stdout; SIGTERM exits 0. The control API is documented in
qbarr.sim.arr.control (and faults in qbarr.sim.arr.faults).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from qbarr import lifeline, runtime

ARR_KINDS = ("radarr", "sonarr", "lidarr")
REQUEST_KINDS = ("overseerr", "ombi")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="qbarr-sim-arr", description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", required=True, choices=ARR_KINDS + REQUEST_KINDS)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = the kind's usual port")
    p.add_argument(
        "--api-key",
        default=os.environ.get("QBARR_SIM_API_KEY", ""),
        help="the key clients must send (or $QBARR_SIM_API_KEY)",
    )
    p.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        help="read the key from this file (not visible in ps or the environment)",
    )
    p.add_argument("--url-base", default="", help="serve below this path, e.g. /radarr")
    p.add_argument("--qbt-url", default="", help="qBittorrent WebUI the Arr sends torrents to")
    p.add_argument("--qbt-username", default="admin")
    p.add_argument("--qbt-password", default=None)
    p.add_argument("--qbt-password-file", default=None)
    p.add_argument("--category", default="", help="qBittorrent category (default: the kind)")
    p.add_argument("--library", type=int, default=1000, help="movies / episodes / albums")
    p.add_argument(
        "--sonarr-library",
        type=int,
        default=None,
        help="overseerr/ombi: episodes of the Sonarr library, if not --library",
    )
    p.add_argument("--missing-fraction", type=float, default=0.1)
    p.add_argument("--cutoff-fraction", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--search-duration", type=float, default=2.0, help="seconds a search runs")
    p.add_argument("--command-duration", type=float, default=0.3, help="seconds other commands run")
    p.add_argument(
        "--grab-probability",
        type=float,
        default=0.5,
        help="chance a searched wanted item gets a release grabbed",
    )
    p.add_argument("--poll-interval", type=float, default=1.0, help="qBittorrent poll, seconds")
    p.add_argument(
        "--unknown-fraction",
        type=float,
        default=0.0,
        help="share of foreign torrents in the category shown as unknown items",
    )
    p.add_argument("--requests", type=int, default=40, help="overseerr/ombi: number of requests")
    p.add_argument("--radarr-sim", default="", help="overseerr/ombi: Radarr simulator URL")
    p.add_argument("--sonarr-sim", default="", help="overseerr/ombi: Sonarr simulator URL")
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args(argv)
    for name in ("missing_fraction", "cutoff_fraction", "grab_probability", "unknown_fraction"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            p.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.library < 0 or args.search_duration < 0 or args.poll_interval <= 0:
        p.error("--library, --search-duration must be >= 0 and --poll-interval > 0")
    if args.api_key_file is not None:
        args.api_key = args.api_key_file.read_text(encoding="utf-8").strip()
    if not args.api_key:
        p.error("--api-key, --api-key-file or $QBARR_SIM_API_KEY is required")
    return args


def qbt_password(args: argparse.Namespace) -> str:
    if args.qbt_password_file:
        return Path(args.qbt_password_file).read_text().strip()
    if args.qbt_password is not None:
        return args.qbt_password
    return os.environ.get("QBARR_SIM_QBT_PASSWORD", "adminadmin")


def run_arr(args: argparse.Namespace) -> None:
    from qbarr.arr.kinds import kind_of
    from qbarr.sim.arr.engine import SimOptions
    from qbarr.sim.arr.launch import assemble
    from qbarr.sim.arr.server import serve

    options = SimOptions(
        kind=args.kind,
        category=args.category or args.kind,
        qbt_url=args.qbt_url,
        qbt_username=args.qbt_username,
        search_duration=args.search_duration,
        command_duration=args.command_duration,
        grab_probability=args.grab_probability,
        poll_interval=args.poll_interval,
        unknown_fraction=args.unknown_fraction,
        seed=args.seed,
    )
    qbt = None
    if args.qbt_url:
        from qbarr.qbittorrent import QbtClient

        qbt = QbtClient(
            args.qbt_url,
            args.qbt_username,
            qbt_password(args),
            timeout=10.0,
            user_agent=f"{kind_of(args.kind).app_name}/qbarr-sim",
        )
    wsgi, sim, _faults = assemble(
        options,
        args.library,
        args.api_key,
        missing_fraction=args.missing_fraction,
        cutoff_fraction=args.cutoff_fraction,
        url_base=args.url_base,
        qbt=qbt,
    )
    lib = sim.lib
    port = args.port or kind_of(args.kind).default_port
    logging.getLogger("qbarr.sim").info(
        "%s simulator: %d items (%s), category %r, qBittorrent %s",
        args.kind,
        len(lib.items),
        ", ".join(f"{k} {v}" for k, v in lib.stats().items() if k != "items"),
        options.category,
        args.qbt_url or "none",
    )
    sim.start()
    serve(
        wsgi,
        args.host,
        port,
        on_stop=sim.stop,
        ready=lambda p: _ready(args.kind, args.host, p, args.url_base),
    )


def run_requests(args: argparse.Namespace) -> None:
    from qbarr.sim.arr.faults import FaultMiddleware, Faults
    from qbarr.sim.arr.requests_sim import build_requests_app, make_book
    from qbarr.sim.arr.server import serve

    book = make_book(
        args.library,
        args.sonarr_library,
        args.missing_fraction,
        args.cutoff_fraction,
        args.seed,
        args.requests,
    )
    if args.radarr_sim:
        book.remote["radarr"] = args.radarr_sim.rstrip("/")
    if args.sonarr_sim:
        book.remote["sonarr"] = args.sonarr_sim.rstrip("/")
    calls: dict[str, int] = {}
    faults = Faults(seed=args.seed)
    app = build_requests_app(args.kind, book, args.api_key, calls)
    _add_fault_routes(app, faults)
    port = args.port or (5055 if args.kind == "overseerr" else 3579)
    serve(
        FaultMiddleware(app, faults),
        args.host,
        port,
        ready=lambda p: _ready(args.kind, args.host, p, ""),
    )


def _add_fault_routes(app: object, faults: object) -> None:
    import json

    import bottle

    assert isinstance(app, bottle.Bottle)

    @app.route("/sim/faults", ["GET", "POST", "DELETE"])
    def fault_settings() -> str:
        bottle.response.content_type = "application/json"
        if bottle.request.method == "POST":
            try:
                return json.dumps(faults.update(json.loads(bottle.request.body.read() or b"{}")))  # type: ignore[attr-defined]
            except (ValueError, TypeError) as exc:
                bottle.response.status = 400
                return json.dumps({"message": str(exc)})
        if bottle.request.method == "DELETE":
            return json.dumps(faults.clear())  # type: ignore[attr-defined]
        return json.dumps(faults.snapshot())  # type: ignore[attr-defined]


def _ready(kind: str, host: str, port: int, url_base: str) -> None:
    logging.getLogger("qbarr.sim").info(
        "%s simulator listening on http://%s:%d%s", kind, host, port, url_base
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if lifeline.under_supervisord():  # the demo's simulators die with its supervisord
        lifeline.die_with_parent()
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    runtime.set_title(f"qbarr-sim-arr {args.kind} :{args.port}")
    if args.kind in ARR_KINDS:
        run_arr(args)
    else:
        run_requests(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
