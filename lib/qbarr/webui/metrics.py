"""``/metrics``: a Prometheus collector that reads the database and supervisord per scrape.

Nothing is counted in the web UI's memory: every figure comes from what the managers and
the watchdog wrote (instances, decisions, actions, crashes), so a web UI restart loses
nothing. Per-remote API figures come from ``instances.stats`` JSON, which managers write
as ``{"api": {"qbittorrent": {"calls": n, "errors": n}, "arr": {"calls": n, "errors": n}}}``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from qbarr.db import rows
from qbarr.reader.feed import clients_view
from qbarr.webui import queries
from qbarr.webui.context import Web
from qbarr.webui.supervisor import SupervisorError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SuiteCollector:
    """Collects the suite's figures on each scrape (registered in a private registry)."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def collect(self) -> Iterator[Metric]:
        db = self.web.db
        now = time.time()
        insts = queries.instances(db, now, search_programs=True)  # their heartbeats too
        yield from self._instances(insts)
        yield from self._clients(clients_view(db, now))
        yield from self._journal(db)
        yield from self._programs(db)

    def _instances(self, insts: list[dict[str, Any]]) -> Iterator[Metric]:
        cycles = CounterMetricFamily(
            "qbarr_instance_cycles", "Cycles run by the manager", labels=["instance"]
        )
        cycle_s = GaugeMetricFamily(
            "qbarr_instance_cycle_seconds", "Duration of the last cycle", labels=["instance"]
        )
        heartbeat = GaugeMetricFamily(
            "qbarr_instance_heartbeat_age_seconds",
            "Seconds since the last heartbeat",
            labels=["instance"],
        )
        brake = GaugeMetricFamily(
            "qbarr_instance_brake_engaged",
            "1 while the brake holds destructive actions",
            labels=["instance"],
        )
        torrents = GaugeMetricFamily(
            "qbarr_instance_torrents", "Torrents the manager tracks", labels=["instance"]
        )
        reach = GaugeMetricFamily(
            "qbarr_remote_reachable",
            "1 when the last call to the remote worked",
            labels=["instance", "remote"],
        )
        calls = CounterMetricFamily(
            "qbarr_api_calls", "API calls per remote", labels=["instance", "remote"]
        )
        errors = CounterMetricFamily(
            "qbarr_api_errors", "Failed API calls per remote", labels=["instance", "remote"]
        )
        for inst in insts:
            name = inst["name"]
            cycles.add_metric([name], inst.get("cycles") or 0)
            if inst.get("cycle_s") is not None:
                cycle_s.add_metric([name], inst["cycle_s"])
            if inst.get("heartbeat_age") is not None:
                heartbeat.add_metric([name], inst["heartbeat_age"])
            brake.add_metric([name], 1 if inst.get("brake_engaged") else 0)
            torrents.add_metric([name], inst.get("torrents") or 0)
            for remote, key in (("qbittorrent", "qbt_ok"), ("arr", "arr_ok")):
                if inst.get(key) is not None:
                    reach.add_metric([name, remote], 1 if inst[key] else 0)
            api = inst.get("stats", {}).get("api", {})
            if isinstance(api, dict):
                for remote, figures in sorted(api.items()):
                    if isinstance(figures, dict):
                        calls.add_metric([name, str(remote)], _number(figures.get("calls")))
                        errors.add_metric([name, str(remote)], _number(figures.get("errors")))
        yield from (cycles, cycle_s, heartbeat, brake, torrents, reach, calls, errors)

    def _clients(self, clients: list[dict[str, Any]]) -> Iterator[Metric]:
        """Per qBittorrent, from what its reader published."""
        up = GaugeMetricFamily(
            "qbarr_qbittorrent_up", "1 when the reader's last poll worked", labels=["client"]
        )
        age = GaugeMetricFamily(
            "qbarr_qbittorrent_poll_age_seconds",
            "Seconds since the reader's last successful poll",
            labels=["client"],
        )
        torrents = GaugeMetricFamily(
            "qbarr_qbittorrent_torrents", "Torrents in the qBittorrent", labels=["client"]
        )
        info = GaugeMetricFamily(
            "qbarr_qbittorrent_info", "The qBittorrent's version", labels=["client", "version"]
        )
        for c in clients:
            name = str(c["client"])
            up.add_metric([name], 1 if c["up"] else 0)
            if c["polled_age"] is not None:
                age.add_metric([name], c["polled_age"])
            torrents.add_metric([name], c["torrents"])
            if c["version"]:
                info.add_metric([name, str(c["version"])], 1)
        yield from (up, age, torrents, info)

    def _journal(self, db: Any) -> Iterator[Metric]:
        decisions = CounterMetricFamily(
            "qbarr_decisions", "Decisions journaled per rule", labels=["instance", "rule"]
        )
        for r in rows(
            db, "SELECT instance, rule, COUNT(*) AS n FROM decisions GROUP BY instance, rule"
        ):
            decisions.add_metric([r["instance"], r["rule"]], r["n"])
        actions = CounterMetricFamily(
            "qbarr_actions", "Actions per kind and result", labels=["instance", "kind", "result"]
        )
        for r in rows(
            db,
            "SELECT instance, kind, status, COUNT(*) AS n FROM actions "
            "GROUP BY instance, kind, status",
        ):
            actions.add_metric([r["instance"], r["kind"], r["status"]], r["n"])
        yield decisions
        yield actions

    def _programs(self, db: Any) -> Iterator[Metric]:
        restarts = CounterMetricFamily(
            "qbarr_program_restarts",
            "Crashes and restarts recorded by the watchdog",
            labels=["program"],
        )
        crashes = queries.crash_summary(db)
        up = GaugeMetricFamily("qbarr_supervisor_up", "1 when supervisord answers")
        running = GaugeMetricFamily(
            "qbarr_program_running", "1 when the program is RUNNING", labels=["program"]
        )
        try:
            infos = self.web.supervisor.processes()
            up.add_metric([], 1)
        except SupervisorError:
            infos = []
            up.add_metric([], 0)
        seen = set()
        for info in infos:
            full = info["fullname"]
            seen.add(full)
            crash = crashes.get(full) or crashes.get(info["name"]) or {}
            restarts.add_metric([full], crash.get("restarts", 0))
            running.add_metric([full], 1 if info.get("statename") == "RUNNING" else 0)
        for program, crash in sorted(crashes.items()):
            if program not in seen and not any(s.endswith(f":{program}") for s in seen):
                restarts.add_metric([program], crash["restarts"])
        yield from (restarts, up, running)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def render(web: Web) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SuiteCollector(web))
    return generate_latest(registry)
