"""The manager of one Arr instance: config, connections, the cycle, the heartbeat.

:class:`ArrManager` is what the ``qbarr-arr`` program runs (``programs/arr.py`` is only its
entry point): every ``[Settings] LoopInterval`` :meth:`ArrManager.step` makes sure
qBittorrent and the Arr are connected (log in, ``system/status``), runs one
:class:`qbarr.manager.TorrentLoop` cycle (snapshot, decide, act), then writes the heartbeat.
The snapshot comes from the qBittorrent's feed (:class:`qbarr.reader.FeedSource`); the first
manager to step runs the one reader of that qBittorrent, in a thread (see qbarr.reader).
Trouble that is not a bug never ends the process: an unreachable service or an unusable
config.ini is reported in the heartbeat (``status``, ``last_error``) and retried with capped
exponential backoff (``RetryBackoffMax``), while the heartbeat keeps beating every cycle.
Only real crashes (exceptions other than the clients' errors) reach supervisord.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from qbarr import config as configmod
from qbarr import runtime
from qbarr.arr import ArrError, make_client
from qbarr.config import Config, ConfigError, Instance
from qbarr.heartbeat import Heartbeat
from qbarr.manager import CycleReport, TorrentLoop
from qbarr.paths import Home
from qbarr.qbittorrent import QbtClient, QbtError
from qbarr.reader import FeedSource, FeedStale

DEFAULT_INTERVAL = 2.0
log = logging.getLogger("qbarr-arr")


class ConnectError(Exception):
    """qBittorrent or the Arr could not be reached or refused us (message is scrubbed)."""


class ArrManager:
    """State and steps of one manager; ``step()`` is one cycle of the loop."""

    def __init__(self, ctx: runtime.Context, home: Home, name: str, db: Any) -> None:
        self.ctx = ctx
        self.home = home
        self.requested = name
        self.db = db
        self.config: Config | None = None
        self.instance: Instance | None = None
        self.config_error: str | None = None
        self.qbt: QbtClient | None = None
        self.arr: Any = None
        self.versions: dict[str, str] = {}
        self.backoff = runtime.Backoff(cap=60.0)
        self.heartbeat = Heartbeat(db, name, program=f"arr-{configmod.slugify(name)}")
        self.reload_error: str | None = None
        self.loop: TorrentLoop | None = None
        self.feed: FeedSource | None = None
        self.report = CycleReport()

    # -- config ---------------------------------------------------------------------------

    def load_config(self) -> None:
        """(Re)read config.ini; on trouble keep the previous config and report the error."""
        try:
            cfg = configmod.load(self.home.config)
            inst = cfg.instance(self.requested)
        except ConfigError as exc:
            self._config_failed("config.ini is invalid: " + "; ".join(exc.problems))
            return
        except KeyError as exc:
            self._config_failed(str(exc.args[0]))
            return
        old = self.instance
        self.config, self.instance, self.config_error = cfg, inst, None
        self.ctx.use_config(cfg)
        self.backoff.cap = float(cfg.settings["RetryBackoffMax"])
        self._adopt_identity(inst)
        if old is not None and self._endpoints(old, cfg) != self._endpoints(inst, cfg):
            log.info("connection settings changed: reconnecting")
            self.disconnect()
            self.backoff.succeeded()
        if self.loop is not None:
            self.loop.configure(cfg, inst)
        if self.feed is None:
            self.feed = FeedSource(self.db, self.home.database, self.home.run, cfg, inst.program)
        else:
            self.feed.configure(cfg)
        log.info("config loaded: LoopInterval %ss", self.interval())

    def _config_failed(self, message: str) -> None:
        message = self.ctx.scrub(message)
        if self.config is not None:  # a bad edit while running: keep working with the old one
            log.error("%s; keeping the previous config", message)
            self.reload_error = message + " (still running with the previous config)"
            return
        if message != self.config_error:
            log.error("%s (retrying; the manager keeps running)", message)
        self.config_error = message

    def _adopt_identity(self, inst: Instance) -> None:
        if self.heartbeat.name != inst.name or self.heartbeat.kind != inst.kind:
            self.heartbeat.name, self.heartbeat.kind = inst.name, inst.kind
            self.heartbeat.program = inst.program
            self.heartbeat.started()

    def _endpoints(self, inst: Instance, cfg: Config) -> tuple[Any, ...]:
        q = cfg.qbittorrent
        return (
            inst.url,
            inst.api_key,
            inst.kind,
            q["URL"],
            q["Username"],
            q["Password"],
            q["APIKey"],
        )

    def interval(self) -> float:
        if self.config is None:
            return DEFAULT_INTERVAL
        return float(self.config.settings["LoopInterval"])

    # -- connections ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.qbt is not None and self.arr is not None

    def connect(self) -> None:
        """Log in to qBittorrent and read the Arr's system/status (raises ConnectError)."""
        assert self.config is not None and self.instance is not None
        q, inst = self.config.qbittorrent, self.instance
        qbt = arr = None
        try:
            qbt = QbtClient(
                q["URL"],
                q["Username"],
                q["Password"],
                api_key=q["APIKey"],
                timeout=float(q["Timeout"]),
            )
            qbt.login()
            qbt_version = str(qbt.version())
            arr = make_client(
                inst.kind, inst.url, inst.api_key, timeout=float(inst.section["Timeout"])
            )
            status = arr.system_status()
        except (QbtError, ArrError, ValueError) as exc:
            for client in (qbt, arr):
                if client is not None:
                    client.close()
            where = "qBittorrent" if arr is None else inst.kind
            raise ConnectError(f"{where}: {exc}") from exc
        self.qbt, self.arr = qbt, arr
        self.loop = TorrentLoop(self.config, inst, self.db, qbt, arr, source=self.feed)
        self.versions = {"qbittorrent": qbt_version, inst.kind: str(status.get("version", "?"))}
        log.info(
            "connected: qBittorrent %s, %s %s", qbt_version, inst.kind, self.versions[inst.kind]
        )

    def disconnect(self) -> None:
        for client in (self.qbt, self.arr):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing must never crash the loop
                    log.debug("error closing a client", exc_info=True)
        self.qbt = self.arr = None
        self.loop = None

    # -- the cycle ---------------------------------------------------------------------------

    def tick(self) -> None:
        """One unit of work with live connections: sync, decide, act (qbarr.manager).

        QbtError/ArrError propagate: the loop reports them, reconnects and retries with backoff.
        """
        assert self.loop is not None
        self.report = self.loop.cycle()

    def step(self) -> None:
        """One cycle: config problems, connecting, tick(), heartbeat. Never raises for I/O."""
        started = time.monotonic()
        if self.instance is not None and runtime.debug_trigger(
            self.home, "hang", self.instance.slug
        ):
            runtime.hang_forever(f"debug/hang-{self.instance.slug} exists")
        if self.config_error is not None and self.backoff.ready():
            self.load_config()
            if self.config_error is not None:
                self.backoff.failed()
            else:
                self.backoff.succeeded()
        if self.config_error is not None:
            self._beat("config-error", self.config_error, started)
            return
        if self.feed is not None:
            self.feed.ensure_reader()  # whatever else fails: some manager must read
        try:
            if not self.connected:
                if not self.backoff.ready():
                    self._beat("error", None, started)
                    return
                self.connect()
                self.backoff.succeeded()
            self.tick()
        except FeedStale as exc:  # waiting for the reader: nothing to reconnect or back off
            message = self.ctx.scrub(str(exc))
            log.warning("%s", message)
            self._beat("error", message, started)
            return
        except (ConnectError, QbtError, ArrError) as exc:
            self.disconnect()
            delay = self.backoff.failed()
            message = self.ctx.scrub(str(exc))
            log.warning("%s (retry in %.1fs)", message, delay)
            self._beat("error", message, started)
            return
        self._beat("ok", None, started)

    def _beat(self, status: str, error: str | None, started: float) -> None:
        if error is None and self.reload_error is not None:
            error, self.reload_error = self.reload_error, None
        stats: dict[str, Any] = {
            "loop_interval": self.interval(),
            **self.versions,
            **self._cycle_stats(),
        }
        if status != "ok":
            stats["retry_in"] = round(self.backoff.remaining(), 1)
        if status == "ok" and self.report.brake:
            status = "brake"
        self.heartbeat.beat(
            status,
            error=error,
            cycle_s=round(time.monotonic() - started, 4),
            qbt_ok=self.qbt is not None,
            arr_ok=self.arr is not None,
            counts=self.report.counts,
            torrents=self.report.torrents,
            stats=stats,
        )

    def _cycle_stats(self) -> dict[str, Any]:
        """Per-cycle figures for the heartbeat (read by `qbarr status`, the web UI and /metrics)."""
        api = {}
        for remote, client in (("qbittorrent", self.qbt), ("arr", self.arr)):
            if client is not None:
                api[remote] = dict(client.stats)
        return {
            "api": api,
            "actions": self.report.actions,
            "queue_refreshed": self.report.queue_refreshed,
            "sync_bytes": self.report.sync_bytes,
            "brake": self.report.brake,
        }

    def reload(self) -> None:
        self.load_config()

    def close(self) -> None:
        self.disconnect()
        if self.feed is not None:
            self.feed.close()
        try:
            self.heartbeat.stopped()
        except Exception:
            log.warning("could not record the stop in the database", exc_info=True)
