"""How ``qbarr run`` starts supervisord: exec'd, or in its own session behind a terminal.

supervisord treats SIGHUP as "reload everything" (every program restarts), and a terminal
that closes (the window, ``tmux kill-session``, an SSH disconnect) sends SIGHUP to its
session and makes every later write to it fail. So:

- **No controlling terminal** (systemd, Docker, ``setsid``, the demo) or **PID 1** (a
  container): ``qbarr run`` execs supervisord, which keeps its pid (PID 1 in Docker: it
  reaps orphans and turns SIGTERM into an orderly stop). Nothing can hang up on it.
- **A controlling terminal**: ``qbarr run`` stays in the foreground and starts supervisord
  in a new session (no terminal, so no hang-up reaches it as "reload"). It relays
  supervisord's output to the terminal and turns HUP, INT, TERM and QUIT into one SIGTERM to
  supervisord: closing the terminal or Ctrl-C stops the suite in order, then ``qbarr run``
  exits with supervisord's status. supervisord dies with ``qbarr run`` too (parent-death
  signal), so not even a SIGKILL of ``qbarr run`` leaves the suite running unattended.

Either way supervisord runs as ``qbarr-supervisord`` (:func:`supervisord_main`):
supervisord itself, whose stdout and stderr never raise. supervisord prints a traceback to
its stderr whenever one of its log files cannot be written (a full disk) and dies if that
print fails too (stderr in a file on the same full disk): a :class:`TolerantStream` drops
what cannot be written instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

# qbarr-supervisord imports this module: only what supervisord_main needs is imported at the
# top (subprocess and qbarr.lifeline, with dataclasses and ctypes, cost supervisord ~2 MB).

FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def has_terminal() -> bool:
    """True when this process has a controlling terminal (one that can hang up on it)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def needs_own_session() -> bool:
    """Start supervisord behind us in its own session rather than exec it (module doc)."""
    return os.getpid() != 1 and has_terminal()


def write_all(fd: int, data: bytes) -> bool:
    """Write everything to ``fd``; False (and nothing raised) once it fails (a hung-up tty)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError:
            return False
    return True


def run_in_own_session(argv: Sequence[str], env: dict[str, str], pass_fds: Sequence[int]) -> int:
    """Run ``argv`` (supervisord) in a new session; relay its output; stop it on a signal."""
    import subprocess

    from qbarr import lifeline

    me = os.getpid()

    def in_child() -> None:  # after fork and setsid, before exec
        if not lifeline.die_with_parent(me):
            os._exit(1)

    proc = subprocess.Popen(
        list(argv),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        preexec_fn=in_child,
    )
    stopping: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        if not stopping:
            stopping.append(signum)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    for sig in FORWARDED:
        signal.signal(sig, stop)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background `qbarr run &` may still write
    assert proc.stdout is not None
    source = proc.stdout.fileno()
    while chunk := os.read(source, 65536):
        write_all(sys.stdout.fileno(), chunk)
    code = proc.wait()
    return code if code >= 0 else 128 - code


class TolerantStream(io.TextIOBase):
    """A text stream over another that drops what cannot be written (and never raises)."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        try:
            self.target.write(text)
            self.target.flush()
        except (OSError, ValueError):
            self.dropped += 1
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.target.flush()

    def fileno(self) -> int:
        return int(self.target.fileno())

    def isatty(self) -> bool:
        try:
            return bool(self.target.isatty())
        except (OSError, ValueError):
            return False


def supervisord_main(argv: list[str] | None = None) -> int:
    """``qbarr-supervisord``: supervisord's own main() with never-failing stdout/stderr."""
    sys.stdout = TolerantStream(sys.stdout)
    sys.stderr = TolerantStream(sys.stderr)
    from supervisor.supervisord import main

    main(argv)
    return 0
