"""Dropping root in the container: PUID/PGID honoured by ``qbarr run``.

The Docker image starts ``qbarr run`` as root so that it can give the data dir to the
user the operator asked for (``PUID``/``PGID``, default 1000:1000), then drops to that user
*before* it execs supervisord. supervisord and every program therefore run unprivileged,
and supervisord is still PID 1 after the exec. Outside a container (not root, or no
PUID set) nothing happens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def wanted_ids(env: Mapping[str, str]) -> tuple[int, int] | None:
    """The (uid, gid) to drop to, or None when no drop is asked for.

    Raises:
        ValueError: PUID/PGID are not numbers (named in the message).
    """
    if "PUID" not in env and "PGID" not in env:
        return None
    try:
        uid = int(env.get("PUID", "1000"))
        gid = int(env.get("PGID", str(uid)))
    except ValueError:
        raise ValueError(
            f"PUID={env.get('PUID')!r} / PGID={env.get('PGID')!r}: "
            "expected numeric user and group ids"
        ) from None
    return uid, gid


def chown_tree(root: Path, uid: int, gid: int) -> int:
    """Give every file under ``root`` to uid:gid (only those that differ); returns the count."""
    changed = 0
    for path in [root, *root.rglob("*")]:
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.lchown(path, uid, gid)
            changed += 1
    return changed


def drop_to(uid: int, gid: int, home: Path) -> None:
    """Own the data dir as uid:gid and switch this process to that user for good."""
    chown_tree(home, uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    os.environ["HOME"] = str(home)
    os.environ.setdefault("USER", str(uid))


def maybe_drop(home: Path, env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """Drop to PUID/PGID when running as root and asked to; returns the ids used, if any."""
    env = os.environ if env is None else env
    ids = wanted_ids(env)
    if ids is None or os.geteuid() != 0 or ids == (0, 0):
        return None
    drop_to(ids[0], ids[1], home)
    return ids
