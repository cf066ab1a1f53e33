"""Every command answers --help, and `qbarr --version` names the version (issue 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qbarr import __version__
from qbarr_programs.commands import COMMANDS

BIN = Path(sys.executable).parent
PROGRAMS = [
    "qbarr-arr",
    "qbarr-search",
    "qbarr-webui",
    "qbarr-watchdog",
    "qbarr-sim-qbittorrent",
    "qbarr-sim-arr",
]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*argv], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", COMMANDS, ids=lambda m: m.NAME)
def test_every_qbarr_subcommand_has_help(module) -> None:
    result = run(sys.executable, "-m", "qbarr_programs.cli", module.NAME, "--help")
    assert result.returncode == 0, result.stderr
    assert f"qbarr {module.NAME}" in result.stdout and "--home" in result.stdout


def test_top_level_help_lists_every_subcommand() -> None:
    result = run(sys.executable, "-m", "qbarr_programs.cli", "--help")
    assert result.returncode == 0
    assert all(m.NAME in result.stdout for m in COMMANDS)


def test_version() -> None:
    result = run(sys.executable, "-m", "qbarr_programs.cli", "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"qbarr {__version__}"


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_program_has_help(program: str) -> None:
    exe = BIN / program
    result = run(str(exe) if exe.exists() else program, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run(sys.executable, "-m", "qbarr_programs.cli", "frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr
