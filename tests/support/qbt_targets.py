"""The two things the qBittorrent contract suite runs against, behind one interface.

`SimTarget` is the simulator started as a real subprocess; `RealTarget` is
qbittorrent-nox started with shared/tools/qbt-server. Both expose the base URL,
the credentials, a work directory for payload data, `restart()` (sessions lost,
torrents kept: the real one saves resume data on SIGTERM) and `stop()`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from qbarr.qbittorrent import QbtClient
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
    kind = "real"

    def __init__(self, workdir: Path, port: int, tools: Path) -> None:
        super().__init__(workdir)
        self.tools, self.port = tools, port
        self.profile = workdir / "qbt-profile"
        self.env = {**os.environ, "QBT_REFRESH_INTERVAL": "100"}
        self.info: dict[str, Any] = {}
        self._start()

    def _server(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(self.tools / "qbt-server"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def _start(self) -> None:
        done = self._server("start", str(self.profile), str(self.port), USER, PASSWORD)
        if done.returncode != 0:
            raise RuntimeError(f"qbt-server start failed: {done.stderr[-2000:]}")
        self.url = done.stdout.strip()
        self.info = json.loads((self.profile / "qbt.json").read_text())

    @property
    def pid(self) -> int:
        return int(self.info.get("pid", 0))

    def restart(self) -> None:
        self.stop()
        self._start()

    def stop(self) -> None:
        if (self.profile / "qbt.pid").exists():
            self._server("stop", str(self.profile))
