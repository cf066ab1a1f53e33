"""``qbarr-webui [--home DIR] [--dev]``: the web UI program.

Under supervisord it runs the bottle app in gunicorn (one ``gthread`` worker with
``[WebUI] Threads`` threads, bound to ``[WebUI] Host:Port``). ``--dev`` uses bottle's own
single-threaded server instead (development only, never under supervisord).

Exits 78 (EX_CONFIG) with a clear message when config.ini is unusable, including auth
turned off on a non-loopback address without ``AllowInsecureExposure``.

Lifecycle (:mod:`qbarr.lifeline`): the program (which becomes the gunicorn master) dies with
supervisord and holds ``run/webui.lock``, so a second copy exits 75 before it binds the
port; every gunicorn worker dies with its master (``post_fork``), so no worker is left
holding the port after the master is gone.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from qbarr import config as qconfig
from qbarr import db as qdb
from qbarr import lifeline
from qbarr.config import EX_CONFIG, ConfigError
from qbarr.paths import Home, resolve_home


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="qbarr-webui", description="qbarr's web UI (bottle under gunicorn)"
    )
    parser.add_argument("--home", help="data dir (default: $QBARR_HOME, /config, ~/.config/qbarr)")
    parser.add_argument("--dev", action="store_true", help="bottle's own server (development only)")
    return parser.parse_args(argv)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def gunicorn_options(webui: Any) -> dict[str, Any]:
    """gunicorn settings (see docs/platform notes: gthread, /dev/shm heartbeat, no control
    socket)."""
    options: dict[str, Any] = {
        "bind": [bind_address(str(webui["Host"]), int(webui["Port"]))],
        "workers": 1,
        "worker_class": "gthread",
        "threads": int(webui["Threads"]),
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "qbarr-webui",
        "preload_app": False,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
    }
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        options["worker_tmp_dir"] = "/dev/shm"
    return options


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in each new worker: SIGTERM when the master dies; exit if it already
    has (a fork races with the master's death)."""
    if not lifeline.die_with_parent(worker.ppid):
        os._exit(0)


def load_checked(home: Home) -> qconfig.Config:
    """Load and check config.ini; migrate the database (cheap when current)."""
    from qbarr.webui.auth import check_exposure

    cfg = qconfig.load(home.config)
    check_exposure(cfg.webui, str(home.config))
    home.root.mkdir(parents=True, exist_ok=True)
    qdb.open_migrated(home.database).conn.close()
    return cfg


def run_gunicorn(home: Home, cfg: qconfig.Config, supervisor_url: str) -> None:
    from gunicorn.app.base import BaseApplication

    from qbarr.webui.app import make_app

    class WebUIApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = gunicorn_options(cfg.webui)
            if "control_socket_disable" in self.cfg.settings:
                options["control_socket_disable"] = True
            for key, value in options.items():
                self.cfg.set(key, value)
            self.cfg.set("post_fork", post_fork)

        def load(self) -> Any:
            # Runs in the worker (no preload): a HUP-restarted worker re-reads config.ini.
            return make_app(home, load_checked(home), supervisor_url)

    WebUIApplication().run()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    home = resolve_home(args.home)
    lifeline.bind_to_parent(home, "qbarr-webui")
    lock = lifeline.claim(home, "webui", "qbarr-webui")  # held (and shared by the workers)
    try:
        cfg = load_checked(home)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"qbarr-webui: {line}", file=sys.stderr)
        return EX_CONFIG
    except qdb.DatabaseUnusable as exc:
        print(f"qbarr-webui: {exc}", file=sys.stderr)
        return EX_CONFIG
    try:
        import setproctitle

        setproctitle.setproctitle("qbarr-webui")
    except ImportError:  # pragma: no cover - a declared dependency
        pass
    supervisor_url = os.environ.get("SUPERVISOR_SERVER_URL", "")
    if not supervisor_url.startswith("unix://"):
        supervisor_url = home.supervisor_url
    if args.dev:
        from qbarr.webui.app import make_app

        app = make_app(home, cfg, supervisor_url)
        app.run(
            host=str(cfg.webui["Host"]),
            port=int(cfg.webui["Port"]),
            debug=False,
            reloader=False,
            quiet=False,
        )
        return 0
    sys.argv = [sys.argv[0]]  # gunicorn parses argv itself; ours are already handled
    run_gunicorn(home, cfg, supervisor_url)
    lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
