"""Rendering config.ini's Arr sections into supervisord program sections.

``qbarr render`` (and ``qbarr run`` before it execs supervisord) writes two files into
``<data dir>/programs.d/``, which the static supervisord.conf includes:

- ``arr.conf``: one ``[program:arr-<slug>]`` per managed Arr section, all in ``[group:arr]``
  (one group so that supervisord stops every manager at once on shutdown);
- ``search.conf``: one ``[program:search-<slug>]`` per instance whose ``[[Search]]`` is
  enabled, in ``[group:search]``;
- ``notify.conf``: ``[program:notify]`` (``qbarr-notify``, which sends the notifications)
  when ``[Notifications] URLs`` lists at least one URL, in ``[group:notify]``; the URLs stay
  in config.ini.

Rules the output keeps (tested in tests/unit/test_render.py):

- program names are ``arr-`` + the slug (``[a-z0-9._-]`` only: never a space, ``:`` or
  ``/``, which supervisord forbids);
- every ``%`` is written ``%%`` (supervisord expands ``%(name)s`` in values);
- no secret on a command line or in an ``environment=`` entry (both are readable by other
  users: ``ps``, ``/proc/<pid>/environ``, ``getAllConfigInfo``): programs read API keys
  and passwords from config.ini themselves;
- the write is atomic (:func:`qbarr.fileio.write_atomic`: a uniquely named temp file,
  which the ``*.conf`` include glob does not match, then ``os.replace``), and a file is only
  rewritten when its text changes.

A group with no program is not written at all (supervisord rejects an empty group).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qbarr import fileio
from qbarr.config import Config, Instance
from qbarr.paths import Home

ARR_FILE = "arr.conf"
SEARCH_FILE = "search.conf"
NOTIFY_FILE = "notify.conf"
NOTIFY_GROUP = "notify"
NOTIFY_PRIORITY = 400
ARR_GROUP = "arr"
SEARCH_GROUP = "search"
ARR_PRIORITY = 200
SEARCH_PRIORITY = 300

# Program settings (docs/architecture.md "Process model"). STARTSECS is never 0: a program
# that crashes at once would never reach FATAL.
STARTSECS = 2
STARTRETRIES = 3
STOPWAITSECS = 15  # well below Docker's/systemd's stop grace (40 s in our examples)
LOG_MAXBYTES = "10MB"
LOG_BACKUPS = 5

_SAFE_ARG = re.compile(r"^[A-Za-z0-9._+@=,-]+$")


class RenderError(Exception):
    """The data dir or an instance cannot be expressed safely in a supervisord file."""


@dataclass(frozen=True)
class Program:
    """One rendered ``[program:x]``."""

    name: str
    group: str
    argv: tuple[str, ...]
    priority: int


def escape(value: str) -> str:
    """Escape a value for supervisord: ``%`` becomes ``%%``."""
    return value.replace("%", "%%")


def command_line(argv: Iterable[str]) -> str:
    """A shell-quoted command line, safe for supervisord's shlex and ``%`` expansion.

    supervisord strips inline comments (`` ;`` and `` #``) from values before it splits the
    command, so an argument containing whitespace is refused rather than risked.
    """
    parts = []
    for arg in argv:
        if any(ch.isspace() for ch in arg) or "\x00" in arg:
            raise RenderError(f"cannot put {arg!r} on a supervisord command line (whitespace)")
        parts.append(arg if _SAFE_ARG.match(arg) else shlex.quote(arg))
    return escape(" ".join(parts))


def instance_arg(instance: Instance) -> str:
    """The ``--instance`` value: the section name, or the slug when the name has whitespace."""
    name = instance.name
    return instance.slug if any(ch.isspace() for ch in name) else name


def arr_programs(config: Config) -> list[Program]:
    return [
        Program(
            name=inst.program,
            group=ARR_GROUP,
            argv=("qbarr-arr", "--instance", instance_arg(inst)),
            priority=ARR_PRIORITY,
        )
        for inst in config.instances
    ]


def search_programs(config: Config) -> list[Program]:
    return [
        Program(
            name=f"search-{inst.slug}",
            group=SEARCH_GROUP,
            argv=("qbarr-search", "--instance", instance_arg(inst)),
            priority=SEARCH_PRIORITY,
        )
        for inst in config.instances
        if inst.search_enabled
    ]


def notify_programs(config: Config) -> list[Program]:
    if not config.data["Notifications"]["URLs"]:
        return []
    return [Program("notify", NOTIFY_GROUP, ("qbarr-notify",), NOTIFY_PRIORITY)]


def program_section(program: Program, home: Home) -> str:
    """The ``[program:x]`` text for one program."""
    log = escape(str(home.logs / f"{program.name}.log"))
    lines = [
        f"[program:{program.name}]",
        f"command = {command_line(program.argv)}",
        f"directory = {escape(str(home.root))}",
        f"priority = {program.priority}",
        "autostart = true",
        "autorestart = unexpected",
        "exitcodes = 0",
        f"startsecs = {STARTSECS}",
        f"startretries = {STARTRETRIES}",
        "stopsignal = TERM",
        f"stopwaitsecs = {STOPWAITSECS}",
        "stopasgroup = true",
        "killasgroup = true",
        'environment = PYTHONUNBUFFERED="1"',
        "redirect_stderr = true",
        f"stdout_logfile = {log}",
        f"stdout_logfile_maxbytes = {LOG_MAXBYTES}",
        f"stdout_logfile_backups = {LOG_BACKUPS}",
    ]
    return "\n".join(lines) + "\n"


def render_group(
    group: str, priority: int, programs: list[Program], home: Home, config: Config
) -> str:
    """A whole include file: header, one section per program, the group section."""
    header = (
        f"; Generated by `qbarr render` from {escape(str(config.path))}.\n"
        "; Do not edit: the next render overwrites it. Edit config.ini instead.\n"
    )
    if not programs:
        return header + f"; No program in group {group}.\n"
    body = "\n".join(program_section(p, home) for p in programs)
    names = ",".join(p.name for p in programs)
    return f"{header}\n{body}\n[group:{group}]\nprograms = {names}\npriority = {priority}\n"


def render_all(config: Config, home: Home) -> dict[str, str]:
    """File name (in programs.d) -> text, for every file qbarr owns there."""
    check_home(home)
    return {
        ARR_FILE: render_group(ARR_GROUP, ARR_PRIORITY, arr_programs(config), home, config),
        SEARCH_FILE: render_group(
            SEARCH_GROUP, SEARCH_PRIORITY, search_programs(config), home, config
        ),
        NOTIFY_FILE: render_group(
            NOTIFY_GROUP, NOTIFY_PRIORITY, notify_programs(config), home, config
        ),
    }


def check_home(home: Home) -> None:
    """The data dir must fit supervisord's syntax and the unix socket path limit."""
    text = str(home.root)
    bad = [ch for ch in ('"', "'", ",", "\n") if ch in text] + [
        ch for ch in (" ;", " #", "\t") if ch in text
    ]
    if bad:
        raise RenderError(f"data dir {text!r}: supervisord cannot use a path containing {bad[0]!r}")
    if "%" in text:
        raise RenderError(f"data dir {text!r}: supervisord cannot use a path containing '%'")
    if len(str(home.socket).encode()) > 100:
        raise RenderError(
            f"data dir {text!r} is too long: the control socket path {home.socket} exceeds "
            "the 100-byte limit of unix sockets; use a shorter --home"
        )


def write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically (:mod:`qbarr.fileio`); False if unchanged."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    fileio.write_atomic(path, text)
    return True


def write_programs(config: Config, home: Home) -> list[Path]:
    """Render and write programs.d; returns the files that changed."""
    home.programs_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in render_all(config, home).items():
        path = home.programs_dir / name
        if write_atomic(path, text):
            changed.append(path)
    return changed


def packaged_supervisord_conf() -> str:
    """The static supervisord.conf shipped in the package."""
    from importlib import resources

    return (resources.files("qbarr") / "supervisord.conf").read_text(encoding="utf-8")


def install_supervisord_conf(home: Home) -> bool:
    """Put the packaged supervisord.conf into the data dir (only rewritten when it differs)."""
    return write_atomic(home.supervisord_conf, packaged_supervisord_conf())
