"""Where qbarr keeps its files: the data dir and what lives in it.

The data dir comes from ``--home DIR``, else ``$QBARR_HOME``, else ``/config`` when that
directory exists (the Docker image), else ``~/.config/qbarr``. It holds config.ini, the
database, ``programs.d/`` (rendered supervisord sections), ``logs/`` and the control socket.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
        """Create the data dir and its sub-directories (private: they hold secrets)."""
        for path in (self.root, self.programs_dir, self.logs, self.run):
            path.mkdir(parents=True, exist_ok=True)
        self.run.chmod(0o700)


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
