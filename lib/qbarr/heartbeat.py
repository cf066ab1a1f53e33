"""Heartbeats: each program's row in the ``instances`` table, written every cycle.

The watchdog reads ``heartbeat_at`` (together with ``pid``) to find hung managers;
``qbarr status`` and the web UI read the rest. Columns written here:

- ``status``: ``starting``, ``ok``, ``error`` (qBittorrent or the Arr unreachable, see
  ``last_error``), ``config-error`` (config.ini unusable for this instance), ``stopped``;
- ``qbt_ok`` / ``arr_ok``: the connections right now;
- ``last_error`` / ``last_error_at``: the latest error, kept after recovery so an operator
  can see what happened (secrets scrubbed by the caller);
- ``cycles`` / ``cycle_s``: cycles done and the last one's duration;
- ``stats``: a JSON object (``loop_interval``, versions, ...), ``counts``: JSON counts.

Every write is one short ``BEGIN IMMEDIATE`` transaction (:func:`qbarr.db.write_txn`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from qbarr.db import Database, rows, write_txn

_UPSERT_START = """
INSERT INTO instances (name, kind, program, pid, status, started_at, heartbeat_at, cycles)
VALUES (:name, :kind, :program, :pid, 'starting', :now, :now, 0)
ON CONFLICT(name) DO UPDATE SET
    kind = excluded.kind, program = excluded.program, pid = excluded.pid,
    status = 'starting', started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, cycles = 0, cycle_s = NULL
"""


class Heartbeat:
    """Writes one program's row. ``name`` is the instance (section) name, the row's key."""

    def __init__(
        self,
        db: Database,
        name: str,
        program: str,
        kind: str = "",
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.name = name
        self.program = program
        self.kind = kind
        self.pid = os.getpid() if pid is None else pid
        self.clock = clock
        self.cycles = 0

    def started(self) -> None:
        """(Re)create the row for a new process: status starting, cycles 0."""
        params = {
            "name": self.name,
            "kind": self.kind,
            "program": self.program,
            "pid": self.pid,
            "now": self.clock(),
        }
        with write_txn(self.db) as db:
            db.execute(_UPSERT_START, params)

    def beat(
        self,
        status: str,
        *,
        error: str | None = None,
        cycle_s: float | None = None,
        qbt_ok: bool | None = None,
        arr_ok: bool | None = None,
        counts: Mapping[str, Any] | None = None,
        torrents: int | None = None,
        stats: Mapping[str, Any] | None = None,
        cycle: bool = True,
    ) -> None:
        """Record a cycle (or a status change when ``cycle`` is False)."""
        if cycle:
            self.cycles += 1
        now = self.clock()
        sets = {"status": status, "heartbeat_at": now, "pid": self.pid, "cycles": self.cycles}
        optional = {
            "cycle_s": cycle_s,
            "qbt_ok": None if qbt_ok is None else int(qbt_ok),
            "arr_ok": None if arr_ok is None else int(arr_ok),
            "torrents": torrents,
            "counts": None if counts is None else json.dumps(dict(counts), sort_keys=True),
            "stats": None
            if stats is None
            else json.dumps(dict(stats), sort_keys=True, default=str),
        }
        sets.update({k: v for k, v in optional.items() if v is not None})
        if error is not None:
            sets.update(last_error=error, last_error_at=now)
        assignments = ", ".join(f"{column} = :{column}" for column in sets)
        with write_txn(self.db) as db:
            db.execute(
                f"UPDATE instances SET {assignments} WHERE name = :_name",
                {**sets, "_name": self.name},
            )

    def stopped(self) -> None:
        self.beat("stopped", cycle=False)


def read_all(db: Database) -> list[dict[str, Any]]:
    """Every instances row, with ``counts``/``stats`` decoded."""
    out = []
    for row in rows(db, "SELECT * FROM instances ORDER BY name"):
        for column in ("counts", "stats"):
            try:
                row[column] = json.loads(row[column] or "{}")
            except ValueError:
                row[column] = {}
        out.append(row)
    return out


def by_program(db: Database) -> dict[str, dict[str, Any]]:
    """Rows keyed by supervisord program name (``arr-<slug>``), for the watchdog."""
    return {row["program"]: row for row in read_all(db) if row["program"]}
