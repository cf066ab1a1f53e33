"""qbarr-search as a program: clear config errors (exit 78) before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SEARCH = str(BIN / "qbarr-search") if (BIN / "qbarr-search").exists() else "qbarr-search"

BASE = """[qBittorrent]
[Radarr-Main]
URL = http://127.0.0.1:1
APIKey = the-arr-secret-key
Category = radarr
    [[Search]]
    Enabled = true
"""


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEARCH, "--home", str(home), *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            "    SearchLimit = -2\n",
            "[Radarr-Main][Search] SearchLimit = '-2' is invalid: "
            "expected a whole number (at least 1",
        ),
        (
            "    MaxSearchesPerDay = -1\n",
            "[Radarr-Main][Search] MaxSearchesPerDay = '-1' is invalid",
        ),
        (
            "    SearchBySeries = sometimes\n",
            "[Radarr-Main][Search] SearchBySeries = 'sometimes' is invalid: "
            "expected one of smart, episode, series",
        ),
        (
            "        [[[Overseerr]]]\n        Enabled = true\n        APIKey = the-overseerr-key\n",
            "[Radarr-Main][Search][Overseerr] URL is empty: Overseerr is enabled",
        ),
    ],
)
def test_bad_settings_exit_78_naming_file_section_key(
    tmp_path: Path, extra: str, expected: str
) -> None:
    (tmp_path / "config.ini").write_text(BASE + extra)
    done = run(tmp_path, "--instance", "Radarr-Main")
    assert done.returncode == 78, done.stderr
    assert f"{tmp_path / 'config.ini'}: {expected}" in done.stderr
    assert "the-arr-secret-key" not in done.stderr + done.stdout
    assert "the-overseerr-key" not in done.stderr + done.stdout


def test_unknown_instance_exits_78(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(BASE)
    done = run(tmp_path, "--instance", "Radarr-Nope")
    assert done.returncode == 78
    assert "no Arr instance 'Radarr-Nope'" in done.stderr and "Radarr-Main" in done.stderr


def test_missing_instance_argument_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 2 and "--instance" in done.stderr
