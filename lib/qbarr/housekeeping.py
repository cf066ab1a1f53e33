"""Pruning where no watchdog runs: ``qbarr run-program`` (one program per container).

Under supervisord the watchdog keeps the database small (:mod:`qbarr.retention`). Under an
orchestrator there is no watchdog, so the Arr managers do it, one at a time: after its
cycle, a manager whose pruning is due takes the lease ``retention`` and runs the same
bounded :class:`~qbarr.retention.Housekeeper` step (a fraction of a second while there is a
backlog, then nothing for an hour); a manager that finds the lease held leaves it to the
holder and asks again an hour later. The lease lasts two pruning intervals and its holder
takes it again each time it prunes, so it stays with one live manager and passes to another
at most two hours after that one is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from qbarr.db import Database
from qbarr.lease import Lease
from qbarr.retention import DEFAULT_KEEP, PRUNE_EVERY, Housekeeper, Pruned

LEASE = "retention"


class SharedHousekeeper:
    """A :class:`Housekeeper` that prunes only while this copy holds the lease ``retention``."""

    def __init__(
        self,
        keep: float = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
        lease: Lease | None = None,
    ) -> None:
        self.housekeeper = Housekeeper(keep=keep, clock=clock)
        self.lease = lease or Lease(LEASE, 2 * PRUNE_EVERY, clock=clock)

    def step(self, db: Database) -> tuple[Pruned, int] | None:
        """Prune if due and ours (returns what :meth:`Housekeeper.step` returns), else None."""
        keeper = self.housekeeper
        now = keeper.clock()
        if now < keeper.next_at:
            return None  # not due: no database access at all
        if self.lease.try_acquire(db) is not None:
            keeper.next_at = now + keeper.every  # another manager prunes
            return None
        return keeper.step(db)
