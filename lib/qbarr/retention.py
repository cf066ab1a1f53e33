"""Keeping qbarr.db small over months: prune old journal rows, give the space back.

What is kept (``keep`` = ``[Settings] JournalRetention``, 90 days by default; "old" means
older than ``now - keep``):

- ``decisions``: an old one is deleted unless an action that is kept points to it (its
  reason is what ``qbarr why`` shows for that action);
- ``actions``: the exactly-once keys. A row is deleted only when it is finished (done,
  skipped, or failed for good) and its torrent left qBittorrent more than ``keep`` ago.
  While a torrent is in qBittorrent its keys stay, however old, so an import is never
  sent twice; a torrent that comes back within ``keep`` of leaving finds them too;
- ``torrents``: a torrent's memory row is deleted once it has been gone for ``keep`` and
  none of its actions is left;
- ``crashes`` and finished web UI ``requests``: old ones are deleted.

(The search program prunes its own history: :func:`qbarr.search.recorder.prune`.)

Pruning runs from one place, the watchdog (:func:`prune`, a little on every ``TICK_5``
while there is a backlog, then once an hour), never inside a manager's cycle (under ``qbarr
run-program``, where no watchdog runs, one manager at a time prunes *between* its cycles:
:mod:`qbarr.housekeeping`): every
batch is a short transaction of its own (``BATCH`` rows of one table), so a manager waits
at most one batch for the write lock. Freed pages go back to the filesystem with
``PRAGMA incremental_vacuum`` in small steps (:func:`give_back`); the file is in
``auto_vacuum = INCREMENTAL`` mode (new files from the start, older ones switched once by
``qbarr run``: :func:`qbarr.db.ensure_incremental_vacuum`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qbarr.db import Database, write_txn

MAX_ATTEMPTS = 5
"""Refusals after which an action whose torrent is gone is finished (qbarr.journal). Defined
here, where pruning needs it, so that the watchdog, which prunes, does not load the journal
and the policy's model (~1.2 MB of its memory)."""
DEFAULT_KEEP = 90 * 86400.0
BATCH = 500
VACUUM_PAGES = 256  # pages given back per step (1 MiB at 4 KiB pages)
SLACK_PAGES = 64  # free pages kept for the next writes

# One statement per table: delete up to :batch rows that may go. Each picks its rows through
# an index (or the rowid order, old rows first) so a batch stays cheap on a big file.
_PRUNE = {
    "actions": """
        DELETE FROM actions WHERE id IN (
            SELECT a.id FROM torrents t
            JOIN actions a ON a.hash = t.hash AND a.instance = t.instance
            WHERE t.gone_at IS NOT NULL AND t.gone_at < :cutoff AND a.updated_at < :cutoff
              AND (a.status IN ('done', 'skipped')
                   OR (a.status = 'failed' AND a.attempts >= :max_attempts))
            LIMIT :batch)""",
    "decisions": """
        DELETE FROM decisions WHERE id IN (
            SELECT d.id FROM decisions d
            WHERE d.at < :cutoff
              AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.decision_id = d.id)
            ORDER BY d.id LIMIT :batch)""",
    "torrents": """
        DELETE FROM torrents WHERE rowid IN (
            SELECT t.rowid FROM torrents t
            WHERE t.gone_at IS NOT NULL AND t.gone_at < :cutoff
              AND NOT EXISTS (
                  SELECT 1 FROM actions a WHERE a.hash = t.hash AND a.instance = t.instance)
            LIMIT :batch)""",
    "crashes": """
        DELETE FROM crashes WHERE id IN (
            SELECT id FROM crashes WHERE at < :cutoff ORDER BY id LIMIT :batch)""",
    "requests": """
        DELETE FROM requests WHERE id IN (
            SELECT id FROM requests WHERE done_at IS NOT NULL AND done_at < :cutoff
            ORDER BY id LIMIT :batch)""",
}
ORDER = ("actions", "decisions", "torrents", "crashes", "requests")  # actions first: they pin


@dataclass
class Pruned:
    """Rows deleted per table; ``done`` when nothing old was left."""

    deleted: dict[str, int] = field(default_factory=dict)
    done: bool = False

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def prune_batch(db: Database, now: float, keep: float, batch: int = BATCH) -> dict[str, int]:
    """One round: up to ``batch`` rows of each table, each table in its own transaction."""
    params = {"cutoff": now - keep, "batch": batch, "max_attempts": MAX_ATTEMPTS}
    deleted = {}
    for table in ORDER:
        with write_txn(db):
            deleted[table] = int(db.execute(_PRUNE[table], params).rowcount or 0)
    return deleted


def prune(
    db: Database,
    now: float,
    keep: float = DEFAULT_KEEP,
    budget: float = 0.5,
    batch: int = BATCH,
    clock: Callable[[], float] = time.monotonic,
) -> Pruned:
    """Prune in rounds until nothing old is left or ``budget`` seconds are used."""
    out = Pruned()
    started = clock()
    while True:
        round_ = prune_batch(db, now, keep, batch)
        for table, count in round_.items():
            out.deleted[table] = out.deleted.get(table, 0) + count
        if all(count < batch for count in round_.values()):
            out.done = True
            return out
        if clock() - started >= budget:
            return out


def free_pages(db: Database) -> int:
    return int(db.execute("PRAGMA freelist_count").fetchone()[0])


def give_back(db: Database, pages: int = VACUUM_PAGES) -> int:
    """Return up to ``pages`` free pages to the filesystem (incremental vacuum); returns how
    many went. A no-op on a file that is not in incremental mode."""
    if db.dialect != "sqlite":
        return 0  # PostgreSQL's autovacuum does this itself
    before = free_pages(db)
    if before <= SLACK_PAGES:
        return 0
    step = min(pages, before - SLACK_PAGES)
    # Each sqlite3_step frees one page and the pragma has no result columns, so Python's
    # execute() would step it once: executescript() steps it to the end.
    db.conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({int(step)}); COMMIT;")
    return before - free_pages(db)


PRUNE_EVERY = 3600.0
STEP_BUDGET = 0.3  # seconds of work per watchdog tick (it must answer supervisord quickly)


@dataclass
class Housekeeper:
    """When to prune and vacuum: a bounded step on each call (the watchdog's ``TICK_5``)
    while there is work, then nothing until ``every`` seconds later."""

    keep: float = DEFAULT_KEEP
    every: float = PRUNE_EVERY
    budget: float = STEP_BUDGET
    next_at: float = 0.0
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def step(self, db: Database) -> tuple[Pruned, int] | None:
        """Prune (and give pages back) if due; returns (pruned, pages freed) or None."""
        now = self.clock()
        if now < self.next_at:
            return None
        pruned = prune(db, now, self.keep, budget=self.budget)
        freed = give_back(db) if pruned.done else 0
        if pruned.done and freed == 0:
            self.next_at = now + self.every  # caught up: nothing until the next hour
        return pruned, freed
