"""Heartbeats: each program's row in the ``instances`` table, written every cycle.

``heartbeat_at`` means **alive**, not "the last cycle finished": the main thread writes it
after every step, and while a step waits on a remote (a call in flight, see
:mod:`qbarr.peer`) the :class:`Pulse` thread writes it too, as long as that call has not
outlived the longest it may take. The watchdog reads ``heartbeat_at`` (together with
``pid``) to find hung programs: a slow Arr is not a hang, a main thread stuck anywhere else
(or in a call past its limit) still is. ``qbarr status`` and the web UI read the rest.
Columns written here:

- ``status``: ``starting``, ``ok``, ``brake``, ``arr-down`` (the Arr does not answer: what
  needs no Arr goes on), ``error`` (qBittorrent unreachable: nothing can be decided),
  ``config-error`` (config.ini unusable for this instance), ``stopped``;
- ``qbt_ok`` / ``arr_ok``: each remote's reachability from its own last call (NULL: not
  called yet); ``stats.targets`` adds since when and its last error with its time;
- ``last_error`` / ``last_error_at``: the latest error, kept after recovery so an operator
  can see what happened (secrets scrubbed by the caller);
- ``cycles`` / ``cycle_s``: cycles done and the last one's duration;
- ``stats``: a JSON object (``loop_interval``, versions, ...), ``counts``: JSON counts;
  ``stats.waiting`` (written by the Pulse): the call the program waits on, for how long.

Every write is one short ``BEGIN IMMEDIATE`` transaction (:func:`qbarr.db.write_txn`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from qbarr import db as dbmod
from qbarr.db import Database, rows, write_txn
from qbarr.peer import InFlight, Peer
from qbarr.units import format_duration

log = logging.getLogger("qbarr.heartbeat")

_UPSERT_START = """
INSERT INTO instances (name, kind, program, pid, status, started_at, heartbeat_at, cycles)
VALUES (:name, :kind, :program, :pid, 'starting', :now, :now, 0)
ON CONFLICT(name) DO UPDATE SET
    kind = excluded.kind, program = excluded.program, pid = excluded.pid,
    status = 'starting', started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, cycles = 0, cycle_s = NULL,
    qbt_ok = NULL, arr_ok = NULL
"""
# The Pulse's beat: only the row of this process, and only heartbeat_at and stats.waiting.
_PULSE = """
UPDATE instances SET heartbeat_at = :now,
    stats = json_set(COALESCE(NULLIF(stats, ''), '{}'), '$.waiting', json(:waiting))
WHERE name = :name AND pid = :pid
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
        error_at: float | None = None,
    ) -> None:
        """Record a cycle (or a status change when ``cycle`` is False). ``error_at``: when
        ``error`` happened (default: now)."""
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
            sets.update(last_error=error, last_error_at=now if error_at is None else error_at)
        assignments = ", ".join(f"{column} = :{column}" for column in sets)
        with write_txn(self.db) as db:
            db.execute(
                f"UPDATE instances SET {assignments} WHERE name = :_name",
                {**sets, "_name": self.name},
            )

    def stopped(self) -> None:
        self.beat("stopped", cycle=False)


class Pulse:
    """Keeps a program's heartbeat from a thread while its main thread waits on a remote.

    Every ``period`` seconds: if one of the watched remotes has a call in flight that has
    not outlived its limit, write ``heartbeat_at`` and ``stats.waiting`` (``peer``, ``what``,
    ``for`` seconds, ``at``) on the program's own row, through its own connection. Otherwise
    write nothing: the main thread beats after each step, and a main thread that stops
    doing so is what the watchdog must find.
    """

    def __init__(
        self,
        path: str | Path,
        name: str,
        period: float = 5.0,
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.name = name
        self.period = period
        self.pid = os.getpid() if pid is None else pid
        self.clock = clock
        self.monotonic = monotonic
        self._peers: tuple[Peer, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: Database | None = None

    def watch(self, peers: Iterable[Peer]) -> None:
        self._peers = tuple(peers)

    def waiting_on(self) -> InFlight | None:
        """The call in flight that keeps the program alive (the longest-running within its
        limit), or None."""
        now = self.monotonic()
        live = [
            f
            for f in (p.in_flight() for p in self._peers)
            if f is not None and now - f.started <= f.limit
        ]
        return min(live, key=lambda f: f.started, default=None)

    def beat_once(self) -> InFlight | None:
        """One check: beat if a call in flight vouches for the program; returns that call."""
        flight = self.waiting_on()
        if flight is None:
            return None
        waited = round(self.monotonic() - flight.started, 1)
        now = self.clock()
        waiting = {"peer": flight.peer, "what": flight.what, "for": waited, "at": now}
        if self._db is None:
            self._db = dbmod.connect(self.path)
        with write_txn(self._db) as db:
            db.execute(
                _PULSE,
                {"now": now, "waiting": json.dumps(waiting), "name": self.name, "pid": self.pid},
            )
        return flight

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pulse", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.period):
                try:
                    self.beat_once()
                except Exception:  # a busy database must not end the thread
                    log.warning("heartbeat from the waiting thread failed", exc_info=True)
        finally:
            if self._db is not None:
                self._db.close()
                self._db = None


def waiting_text(stats: Mapping[str, Any], heartbeat_at: float | None) -> str | None:
    """ "waiting on Radarr: 28 s (POST command)" while the last beat was a Pulse's, else None."""
    w = stats.get("waiting")
    if not isinstance(w, Mapping) or heartbeat_at is None or w.get("at") != heartbeat_at:
        return None
    return f"waiting on {w.get('peer')}: {float(w.get('for') or 0):.0f} s ({w.get('what')})"


# -- how the CLI and the web UI show these fields ------------------------------------------

# Why an action is not done yet (the journal's statuses, see docs/manager.md).
WHY = {
    "planned": "planned",
    "sending": "being sent",
    "unknown": "answer lost, looked up before a resend",
    "waiting": "remote unreachable, retried",
    "failed": "refused, retried",
    "given-up": "refused 5 times and the torrent is gone: given up",
    "held": "held by the brake",
}


def _ago(now: float, then: Any) -> str:
    if not isinstance(then, (int, float)) or not then:
        return "-"
    return format_duration(max(0.0, now - float(then))) + " ago"


def target_text(now: float, t: Mapping[str, Any]) -> str:
    """ "Radarr down since 2m ago; last error 12s ago: ..." from one of ``stats.targets``."""
    text = str(t.get("name") or "?") + " "
    if t.get("ok") is None:
        text += "not called yet"
    else:
        text += "ok" if t["ok"] else "down"
        if t.get("since"):
            text += f" since {_ago(now, t['since'])}"
    if t.get("error"):
        text += f"; last error {_ago(now, t.get('error_at'))}: {t['error']}"
    return text


def backlog_lines(now: float, backlog: Any) -> list[str]:
    """``stats.backlog`` in words: what is not done yet per kind (how many, the oldest's age,
    why), then the latest error among them with its age. [] when nothing is pending."""
    if not isinstance(backlog, Mapping) or not backlog.get("count"):
        return []
    parts = []
    for kind, k in sorted(backlog.get("kinds", {}).items()):
        why = ", ".join(f"{n} {WHY.get(w, w)}" for w, n in sorted(k.get("why", {}).items()))
        parts.append(f"{kind} {k['count']} (oldest {_ago(now, k.get('oldest_at'))}: {why})")
    lines = ["not done yet: " + "; ".join(parts)]
    if backlog.get("last_error"):
        lines.append(
            f"last action error ({_ago(now, backlog.get('last_error_at'))}): "
            f"{backlog['last_error']}"
        )
    return lines


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


def forget_except(db: Database, names: Iterable[str]) -> list[str]:
    """Delete the rows of programs not in ``names`` (instances removed from config.ini, once
    their programs are gone): they leave status, brake status, the web UI and /metrics. Their
    journal stays (``qbarr why``). Returns the names forgotten."""
    keep = set(names)
    with write_txn(db):
        gone = [r["name"] for r in rows(db, "SELECT name FROM instances") if r["name"] not in keep]
        for name in gone:
            db.execute("DELETE FROM instances WHERE name = ?", (name,))
    return gone


def by_program(db: Database) -> dict[str, dict[str, Any]]:
    """Rows keyed by supervisord program name (``arr-<slug>``), for the watchdog."""
    return {row["program"]: row for row in read_all(db) if row["program"]}
