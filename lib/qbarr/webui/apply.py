"""Applying a saved config.ini to the running suite.

1. Re-render the program sections and let supervisord pick them up, under the lock
   ``qbarr render`` takes too (``qbarr.supervision.render_and_update``): added groups start,
   removed ones stop, a changed group (an Arr section added or removed) restarts as a whole.
2. Every manager (and search program) whose settings changed but that kept running gets
   SIGHUP through supervisord, so it re-reads config.ini without a restart. A change in
   ``[Settings]`` or ``[qBittorrent]`` concerns them all; a ``[qBittorrent-<name>]`` concerns
   the instances of that qBittorrent.
3. ``[WebUI]`` auth settings apply at once (the web UI re-reads config.ini when it
   changes); Host, Port and Threads need a restart of the webui program.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from qbarr.config import Config
from qbarr.paths import Home
from qbarr.webui.supervisor import Supervisor, SupervisorError

log = logging.getLogger("qbarr.webui")
GLOBAL_SECTIONS = ("Settings", "qBittorrent")
RESTART_KEYS = ("Host", "Port", "Threads")
APPLY_WAIT = 60.0  # a request thread waits this long for a running `qbarr render`


def changed_sections(old: Config | None, new: Config) -> set[str]:
    """Top-level sections whose typed values differ (every section when ``old`` is None)."""
    new_names = set(new.data.keys())
    if old is None:
        return new_names
    names = new_names | set(old.data.keys())
    return {n for n in names if _plain(old.data.get(n)) != _plain(new.data.get(n))}


def _plain(value: Any) -> Any:
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


def programs_to_hup(old: Config | None, new: Config) -> set[str]:
    """Bare program names (``arr-x``, ``search-x``) that should re-read their settings."""
    changed = changed_sections(old, new)
    everyone = bool(changed & set(GLOBAL_SECTIONS))
    names = {"notify"} if "Notifications" in changed or "Settings" in changed else set()
    for inst in new.instances:
        if everyone or inst.name in changed or inst.client in changed:
            names.add(inst.program)
            names.add(f"search-{inst.slug}")
    return names


def apply(home: Home, supervisor_url: str, old: Config | None, new: Config) -> dict[str, Any]:
    """Render, update supervisord, HUP the managers whose settings changed. Never raises:
    the result lists what was done and what failed (the file is already saved)."""
    began = time.time()
    result: dict[str, Any] = {
        "rendered": False,
        "update": [],
        "signalled": [],
        "errors": [],
        "notes": [],
    }
    restarted = _render_and_update(home, supervisor_url, new, result)
    sup = Supervisor(supervisor_url)
    try:
        infos = sup.processes()
    except SupervisorError as exc:
        result["errors"].append(str(exc))
        return result
    wanted = programs_to_hup(old, new)
    for info in infos:
        if (
            info["name"] not in wanted
            or info["fullname"] in restarted
            or f"{info['group']}:*" in restarted
        ):
            continue
        if info.get("statename") != "RUNNING" or (info.get("start") or 0) >= began:
            continue  # (re)started by the update: it read the new file already
        try:
            sup.signal(info["fullname"], "HUP")
            result["signalled"].append(info["fullname"])
        except SupervisorError as exc:
            result["errors"].append(f"{info['fullname']}: {exc}")
    if old is not None and any(old.webui.get(k) != new.webui.get(k) for k in RESTART_KEYS):
        result["notes"].append(
            "[WebUI] Host/Port/Threads take effect when the webui program restarts"
        )
    return result


def _render_and_update(home: Home, url: str, new: Config, result: dict[str, Any]) -> set[str]:
    """``qbarr render``'s own render + update, under the same lock (it waits for a running
    ``qbarr render``, and the other way round)."""
    from qbarr import locks, supervision
    from qbarr.render import RenderError

    try:
        applied = supervision.render_and_update(home, new, url=url, wait=APPLY_WAIT)
    except (RenderError, locks.LockHeld) as exc:
        result["errors"].append(f"render failed: {exc}")
        return set()
    result["rendered"] = True
    result["notes"] += [f"rewrote programs.d/{path.name}" for path in applied.written]
    if applied.error is not None:
        result["errors"].append(f"supervisord update failed: {applied.error}")
        return set()
    if not applied.running or applied.update is None:
        result["errors"].append("supervisord is not running: the files apply at its next start")
        return set()
    outcome = applied.update
    result["update"] = outcome.lines()
    restarted = set(outcome.started) | set(outcome.stopped)
    restarted |= {f"{g}:*" for g in outcome.whole_groups}
    return restarted
