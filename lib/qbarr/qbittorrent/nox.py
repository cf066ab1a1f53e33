"""Start and stop a loopback-only ``qbittorrent-nox`` (Debian package ``qbittorrent-nox``).

The one launcher of a real qBittorrent in this project: ``qbarr demo --real-qbittorrent``
writes its profile with :func:`write_profile` (supervisord then runs the binary), and the
tests and benchmarks start throwaway instances with :class:`Nox`.

A profile written here binds the WebUI and the BitTorrent port to 127.0.0.1 and turns off
everything that would reach outside the machine (DHT, PeX, LSD, UPnP/NAT-PMP, peer-country
look-ups, search, DynDNS). Keys already in an existing ``qBittorrent.conf`` that this module
does not manage are kept, so a profile can be restarted with its torrents.

Provenance: written for this project from the behaviour of the ``qbt-server`` test tool
that came with the project's reference material (same settings, same password hashing:
``WebUI\\Password_PBKDF2`` = ``@ByteArray(<b64 salt>:<b64 key>)``, PBKDF2-HMAC-SHA512,
100,000 iterations, 16-byte salt, 64-byte key; checked against qbittorrent-nox 4.5.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qbarr.fileio import write_atomic

CONF_RELATIVE = Path("qBittorrent") / "config" / "qBittorrent.conf"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


class NoxError(RuntimeError):
    """qbittorrent-nox is missing, did not start, or did not answer in time."""


def binary() -> str | None:
    """The qbittorrent-nox executable on PATH (``$QBT_NOX`` overrides), or None."""
    return os.environ.get("QBT_NOX") or shutil.which("qbittorrent-nox")


def password_hash(password: str, salt: bytes | None = None) -> str:
    """The value qBittorrent keeps in ``WebUI\\Password_PBKDF2``."""
    salt = salt or os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, dklen=64)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text and all(ch.isalnum() or ch in "/._-" for ch in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _update_ini(path: Path, managed: dict[str, dict[str, Any]]) -> None:
    """Set ``managed`` keys in a QSettings INI file, keeping every other line (atomic)."""
    blocks: list[tuple[str, list[str]]] = [("", [])]
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                blocks.append((stripped[1:-1], []))
            else:
                blocks[-1][1].append(line)
    todo = {section: dict(keys) for section, keys in managed.items()}
    out: list[str] = []
    for section, body in blocks:
        wanted = todo.pop(section, {})
        kept = []
        for line in body:
            key = line.split("=", 1)[0].strip() if "=" in line else None
            if key in wanted:
                kept.append(f"{key}={_ini_value(wanted.pop(key))}")
            elif line.strip():
                kept.append(line)
        kept += [f"{k}={_ini_value(v)}" for k, v in wanted.items()]
        if section:
            out.append(f"[{section}]")
        out += [*kept, ""] if section or kept else []
    for section, keys in todo.items():
        out += [f"[{section}]", *(f"{k}={_ini_value(v)}" for k, v in keys.items()), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "\n".join(out).strip("\n") + "\n")  # 0600: it holds the password hash


def write_profile(
    profile: Path,
    webui_port: int,
    username: str,
    password: str,
    *,
    torrent_port: int | None = None,
    save_path: Path | None = None,
    refresh_ms: int | None = None,
    max_auth_fail: int = 0,
) -> Path:
    """Write (or update) a loopback-only profile; returns the path of qBittorrent.conf."""
    save = save_path or profile / "downloads"
    save.mkdir(parents=True, exist_ok=True)
    bittorrent: dict[str, Any] = {
        "Session\\DHTEnabled": False,
        "Session\\PeXEnabled": False,
        "Session\\LSDEnabled": False,
        "Session\\AddTrackersEnabled": False,
        "Session\\Port": torrent_port or free_port(),
        "Session\\Interface": "lo",
        "Session\\InterfaceName": "lo",
        "Session\\InterfaceAddress": "127.0.0.1",
        "Session\\DefaultSavePath": str(save),
        "Session\\TempPathEnabled": False,
        "Session\\QueueingSystemEnabled": False,
    }
    if refresh_ms:
        bittorrent["Session\\RefreshInterval"] = int(refresh_ms)
    conf = profile / CONF_RELATIVE
    _update_ini(
        conf,
        {
            "LegalNotice": {"Accepted": True},
            "Network": {"PortForwardingEnabled": False},
            "BitTorrent": bittorrent,
            "Preferences": {
                "General\\Locale": "en",
                "WebUI\\Enabled": True,
                "WebUI\\Address": "127.0.0.1",
                "WebUI\\Port": webui_port,
                "WebUI\\Username": username,
                "WebUI\\Password_PBKDF2": password_hash(password),
                "WebUI\\LocalHostAuth": True,
                "WebUI\\UseUPnP": False,
                "WebUI\\MaxAuthenticationFailCount": max_auth_fail,
                "Connection\\ResolvePeerCountries": False,
                "Connection\\ResolvePeerHostNames": False,
                "Search\\SearchEnabled": False,
                "DynDNS\\Enabled": False,
            },
        },
    )
    return conf


def command(profile: Path, webui_port: int) -> list[str]:
    """The argv that runs qbittorrent-nox on ``profile`` (raises NoxError when not installed)."""
    exe = binary()
    if exe is None:
        raise NoxError("qbittorrent-nox is not installed (Debian: apt-get install qbittorrent-nox)")
    return [exe, f"--profile={profile}", f"--webui-port={webui_port}"]


def answers(url: str, username: str, password: str, timeout: float = 2.0) -> str | None:
    """The version string when ``url`` accepts the login and answers app/version, else None."""
    try:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            login = client.post(
                "/api/v2/auth/login",
                data={"username": username, "password": password},
                headers={"Referer": url},
            )
            if login.status_code not in (200, 204) or login.text.strip() == "Fails.":
                return None
            version = client.get("/api/v2/app/version")
            return version.text.strip() if version.status_code == 200 else None
    except httpx.HTTPError:
        return None


@dataclass
class Nox:
    """One throwaway qbittorrent-nox on 127.0.0.1, started by :meth:`start`, stopped by pid.

    Output goes to ``<profile>/qbt.log``; the process runs in its own session so that a
    test runner's Ctrl-C does not reach it, and :meth:`stop` ends it (SIGTERM, then SIGKILL).
    """

    profile: Path
    username: str = "admin"
    password: str = "adminadmin"
    port: int = field(default_factory=free_port)
    refresh_ms: int | None = None
    save_path: Path | None = None
    torrent_port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    @property
    def log_path(self) -> Path:
        return self.profile / "qbt.log"

    def start(self, timeout: float = START_TIMEOUT_S) -> Nox:
        """Write the profile, spawn qbittorrent-nox and wait until the WebUI accepts a login."""
        self.profile.mkdir(parents=True, exist_ok=True)
        self.torrent_port = self.torrent_port or free_port()  # kept across restarts
        write_profile(
            self.profile,
            self.port,
            self.username,
            self.password,
            torrent_port=self.torrent_port,
            save_path=self.save_path,
            refresh_ms=self.refresh_ms,
        )
        argv = command(self.profile, self.port)
        env = {**os.environ, "HOME": str(self.profile)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NoxError(
                    f"qbittorrent-nox exited with {self.proc.returncode}: {self._log_tail()}"
                )
            found = answers(self.url, self.username, self.password, timeout=1.0)
            if found:
                self.version = found
                (self.profile / "qbt.json").write_text(json.dumps(self.info(), indent=2))
                return self
            time.sleep(0.1)
        self.stop()
        raise NoxError(
            f"qbittorrent-nox did not answer on {self.url} within {timeout:.0f}s: "
            f"{self._log_tail()}"
        )

    def info(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "base_url": self.url,
            "webui_port": self.port,
            "torrenting_port": self.torrent_port,
            "version": self.version,
            "save_path": str(self.save_path or self.profile / "downloads"),
        }

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (qBittorrent saves its resume data), SIGKILL after ``timeout``; idempotent."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Stop and start again on the same profile and ports (sessions lost, torrents kept)."""
        self.stop()
        self.start()

    def _log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Nox:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
