"""Where qbarr keeps its files: the data dir and what lives in it.

The data dir comes from ``--home DIR``, else ``$QBARR_HOME``, else ``/config`` when that
directory exists (the Docker image), else ``~/.config/qbarr``. It holds config.ini, the
database, ``programs.d/`` (rendered supervisord sections), ``logs/`` and the control socket.

All of it is private to its owner: every program and ``qbarr run`` call :func:`private_umask`
first (files 0600, directories 0700), and :meth:`Home.ensure` tightens what an older
version left readable.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

PRIVATE_UMASK = 0o077
DEBUG_DIR = "debug"


def private_umask() -> None:
    """Make what this process creates readable by its owner only (config.ini, the database
    and its WAL/SHM, logs): one call at the start of every program and of `qbarr run`."""
    os.umask(PRIVATE_UMASK)


@dataclass(frozen=True)
class Home:
    """The data dir and the fixed names inside it."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.ini"

    @property
    def database(self) -> Path:
        return self.root / "qbarr.db"

    @property
    def programs_dir(self) -> Path:
        return self.root / "programs.d"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisor_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    def ensure(self) -> None:
        """Create the data dir and its sub-directories, private (they hold secrets); files
        an older version left readable by others are made private too."""
        for path in (self.root, self.programs_dir, self.logs, self.run):
            path.mkdir(parents=True, exist_ok=True)
            _restrict(path, 0o700)
        for directory in (self.root, self.programs_dir, self.logs):
            for child in directory.iterdir():
                if child.is_file() and not child.is_symlink():
                    _restrict(child, 0o600)


def _restrict(path: Path, private: int) -> None:
    """Drop group/other permissions (only when there are any: no needless chmod)."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(current & private)


def resolve_home(
    arg: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> Home:
    """Pick the data dir: argument, then ``$QBARR_HOME``, then ``/config``, then
    ``~/.config/qbarr``."""
    env = dict(os.environ) if env is None else env
    if arg:
        return Home(Path(arg).expanduser().resolve())
    if env.get("QBARR_HOME"):
        return Home(Path(env["QBARR_HOME"]).expanduser().resolve())
    if Path("/config").is_dir():
        return Home(Path("/config"))
    return Home(Path("~/.config/qbarr").expanduser().resolve())


def debug_trigger(home: Home, what: str, slug: str) -> bool:
    """True when ``<data dir>/debug/<what>-<slug>`` exists (qbarr.runtime's debug triggers;
    here, so that a program can look before its heavy imports)."""
    return (home.root / DEBUG_DIR / f"{what}-{slug}").exists()
