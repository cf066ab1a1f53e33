"""A throwaway PostgreSQL cluster for the tests: ``initdb`` + ``pg_ctl`` on a unix socket.

Debian's ``postgresql`` package puts the server programs in ``/usr/lib/postgresql/<N>/bin``
(``.ci/run`` installs it). The cluster lives in a temp dir, listens on no TCP port (only a
socket in that dir), trusts local connections, and is stopped (``pg_ctl stop -m fast``, then
SIGKILL by pid if it must) and deleted at the end. initdb refuses to run as root: as root the
server runs as the ``postgres`` user the package created.

    cluster = PgCluster.start()
    url = cluster.create_database("t1")      # postgresql:///t1?host=/tmp/...&user=qbarr
    ...
    cluster.stop()
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "qbarr"
START_TIMEOUT = 60


def bindir() -> Path:
    """The newest installed server's bin dir."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)"
        )
    return found[-1].parent


def _as_server_user() -> list[str]:
    """initdb and postgres refuse root: run them as the package's ``postgres`` user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PgCluster:
    root: Path
    bin: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    listen: str = ""
    port: int = 5432

    @classmethod
    def start(cls, listen: str = "", port: int = 5432, trust: tuple[str, ...] = ()) -> PgCluster:
        """A new cluster; ``listen``: TCP addresses besides the socket (none by default),
        ``trust``: networks (CIDR) whose TCP connections are let in without a password."""
        root = Path(tempfile.mkdtemp(prefix="qbpg-", dir="/tmp"))
        cluster = cls(root, bindir(), listen, port)
        try:
            cluster._init_and_start(trust)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _init_and_start(self, trust: tuple[str, ...]) -> None:
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o755)
            for path in (self.root, self.socket_dir):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        run = _as_server_user()
        subprocess.run(
            [*run, str(self.bin / "initdb"), "-D", str(self.data), "-U", USER]
            + ["--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )
        with (self.data / "pg_hba.conf").open("a") as hba:
            for network in trust:
                hba.write(f"host all all {network} trust\n")
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after :meth:`halt`)."""
        options = (
            f"-k {self.socket_dir} -c listen_addresses='{self.listen}' -p {self.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        subprocess.run(
            [*_as_server_user(), str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options]
            + ["-l", str(self.root / "server.log"), "-w", "-t", str(START_TIMEOUT), "start"],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT + 10,
        )

    def halt(self) -> None:
        """Stop the server, keeping the cluster (a database server that went away)."""
        subprocess.run(
            [*_as_server_user(), str(self.bin / "pg_ctl"), "-D", str(self.data)]
            + ["-m", "fast", "-w", "-t", "30", "stop"],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def url(self, database: str = "postgres", host: str = "") -> str:
        """The socket by default; ``host``: one of the ``listen`` addresses (TCP)."""
        if host:
            return f"postgresql://{USER}@{host}:{self.port}/{database}"
        return f"postgresql:///{database}?host={self.socket_dir}&port={self.port}&user={USER}"

    def create_database(self, name: str, template: str = "") -> str:
        """A new database, empty or a copy of ``template``; returns its URL."""
        import psycopg

        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection a test left open to it."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (fast, then by pid) and delete the cluster."""
        if (self.data / "postmaster.pid").exists():
            pid = self.pid()
            result = subprocess.run(
                [*_as_server_user(), str(self.bin / "pg_ctl"), "-D", str(self.data)]
                + ["-m", "fast", "-w", "-t", "30", "stop"],
                capture_output=True,
                timeout=60,
            )
            if result.returncode != 0 and pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
