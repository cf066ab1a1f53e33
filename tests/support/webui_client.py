"""In-process clients for the web UI's bottle app (httpx over WSGI: no socket, no thread)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from qbarr import config as qconfig
from qbarr.paths import Home
from qbarr.webui.app import make_app
from tests.support import webui_seed as seedmod

BEARER = {"Authorization": f"Bearer {seedmod.TOKEN}"}


def build(
    root: Path, supervisor_url: str | None = None, seed: bool = True, **cfg: Any
) -> tuple[Any, Home]:
    home = seedmod.make_home(root, **cfg)
    if seed:
        seedmod.seed(home)
    config = qconfig.load(home.config)
    app = make_app(home, config, supervisor_url or f"unix://{root}/run/nothing.sock")
    return app, home


def client(app: Any) -> httpx.Client:
    return httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://127.0.0.1:6969",
        follow_redirects=False,
    )


def login(c: httpx.Client, password: str = seedmod.LOGIN_PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"password": password, "csrf": token, "next": "/"})
    assert r.status_code == 303, r.text
    return str(c.get("/api/session").json()["csrf"])
