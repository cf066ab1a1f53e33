"""What every request handler needs: config (re-read when the file changes), a database
connection per thread, supervisord, the session signer, and the secret scrubber."""

from __future__ import annotations

import html
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbarr import config as qconfig
from qbarr import db as qdb
from qbarr.config import MASK, Config, ConfigError
from qbarr.db import Database
from qbarr.paths import Home
from qbarr.webui import auth, queries
from qbarr.webui.supervisor import Supervisor

log = logging.getLogger("qbarr.webui")
MIN_SCRUB_LEN = 4  # shorter "secrets" would mangle ordinary text; they are masked at the source


class WebError(Exception):
    """An error answered as JSON ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.message = message
        self.extra = extra
        super().__init__(message)


@dataclass
class Identity:
    """Who is asking: via the bearer token, a login session, or nobody (yet)."""

    kind: str  # "bearer" | "session" | "anonymous"
    sid: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind in ("bearer", "session")


class Web:
    """Shared state of one web UI process (one per gunicorn worker)."""

    def __init__(self, home: Home, config: Config, supervisor_url: str) -> None:
        self.home = home
        self.supervisor = Supervisor(supervisor_url)
        self.supervisor_url = supervisor_url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._config = config
        # the address this process serves (a later Port edit applies at the next start)
        self.listening = (str(config.webui["Host"]), int(config.webui["Port"]))
        self._stamp = self._file_stamp()
        self._secrets = self._collect_secrets(config)
        self.sessions = auth.Sessions(
            auth.load_session_key(self.db),
            db=lambda: self.db,
            lifetime=lambda: float(self.webui["SessionLifetime"]),
        )
        self.throttle = auth.LoginThrottle()
        self.started_at = time.time()

    # -- config -------------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.home.config)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    @property
    def config(self) -> Config:
        """The current config; re-read (and re-checked) when config.ini changed on disk."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    self._reload()
        return self._config

    def _reload(self) -> None:
        try:
            fresh = qconfig.load(self.home.config, suite=True)
        except ConfigError as exc:
            log.warning(
                "config.ini changed but is not usable; keeping the previous settings: %s",
                self.scrub(str(exc)),
            )
            return
        self._config = fresh
        self._secrets = self._secrets | self._collect_secrets(fresh)

    @staticmethod
    def _collect_secrets(config: Config) -> frozenset[str]:
        found = qconfig.secrets_of(config.data)
        return frozenset(s for s in found if len(s) >= MIN_SCRUB_LEN and s != MASK)

    def remember_secrets(self, values: list[str]) -> None:
        """Add secrets seen in a submitted edit so they are scrubbed from every answer."""
        self._secrets = self._secrets | {v for v in values if len(v) >= MIN_SCRUB_LEN and v != MASK}

    @property
    def webui(self) -> Any:
        return self.config.webui

    @property
    def auth_disabled(self) -> bool:
        return bool(self.webui["AuthDisabled"])

    @property
    def fingerprint(self) -> str:
        return auth.credentials_fingerprint(self.webui)

    @property
    def trusted_proxies(self) -> auth.Networks:
        return auth.parse_networks(self.webui["TrustedProxies"])

    @property
    def host_names(self) -> list[str]:
        """Names the Host header may carry besides IP addresses and localhost."""
        return [str(self.webui["Host"]), *self.webui["AllowedHosts"]]

    # -- database -----------------------------------------------------------------------
    @property
    def db(self) -> Database:
        """This thread's connection (a sqlite3 connection must not be shared by threads)."""
        conn = getattr(self._local, "db", None)
        if conn is None:
            conn = qdb.connect(self.home.database)
            self._local.db = conn
        return conn

    # -- secrets ------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """Replace every known secret (raw, HTML-escaped) in outgoing text with the mask."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
            escaped = html.escape(secret)
            if escaped != secret and escaped in text:
                text = text.replace(escaped, MASK)
        return text

    # -- instances ----------------------------------------------------------------------
    def instance_name(self, name: str) -> str:
        """The canonical instance name for a name, slug or program name; 404 when unknown."""
        for inst in self.config.instances:
            if name in (inst.name, inst.slug, inst.program):
                return inst.name
        known = queries.find_instance(self.db, name)
        if known is None:
            raise WebError(404, f"unknown instance {name!r}")
        return known

    def known_instances(self) -> list[str]:
        """Configured instances, then any other Arr instance the database knows."""
        names = [i.name for i in self.config.instances]
        names += [n for n in queries.instance_names(self.db) if n not in names]
        return names

    @property
    def config_path(self) -> Path:
        return self.home.config
