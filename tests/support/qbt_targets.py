"""The two things the qBittorrent contract suite runs against, behind one interface.

`SimTarget` is the simulator started as a real subprocess; `RealTarget` is
qbittorrent-nox started with the project's own launcher (qbarr.qbittorrent.nox). Both
expose the base URL, the credentials, a work directory for payload data, `restart()`
(sessions lost, torrents kept: the real one saves resume data on SIGTERM) and `stop()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qbarr.qbittorrent import QbtClient
from qbarr.qbittorrent.nox import Nox
from qbarr.sim.qbittorrent import SimProcess, spawn

USER, PASSWORD = "qbarr-test", "s3cret-pa55%word"


class Target:
    kind = ""
    url = ""
    username = USER
    password = PASSWORD

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def client(self, **kw: Any) -> QbtClient:
        kw.setdefault("timeout", 10.0)
        return QbtClient(self.url, self.username, self.password, **kw)

    def restart(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class SimTarget(Target):
    kind = "sim"

    def __init__(self, workdir: Path, port: int, *args: str) -> None:
        super().__init__(workdir)
        self.log = workdir / "sim.log"
        self.proc: SimProcess = spawn(
            port,
            "--username",
            USER,
            "--refresh-ms",
            "100",
            "--save-path",
            str(workdir / "downloads"),
            *args,
            log_path=str(self.log),
            env={"QBARR_SIM_QBT_PASSWORD": PASSWORD},
        )
        self.url = self.proc.url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return self.proc.control(method, path, body)

    def restart(self) -> None:
        self.control("POST", "/sim/restart", {})

    def stop(self) -> None:
        self.proc.stop()


class RealTarget(Target):
    """qbittorrent-nox started with the project's launcher (qbarr.qbittorrent.nox)."""

    kind = "real"

    def __init__(self, workdir: Path, port: int, refresh_ms: int = 100) -> None:
        super().__init__(workdir)
        self.port = port
        self.profile = workdir / "qbt-profile"
        self.nox = Nox(self.profile, USER, PASSWORD, port=port, refresh_ms=refresh_ms)
        self.nox.start()
        self.url = self.nox.url
        self.info: dict[str, Any] = self.nox.info()

    @property
    def pid(self) -> int:
        return self.nox.pid

    def restart(self) -> None:
        self.nox.restart()
        self.info = self.nox.info()

    def stop(self) -> None:
        self.nox.stop()
