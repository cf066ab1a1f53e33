"""Helpers shared by the subcommands: config loading with clear errors, the scripts dir."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from qbarr.config import EX_CONFIG, Config, ConfigError, load, secrets_of
from qbarr.runtime import ScrubbingFormatter

EX_FAIL = 1


def load_or_report(path: Path, prog: str) -> Config | None:
    """config.load() with the suite's checks (the same the web UI's editor applies), printing
    every problem to stderr on failure (caller exits 78)."""
    try:
        return load(path, suite=True)
    except ConfigError as exc:
        print(f"{prog}: {path} is not usable ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return None


def scrubber(cfg: Config) -> ScrubbingFormatter:
    """Something with ``.scrub(text)`` that masks every secret of this config."""
    fmt = ScrubbingFormatter("qbarr")
    fmt.set_secrets(secrets_of(cfg.data))
    return fmt


def scripts_dir() -> Path | None:
    """The directory holding qbarr's console scripts (and supervisord), if we can tell."""
    candidates = [Path(sys.executable).parent, Path(sys.argv[0]).resolve().parent]
    for cand in candidates:
        if (cand / "qbarr-arr").exists():
            return cand
    return None


def find_tool(name: str) -> str | None:
    """supervisord / supervisorctl from our own environment first, then from PATH."""
    here = scripts_dir()
    if here is not None and (here / name).exists():
        return str(here / name)
    return shutil.which(name)


__all__ = ["EX_CONFIG", "EX_FAIL", "load_or_report", "scrubber", "scripts_dir", "find_tool"]
