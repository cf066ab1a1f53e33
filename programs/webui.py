"""``qbarr-webui [--home DIR] [--dev]``: the web UI program.

Under supervisord it runs the bottle app in gunicorn (one ``gthread`` worker with
``[WebUI] Threads`` threads, bound to ``[WebUI] Host:Port``). ``--dev`` uses bottle's own
single-threaded server instead (development only, never under supervisord).

When config.ini is unusable (``qbarr check``'s checks: e.g. no Token or Password, auth
off on a non-loopback address), qbarr.db cannot be used, or Host:Port cannot be listened
on, the program does not exit (under supervisord that is a restart loop ending FATAL): it
logs the problem and waits, re-reading the file every 2 s (at once on SIGHUP), and starts
serving once it is fixed. A gunicorn worker started later while the file is broken keeps
the last good config.

Memory: gunicorn builds the app in its master (``preload_app``) and freezes the master's
objects before it forks the worker (``pre_fork``), so the worker shares those pages instead
of importing and building everything again; a HUP builds the app anew from config.ini.

Lifecycle (:mod:`qbarr.lifeline`): the program (which becomes the gunicorn master) dies with
supervisord and holds ``run/webui.lock``, so a second copy exits 75 before it binds the
port; every gunicorn worker dies with its master (``post_fork``), so no worker is left
holding the port after the master is gone.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from typing import Any

from qbarr import config as qconfig
from qbarr import db as qdb
from qbarr import heap, lifeline, niceness, runtime, store
from qbarr.config import ConfigError
from qbarr.paths import Home, private_umask, resolve_home
from qbarr.webui import listen

log = logging.getLogger("qbarr.webui")
CONFIG_RETRY = 2.0
"""Seconds between two reads of an unusable config.ini while the program waits."""


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
    from qbarr.webui.worker import DeadlineThreadWorker

    options: dict[str, Any] = {
        "bind": [bind_address(str(webui["Host"]), int(webui["Port"]))],
        "workers": 1,
        # gthread, plus a deadline on reading each request (slow clients cannot hold threads)
        "worker_class": DeadlineThreadWorker,
        "threads": int(webui["Threads"]),
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "qbarr-webui",
        # the app is built in the master, before the fork, so that the worker shares its pages
        "preload_app": True,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
    }
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        options["worker_tmp_dir"] = "/dev/shm"
    return options


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master before each fork: the worker shares the master's pages
    (the app's modules are imported by then) until one of them writes to a page. Frozen
    objects are never visited by either process's garbage collector, which would otherwise
    write to every object's header and copy most of those pages. The heap left free by
    start-up goes back to the system first (heap.release: gc, then malloc_trim)."""
    heap.release()
    gc.freeze()


def forget_app(application: Any) -> None:
    """On a HUP: the next setup() builds the app from config.ini again, and the old app can
    be collected (frozen objects never are, so they are unfrozen; pre_fork freezes again)."""
    gc.unfreeze()
    application.callable = None


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in each new worker: SIGTERM when the master dies; exit if it already
    has (a fork races with the master's death)."""
    if not lifeline.die_with_parent(worker.ppid):
        os._exit(0)


def load_checked(home: Home) -> qconfig.Config:
    """Load config.ini with the suite's checks; migrate the database (cheap when current)."""
    cfg = qconfig.load(home.config, suite=True)
    home.root.mkdir(parents=True, exist_ok=True)
    qdb.open_migrated(store.location(home)).close()
    return cfg


def wait_for_config(
    home: Home, stop: threading.Event, wake: threading.Event
) -> qconfig.Config | None:
    """The config once config.ini is usable and Host:Port free; None when asked to stop.

    Each new problem is logged once; the file is re-read every CONFIG_RETRY seconds, or at
    once when ``wake`` is set (SIGHUP)."""
    shown: list[str] | None = None
    while not stop.is_set():
        try:
            cfg = load_checked(home)
            problems = listen.problems(home.config, cfg.webui)
        except ConfigError as exc:
            problems = exc.problems
        except qdb.DatabaseUnusable as exc:
            problems = [str(exc)]
        if not problems:
            if shown:
                log.info("config.ini is usable now: starting")
            return cfg
        if problems != shown:
            for line in problems:
                log.error("%s", line)
            log.error(
                "config.ini is not usable: waiting for a fix (re-read every %gs)", CONFIG_RETRY
            )
            shown = problems
        wake.wait(CONFIG_RETRY)
        wake.clear()
    return None


def _waiting_signals() -> tuple[threading.Event, threading.Event]:
    """TERM/INT set ``stop``, HUP sets ``wake`` (gunicorn installs its own handlers later)."""
    stop, wake = threading.Event(), threading.Event()

    def on_stop(signum: int, frame: Any) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: wake.set())
    return stop, wake


def _worker_config(home: Home, last_good: qconfig.Config) -> qconfig.Config:
    """The app of a (re)started gunicorn (HUP) re-reads config.ini; a broken file keeps the
    last good config."""
    try:
        return load_checked(home)
    except ConfigError as exc:
        for line in exc.problems:
            log.error("%s", line)
        log.error("config.ini is not usable: keeping the last good config")
        return last_good


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
            self.cfg.set("pre_fork", pre_fork)
            self.cfg.set("post_fork", post_fork)

        def load(self) -> Any:
            # In the master (preload_app), at start and after each HUP (reload below).
            return make_app(home, _worker_config(home, cfg), supervisor_url)

        def reload(self) -> None:
            super().reload()
            forget_app(self)

    WebUIApplication().run()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    private_umask()
    home = resolve_home(args.home)
    lifeline.bind_to_parent(home, "qbarr-webui")
    lock = lifeline.claim(home, "webui", "qbarr-webui")  # held (and shared by the workers)
    runtime.set_title("qbarr-webui")
    stop, wake = _waiting_signals()
    cfg = wait_for_config(home, stop, wake)
    if cfg is None:
        return 0
    niceness.apply(niceness.wanted(cfg))  # before gunicorn forks: its workers inherit it
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
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
