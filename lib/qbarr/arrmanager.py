"""The manager of one Arr instance: config, clients, the cycle, the heartbeat.

:class:`ArrManager` is what the ``qbarr-arr`` program runs (``programs/arr.py`` is only its
entry point): every ``[Settings] LoopInterval`` :meth:`ArrManager.step` runs one
:class:`qbarr.manager.TorrentLoop` cycle (snapshot, decide, act), then writes the heartbeat.
The snapshot comes from the qBittorrent's feed (:class:`qbarr.reader.FeedSource`); the first
manager to step runs the one reader of that qBittorrent, in a thread (see qbarr.reader).

The two remotes are independent. The clients are built once per config (no network call):
the qBittorrent client keeps its login session and logs in again only when qBittorrent
says the session is gone (its auth flow re-logs on 403); nothing is torn down because one
remote failed. qBittorrent unreachable: no cycle can run; the step reports ``error`` and
retries with capped exponential back-off (``RetryBackoffMax``). The Arr unreachable: the
cycle goes on without it (``arr-down``: what needs no Arr is still decided) and the loop
asks the Arr again after its own back-off. Each remote's reachability comes from its own
last call (:mod:`qbarr.peer`). An unusable config.ini is reported (``config-error``) and
re-read with back-off. Only real crashes (exceptions other than the clients' errors) reach
supervisord.

The heartbeat means alive: besides the beat after each step, a :class:`Pulse` thread beats
while the step waits on a remote within that call's limit (docs/manager.md).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from qbarr import config as configmod
from qbarr import db as dbmod
from qbarr import lifeline, runtime, store
from qbarr.arr import ArrError, make_client
from qbarr.backoff import Backoff, RetryTimer
from qbarr.config import Config, ConfigError, Instance
from qbarr.heartbeat import Heartbeat, Pulse
from qbarr.lease import Lease, LeaseLost, Ownership, connector, poll_interval
from qbarr.manager import CycleReport, TorrentLoop
from qbarr.paths import Home
from qbarr.qbittorrent import QbtClient, QbtError
from qbarr.reader import FeedSource, FeedStale

DEFAULT_INTERVAL = 2.0
DEFAULT_LEASE_TIMEOUT = 30.0  # until config.ini is read ([Settings] LeaseTimeout)
log = logging.getLogger("qbarr-arr")


def pulse_period(cfg: Config) -> float:
    """How often the Pulse may beat: well inside HeartbeatTimeout (and at most every 5 s)."""
    return max(0.5, min(5.0, float(cfg.settings["HeartbeatTimeout"]) / 4))


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
        self.backoff = RetryTimer(Backoff(base=1.0, cap=60.0, jitter=0.1))
        self.heartbeat = Heartbeat(db, name, program=f"arr-{configmod.slugify(name)}")
        # a path, or a PostgreSQL URL: where open_database() found it, else where it would
        self.database = ctx.database or store.location(home)
        self.pulse = Pulse(self.database, name)
        self.reload_error: str | None = None
        self.loop: TorrentLoop | None = None
        self.feed: FeedSource | None = None
        self.feed_failed = False  # the last step found the reader's snapshot stale
        self.report = CycleReport()
        # One owner per instance, wherever copies run (qbarr.lease): only the holder acts
        # and writes the heartbeat row; another copy waits.
        lease = Lease(self.heartbeat.program, DEFAULT_LEASE_TIMEOUT)
        self.ownership = Ownership(lease, db, connector(self.database))
        self.housekeeper: Any = None  # qbarr.housekeeping, under run-program only

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
        self.ctx.use_config(cfg, inst)
        self.backoff.set_cap(float(cfg.settings["RetryBackoffMax"]))
        self.pulse.period = pulse_period(cfg)
        self.ownership.lease.timeout = float(cfg.settings["LeaseTimeout"])
        self._adopt_identity(inst)
        if old is not None and self._endpoints(old, cfg) != self._endpoints(inst, cfg):
            log.info("connection settings changed: new clients")
            self.disconnect()
            self.backoff.succeeded()
        if self.loop is not None:
            self.loop.configure(cfg, inst)
        if self.feed is not None and self.feed.client != inst.client:
            log.info("this instance moved to [%s]: following its feed", inst.client)
            self.disconnect()  # the loop holds the old source
            self.feed.close()
            self.feed = None
        if self.feed is None:
            self.feed = FeedSource(
                self.db, self.database, self.home.run, cfg, inst.program, client=inst.client
            )
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
            self.pulse.name = inst.name
            if self.ownership.holding:  # else the row is the holder's; written on takeover
                self.heartbeat.started()

    def _endpoints(self, inst: Instance, cfg: Config) -> tuple[Any, ...]:
        q = cfg.data.get(inst.client) or {}  # an old instance's client may be gone
        return (
            inst.client,
            inst.url,
            inst.api_key,
            inst.kind,
            inst.section["Timeout"],
            *(q.get(k) for k in ("URL", "Username", "Password", "APIKey", "Timeout")),
        )

    def interval(self) -> float:
        loop = (
            DEFAULT_INTERVAL if self.config is None else float(self.config.settings["LoopInterval"])
        )
        if not self.ownership.holding:  # waiting for the lease: poll often enough to take over
            return poll_interval(self.ownership.lease.timeout, loop)
        return loop

    # -- clients ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.loop is not None

    def connect(self) -> None:
        """Build both clients and the loop (no network call: each logs in or is asked when
        first used). ValueError for a URL that is not http(s)."""
        assert self.config is not None and self.instance is not None
        inst = self.instance
        q = self.config.client(inst.client)
        qbt = QbtClient(
            q["URL"], q["Username"], q["Password"], api_key=q["APIKey"], timeout=float(q["Timeout"])
        )
        try:
            arr = make_client(
                inst.kind, inst.url, inst.api_key, timeout=float(inst.section["Timeout"])
            )
        except ValueError:
            qbt.close()
            raise
        self.qbt, self.arr = qbt, arr
        self.loop = TorrentLoop(self.config, inst, self.db, qbt, arr, source=self.feed)
        self.loop.journal.fence = self.ownership.lease.check
        self.pulse.watch([qbt.peer, arr.peer])
        self.pulse.start()

    def disconnect(self) -> None:
        self.pulse.watch([])
        for client in (self.qbt, self.arr):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing must never crash the loop
                    log.debug("error closing a client", exc_info=True)
        self.qbt = self.arr = None
        if self.loop is not None:
            self.loop.close()
        self.loop = None

    @property
    def versions(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.qbt is not None and self.qbt.cached_version is not None:
            out["qbittorrent"] = str(self.qbt.cached_version)
        if self.loop is not None and self.loop.gate.version and self.instance is not None:
            out[self.instance.kind] = self.loop.gate.version
        return out

    # -- the cycle ---------------------------------------------------------------------------

    def tick(self) -> None:
        """One unit of work with live clients: sync, decide, act (qbarr.manager).

        QbtError propagates: the step reports it and retries with back-off. The loop handles
        the Arr's errors itself (its work waits while the rest goes on)."""
        assert self.loop is not None and self.qbt is not None
        self.report = self.loop.cycle()
        if self.feed_failed:  # the reader sees qBittorrent again
            self.qbt.peer.answered()
            self.feed_failed = False
        if self.qbt.cached_version is None:  # once per client: logged, shown in the heartbeat
            self.qbt.version()

    def step(self) -> None:
        """One cycle: config problems, clients, tick(), heartbeat. Never raises for I/O."""
        started = time.monotonic()
        if self.instance is not None and runtime.debug_trigger(
            self.home, "hang", self.instance.slug
        ):
            runtime.hang_forever(f"debug/hang-{self.instance.slug} exists")
        if not self._own(started):
            return
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
        if not self.backoff.ready():
            self._beat("error", None, started)
            return
        try:
            if not self.connected:
                self.connect()
            self.tick()
        except LeaseLost as exc:  # fencing: another copy may act now; this one must not
            log.error("%s: this copy stops acting", exc)
            self.ownership.lost()
            self.disconnect()
            return
        except FeedStale as exc:  # waiting for the reader: nothing to reconnect or back off
            message = self.ctx.scrub(str(exc))
            log.warning("%s", message)
            if self.qbt is not None:  # qBittorrent's reachability is what the reader sees
                self.qbt.peer.failed(message)
                self.feed_failed = True
            self._beat("error", message, started)
            return
        except (QbtError, ArrError, ValueError) as exc:
            self.backoff.failed()
            where = "qBittorrent" if isinstance(exc, QbtError) else "connecting"
            message = self.ctx.scrub(f"{where}: {exc}")
            log.warning("%s (retry in %.1fs)", message, self._retry_in())
            self._beat("error", message, started)
            return
        self.backoff.succeeded()
        self._keep_database_small()
        if self.report.arr_up or self.arr is None:
            self._beat("ok", None, started)
            return
        arr = self.arr.peer.as_dict()
        error = self.ctx.scrub(arr["error"]) if arr["error"] else None
        self._beat("arr-down", error, started, error_at=arr["error_at"])

    def _keep_database_small(self) -> None:
        """Where no watchdog runs (qbarr run-program), prune old journal rows between cycles:
        one manager at a time, a bounded step (qbarr.housekeeping)."""
        if not lifeline.under_run_program() or self.config is None:
            return  # under supervisord the watchdog prunes
        if self.housekeeper is None:
            from qbarr.housekeeping import SharedHousekeeper

            self.housekeeper = SharedHousekeeper()
        self.housekeeper.housekeeper.keep = float(self.config.settings["JournalRetention"])
        try:
            outcome = self.housekeeper.step(self.db)
        except dbmod.unavailable_errors() as exc:  # busy, the disk, the server: later
            log.warning("pruning the database failed, retrying in a minute: %s", exc)
            self.housekeeper.housekeeper.next_at = time.time() + 60
            return
        if outcome is not None and outcome[0].total:
            deleted = ", ".join(f"{t} {n}" for t, n in sorted(outcome[0].deleted.items()) if n)
            log.info("pruned the database (older than JournalRetention): %s", deleted)

    def _own(self, started: float) -> bool:
        """True when this copy holds the instance's lease (and may act); a copy that just took
        it over starts afresh: a new heartbeat row, the journal read again."""
        if not self.ownership.ensure():
            if self.connected:  # it held the lease before: let go of everything
                self.disconnect()
            if self.feed is not None:
                self.feed.close()  # the reader too: the holder's process runs it
            return False
        if self.ownership.taken:
            self.disconnect()
            self.heartbeat.started()
        return True

    def _retry_in(self) -> float:
        """Seconds until the next try: the first tick of the loop (every LoopInterval) at or
        after the end of the backoff, since the loop only tries again at a tick."""
        wait, tick = self.backoff.remaining(), self.interval()
        return math.ceil(wait / tick) * tick if tick > 0 else wait

    def _beat(
        self, status: str, error: str | None, started: float, error_at: float | None = None
    ) -> None:
        if error is None and self.reload_error is not None:
            error, self.reload_error = self.reload_error, None
        stats: dict[str, Any] = {
            "client": self.instance.client if self.instance is not None else None,
            "loop_interval": self.interval(),
            **self.versions,
            **self._cycle_stats(),
        }
        if status == "error":
            stats["retry_in"] = round(self._retry_in(), 1)
        if self.loop is not None and self.loop.gate.up is False:
            stats["arr_retry_in"] = round(self.loop.gate.timer.remaining(), 1)
        if status == "ok" and self.report.brake:
            status = "brake"
        self.heartbeat.beat(
            status,
            error=error,
            cycle_s=round(time.monotonic() - started, 4),
            qbt_ok=self.qbt.peer.ok if self.qbt is not None else None,
            arr_ok=self.arr.peer.ok if self.arr is not None else None,
            counts=self.report.counts,
            torrents=self.report.torrents,
            stats=stats,
            error_at=error_at,
        )

    def _cycle_stats(self) -> dict[str, Any]:
        """Per-cycle figures for the heartbeat (read by `qbarr status`, the web UI and /metrics)."""
        api, targets = {}, {}
        for remote, client in (("qbittorrent", self.qbt), ("arr", self.arr)):
            if client is not None:
                api[remote] = dict(client.stats)
                targets[remote] = self._scrubbed(client.peer.as_dict())
        return {
            "api": api,
            "targets": targets,
            "actions": self.report.actions,
            "backlog": self._scrubbed(self.report.backlog, "last_error"),
            "queue_refreshed": self.report.queue_refreshed,
            "sync_bytes": self.report.sync_bytes,
            "unobserved": round(self.report.unobserved, 1),
            "brake": self.report.brake,
        }

    def _scrubbed(self, data: dict[str, Any], key: str = "error") -> dict[str, Any]:
        """The clients' messages carry no secret; scrub anyway, as every logged line is."""
        if data.get(key):
            return {**data, key: self.ctx.scrub(str(data[key]))}
        return data

    def reload(self) -> None:
        self.load_config()

    def close(self) -> None:
        self.pulse.stop()
        self.disconnect()
        if self.feed is not None:
            self.feed.close()
        if self.ownership.holding:  # a waiting copy never touches the holder's row
            try:
                self.heartbeat.stopped()
            except Exception:
                log.warning("could not record the stop in the database", exc_info=True)
        self.ownership.release()
