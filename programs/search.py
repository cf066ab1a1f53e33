"""qbarr-search: missing / cutoff-unmet / upgrade / request searches of one Arr instance.

    qbarr-search --instance NAME [--home DIR]

The supervisord program ``search-<slug>`` (group ``search``), rendered for each instance
whose ``[[Search]] Enabled = true``. Each step (:class:`qbarr.search.runner.SearchRunner`)
polls the request sources that are due, refreshes the wanted lists when due, asks the
pure planner what may be sent now, journals and sends it, then writes the heartbeat row
``<Instance>:search``. The loop sleeps until the planner's next possible search (at most
10 s, so the heartbeat stays fresh); while a step waits on a slow Arr, a Pulse thread keeps
the heartbeat (qbarr.heartbeat: the heartbeat means alive, not "the step finished").

Exit status: 0 after SIGTERM (the stop happens between two commands). config.ini unusable
at start (or this instance missing from it): the program waits, reports the problem in its
log and heartbeat (status ``config-error``, naming file, section and key) and starts as
soon as the file is fixed (re-read every 5 s, or at once on SIGHUP); exiting would make
supervisord restart it into a loop. A bad edit picked up by SIGHUP later keeps the
previous settings and is reported in the heartbeat.
Arr or request-service trouble never ends the program: it is reported and retried.
Signals: TERM = stop, HUP = reload config.ini, USR1 = stack dump into the log.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from qbarr import config as configmod
from qbarr import runtime, searchlog, store
from qbarr.arr import make_client
from qbarr.config import Config, ConfigError, Instance
from qbarr.heartbeat import Heartbeat, Pulse
from qbarr.lease import Lease, Ownership, connector, poll_interval
from qbarr.paths import Home, resolve_home
from qbarr.search.runner import SearchRunner
from qbarr.search.settings import RequestSettings, SearchSettings, settings_for
from qbarr.search.sources import make_source
from qbarr.search.status import SEARCH_KIND, row_name

COMMAND = "qbarr-search"
KEEP_HISTORY = 90 * 86400.0
PRUNE_EVERY = 86400.0
log = logging.getLogger(COMMAND)


def _arr_for(inst: Instance) -> Any:
    return make_client(inst.kind, inst.url, inst.api_key, timeout=float(inst.section["Timeout"]))


def _sources_for(settings: SearchSettings) -> dict[str, Any]:
    return {r.name: make_source(r) for r in settings.enabled_requests}


class SearchProgram:
    """Wires config, clients, the runner and the heartbeat into runtime.run_loop."""

    def __init__(
        self, ctx: runtime.Context, home: Home, cfg: Config, inst: Instance, db: Any
    ) -> None:
        self.ctx, self.home, self.db = ctx, home, db
        self.cfg, self.inst = cfg, inst
        settings = settings_for(inst)
        self.runner = SearchRunner(
            inst.name,
            settings,
            db,
            _arr_for(inst),
            _sources_for(settings),
            dry_run=bool(cfg.settings["DryRun"]),
            backoff_cap=float(cfg.settings["RetryBackoffMax"]),
            # between two sends: a stop, or a lease this copy can no longer trust (fencing)
            should_stop=lambda: ctx.signals.stop_requested or not self.ownership.lease.valid(),
            max_sleep=_max_sleep(cfg),
            progress=self._progress,
        )
        self.heartbeat = Heartbeat(
            db, row_name(inst.name), program=f"search-{inst.slug}", kind=SEARCH_KIND
        )
        # One copy searches, wherever copies run (qbarr.lease); the heartbeat row is the
        # holder's, written when this copy takes the lease (its first step, normally).
        database = ctx.database or store.location(home)  # a path, or a PostgreSQL URL
        lease = Lease(f"search-{inst.slug}", float(cfg.settings["LeaseTimeout"]))
        self.ownership = Ownership(lease, db, connector(database))
        runtime.tolerate_storage(ctx, self._own)  # the row at once when nobody else holds it
        # Alive while a step waits on a slow Arr (within the call's limit): see qbarr.heartbeat.
        self.pulse = Pulse(database, row_name(inst.name), period=_max_sleep(cfg))
        self.pulse.watch([self.runner.arr.peer])
        self.pulse.start()
        self.reload_error: str | None = None
        self.wait = 0.0
        self.pruned_at = 0.0
        self.step_started = time.monotonic()
        self.beat_at = 0.0
        log.info("searching for %s (%s): %s", inst.name, inst.kind, _describe(settings))

    def step(self) -> None:
        started = self.step_started = time.monotonic()
        if runtime.debug_trigger(self.home, "hang", f"search-{self.inst.slug}"):
            runtime.hang_forever(f"debug/hang-search-{self.inst.slug} exists")
        if not self._own():
            return  # another copy searches; interval() polls for its lease
        self.wait = self.runner.step()
        self._beat(started)
        now = time.time()
        if now - self.pruned_at >= PRUNE_EVERY:
            self.pruned_at = now
            searchlog.prune(self.db, self.inst.name, now - KEEP_HISTORY)

    def _own(self) -> bool:
        """True while this copy holds the lease; a copy that just took it writes a new row."""
        if not self.ownership.ensure():
            return False
        if self.ownership.taken:
            self.heartbeat.started()
        return True

    def _beat(self, started: float, cycle: bool = True) -> None:
        status, error, counts, stats = self.runner.report()
        arr = self.runner.arr.peer.as_dict()
        if arr["error"]:
            arr["error"] = self.ctx.scrub(arr["error"])
        stats = {**stats, "targets": {"arr": arr}}  # the Arr from its own last call
        if self.reload_error:
            error = "; ".join(e for e in (error, self.reload_error) if e)
        self.heartbeat.beat(
            status,
            error=self.ctx.scrub(error) if error else None,
            cycle_s=round(time.monotonic() - started, 4),
            arr_ok=self.runner.arr_ok,
            counts=counts,
            stats=stats,
            cycle=cycle,
        )
        self.beat_at = time.monotonic()

    def _progress(self) -> None:
        """Mid-step sign of life (long crawls, many sends): the watchdog sees we work."""
        if time.monotonic() - self.beat_at >= self.runner.max_sleep:
            self._beat(self.step_started, cycle=False)

    def interval(self) -> float:
        if not self.ownership.holding:
            return poll_interval(self.ownership.lease.timeout, self.runner.max_sleep)
        return self.wait

    def reload(self) -> None:
        """SIGHUP: re-read config.ini; a bad file keeps the running settings."""
        try:
            cfg = configmod.load(self.home.config)
            inst = cfg.instance(self.inst.name)
        except ConfigError as exc:
            self._reload_failed("config.ini is invalid: " + "; ".join(exc.problems))
            return
        except KeyError as exc:
            self._reload_failed(str(exc.args[0]))
            return
        settings = settings_for(inst)
        arr = None
        if (inst.kind, inst.url, inst.api_key, inst.section["Timeout"]) != (
            self.inst.kind,
            self.inst.url,
            self.inst.api_key,
            self.inst.section["Timeout"],
        ):
            self.runner.arr.close()
            arr = _arr_for(inst)
        sources = None
        if _source_keys(settings.enabled_requests) != _source_keys(
            self.runner.settings.enabled_requests
        ):
            for source in self.runner.sources.values():
                source.close()
            sources = _sources_for(settings)
        self.runner.reconfigure(
            settings, arr=arr, sources=sources, dry_run=bool(cfg.settings["DryRun"])
        )
        self.runner.backoff_cap = float(cfg.settings["RetryBackoffMax"])
        self.runner.max_sleep = self.pulse.period = _max_sleep(cfg)
        self.pulse.watch([self.runner.arr.peer])
        self.cfg, self.inst, self.reload_error = cfg, inst, None
        self.ctx.use_config(cfg, inst)
        self.ownership.lease.timeout = float(cfg.settings["LeaseTimeout"])
        log.info("settings reloaded: %s", _describe(settings))

    def _reload_failed(self, message: str) -> None:
        message = self.ctx.scrub(message)
        log.error("%s; keeping the previous settings", message)
        self.reload_error = message + " (still running with the previous settings)"

    def close(self) -> None:
        self.pulse.stop()
        self.runner.arr.close()
        for source in self.runner.sources.values():
            source.close()
        if self.ownership.holding:  # a waiting copy never touches the holder's row
            self.heartbeat.stopped()
        self.ownership.release()


def _max_sleep(cfg: Config) -> float:
    """Sleep at most a quarter of HeartbeatTimeout (and 10 s): the watchdog restarts a
    program whose heartbeat is older than HeartbeatTimeout."""
    return max(0.5, min(10.0, float(cfg.settings["HeartbeatTimeout"]) / 4))


def _source_keys(sources: tuple[RequestSettings, ...]) -> tuple[Any, ...]:
    return tuple((r.name, r.url, r.api_key, r.approved_only, r.is_4k) for r in sources)


def _describe(s: SearchSettings) -> str:
    """The pacing in one log line (no secrets)."""
    tiers = [
        t
        for t, on in (
            ("missing", s.search_missing),
            ("cutoff", s.search_cutoff_unmet),
            ("upgrades", s.search_upgrades),
        )
        if on
    ]
    parts = [
        "enabled" if s.enabled else "DISABLED ([[Search]] Enabled = false)",
        "+".join(tiers) or "nothing",
        f"limit {s.search_limit}",
        f"delay {s.search_delay:g}s",
        f"cooldown {s.search_cooldown:g}s",
        f"{s.max_per_day or 'unlimited'}/day",
        f"{s.hourly_cap or 'unlimited'}/hour",
    ]
    if s.kind == "sonarr":
        parts.append(f"series mode {s.series_mode}")
    parts += [f"requests from {r.name}" for r in s.enabled_requests]
    return ", ".join(parts)


CONFIG_RETRY = 5.0
"""Seconds between two reads of an unusable config.ini (HUP reads it at once)."""


def wait_for_config(
    ctx: runtime.Context, home: Home, name: str, db: Any
) -> tuple[Config, Instance] | None:
    """The config and this program's instance, once config.ini is usable.

    Until then the problem is logged (once per change) and written to the heartbeat row
    (status ``config-error``), and the program waits: exiting would only make supervisord
    restart it into a loop and then give up (FATAL). None when a stop was asked for.
    """
    program = f"search-{configmod.slugify(name)}"
    heartbeat = Heartbeat(db, row_name(name), program=program, kind=SEARCH_KIND)
    shown = None
    while not ctx.signals.stop_requested:
        try:
            cfg = configmod.load(home.config)
            return cfg, cfg.instance(name)
        except ConfigError as exc:
            message = "config.ini is invalid: " + "; ".join(exc.problems)
        except KeyError as exc:
            message = str(exc.args[0])
        message = ctx.scrub(message)
        if message != shown:
            if shown is None:
                heartbeat.started()
            log.error("%s (waiting for a fix; the program keeps running)", message)
            shown = message
        heartbeat.beat("config-error", error=message, cycle=False)
        ctx.signals.wait(CONFIG_RETRY)
        ctx.signals.take_reload()
    if shown is not None:
        heartbeat.stopped()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Search missing and upgradable media of one Arr instance, politely.",
    )
    parser.add_argument(
        "--instance", required=True, help="the Arr section name in config.ini (or its slug)"
    )
    parser.add_argument(
        "--home", help="the data dir (default: $QBARR_HOME, /config or ~/.config/qbarr)"
    )
    args = parser.parse_args(argv)
    home = resolve_home(args.home)
    slug = configmod.slugify(args.instance)
    ctx = runtime.start(COMMAND, label=f"search-{slug}", home=home, title=args.instance)
    if runtime.debug_trigger(home, "crash", f"search-{slug}"):
        raise SystemExit(f"debug/crash-search-{slug} exists: crashing on purpose")
    db = runtime.open_database(ctx)
    found = wait_for_config(ctx, home, args.instance, db)
    if found is None:
        return 0  # stopped while waiting
    cfg, inst = found
    ctx.use_config(cfg, inst)
    program = SearchProgram(ctx, home, cfg, inst, db)
    return runtime.run_loop(
        ctx,
        step=program.step,
        interval=program.interval,
        reload=program.reload,
        close=program.close,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
