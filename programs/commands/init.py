"""`qbarr init`: write a starter config.ini (never overwrites an existing one)."""

from __future__ import annotations

import argparse
import os
import re
import secrets

from qbarr.paths import Home
from qbarr.settings_doc import example_path

NAME = "init"
HELP = "write a starter config.ini into the data dir (with a new web UI token)"
_TOKEN_LINE = re.compile(r"^#\s*Token\s*=\s*$", re.M)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def starter_text(token: str) -> str:
    """config.ini.example with ``[WebUI] Token`` set (the only commented-out Token line)."""
    text = example_path().read_text(encoding="utf-8")
    webui = text.index("[WebUI]")
    match = _TOKEN_LINE.search(text, webui)
    if match is None:  # the example changed shape: append the key to the section instead
        return text.replace("[WebUI]\n", f"[WebUI]\nToken = {token}\n", 1)
    return text[: match.start()] + f"Token = {token}" + text[match.end() :]


def write_starter(home: Home) -> str | None:
    """Create config.ini (mode 0600) unless it exists; returns the new token, or None."""
    home.root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    try:
        fd = os.open(home.config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(starter_text(token))
    return token


def announce(home: Home, token: str) -> None:
    print(f"wrote {home.config}")
    announce_token(token)
    print("next: edit the [qBittorrent] and Arr sections, then `qbarr check` and `qbarr run`")


def announce_token(token: str) -> None:
    print(f"web UI token (shown only now; it is stored in config.ini [WebUI] Token): {token}")


def run(args: argparse.Namespace, home: Home) -> int:
    token = write_starter(home)
    if token is None:
        print(f"qbarr init: {home.config} exists; not overwritten")
        return 1
    announce(home, token)
    return 0
