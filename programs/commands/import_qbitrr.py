"""`qbarr import-qbitrr PATH/config.toml`: write config.ini from a qBitrr config, with a report.

The conversion itself is :mod:`qbarr.qbitrr_import` (pure); here: read the TOML, refuse to
overwrite an existing config.ini (``--force`` keeps it as ``config.ini.bak``), check the
result with qbarr's own validation before it replaces anything, write it with mode 0600
(it holds the API keys and passwords), and print the report, where secrets are masked.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tomllib
from pathlib import Path

from qbarr.config import EX_CONFIG, ConfigError, load, secrets_of
from qbarr.fileio import write_atomic
from qbarr.paths import Home
from qbarr.qbitrr_import import PLACEHOLDER, convert, render
from qbarr.runtime import ScrubbingFormatter

from .common import EX_FAIL
from .init import announce_token

NAME = "import-qbitrr"
HELP = "write config.ini from a qBitrr config.toml and report what was converted"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("toml", metavar="PATH", help="qBitrr's config.toml")
    parser.add_argument(
        "--force", action="store_true", help="replace an existing config.ini (kept as .bak)"
    )


def read_toml(path: Path) -> dict | None:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        print(f"qbarr import-qbitrr: {path}: file not found", file=sys.stderr)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        print(f"qbarr import-qbitrr: {path} is not a readable TOML file: {exc}", file=sys.stderr)
    return None


def _ensure_login(config: dict) -> str | None:
    """A new web UI token when the qBitrr config gave no way to log in (as `qbarr init`)."""
    webui = config.setdefault("WebUI", {})
    if webui.get("Token") or webui.get("Password") or webui.get("AuthDisabled"):
        return None
    webui["Token"] = token = secrets.token_urlsafe(24)
    return token


def run(args: argparse.Namespace, home: Home) -> int:
    data = read_toml(Path(args.toml))
    if data is None:
        return EX_CONFIG
    target = home.config
    if target.exists() and not args.force:
        print(
            f"qbarr import-qbitrr: {target} exists; not overwritten (--force keeps it as "
            f"{target.name}.bak)",
            file=sys.stderr,
        )
        return EX_FAIL
    result = convert(data)
    token = _ensure_login(result.config)
    text = render(result.config)
    home.root.mkdir(parents=True, exist_ok=True)
    check = target.with_name(f".{target.name}.check")
    write_atomic(check, text)  # mode 0600: it may hold secrets
    try:
        cfg = load(check, env={}, suite=True)
    except ConfigError as exc:
        print("qbarr import-qbitrr: the converted file is not valid:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        check.unlink()
        return EX_CONFIG
    if target.exists():
        backup = target.with_name(target.name + ".bak")
        os.replace(target, backup)
        print(f"kept the previous {target.name} as {backup}")
    os.replace(check, target)
    scrub = ScrubbingFormatter("qbarr")
    # placeholders such as CHANGE_ME are not secrets: masking them would hide the host line
    scrub.set_secrets([v for v in secrets_of(cfg.data) if v != PLACEHOLDER and len(v) >= 4])
    print(scrub.scrub(result.report()))
    names = ", ".join(i.name for i in cfg.instances) or "no Arr instance"
    print(f"wrote {target} (mode 0600): {names}")
    if token is not None:
        announce_token(token)
    print("next: `qbarr check` (it also logs in to qBittorrent and each Arr), then `qbarr run`")
    return 0
