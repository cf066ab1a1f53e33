"""CPU niceness of a qbarr program: ``[Settings] Nice``, or an Arr section's own ``Nice``.

Each program applies its level when it loads config.ini (at start, and again after a reload).
On Linux the nice value belongs to each thread, and a new thread takes its creator's: so every
thread the process already has is set (``/proc/self/task``), not only the calling one, and the
threads started later inherit it. Raising the value needs no privilege; lowering it does
(``CAP_SYS_NICE``): without it the program keeps its current level and says so, and a restart
(which starts from supervisord's level) applies the lower one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("qbarr.niceness")
INHERIT = -1  # an Arr section's Nice = -1: use [Settings] Nice


def wanted(cfg: Any, instance: Any = None) -> int:
    """The level for a program: its instance's ``Nice`` when set, else ``[Settings] Nice``."""
    if instance is not None:
        own = int(instance.section.get("Nice", INHERIT))
        if own != INHERIT:
            return own
    return int(cfg.settings.get("Nice", 0))


def current() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def apply(level: int) -> bool:
    """Set every thread of this process to ``level``; False when it could not (logged)."""
    if current() == level and _threads_at(level):
        return True
    try:
        for tid in _threads():
            try:
                os.setpriority(os.PRIO_PROCESS, tid, level)
            except ProcessLookupError:  # the thread ended meanwhile
                continue
    except PermissionError:
        log.warning(
            "cannot lower the CPU niceness from %d to %d without privilege (CAP_SYS_NICE); "
            "it applies at the program's next start",
            current(),
            level,
        )
        return False
    log.info("CPU niceness %d", level)
    return True


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:  # no /proc: this thread only (new threads inherit it)
        return [0]


def _threads_at(level: int) -> bool:
    for tid in _threads():
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) != level:
                return False
        except OSError:
            continue
    return True


def of_thread(pid: int, tid: int) -> int:
    """The nice value of one thread of a process, from /proc (field 19 of ``stat``)."""
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])
