"""`qbarr check` says whether the system's ffprobe was found (needed by VerifyMedia)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """
[WebUI]
Token = a-test-token-of-some-length
[qBittorrent]
URL = http://127.0.0.1:1
[Radarr-Main]
URL = http://127.0.0.1:2
APIKey = k
Category = radarr
    [[Torrent]]
    VerifyMedia = {verify}
"""


def check(home: Path, path: str, verify: bool, *extra: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.ini").write_text(CONFIG.format(verify=str(verify).lower()))
    env = {**os.environ, "PATH": path}
    env = {k: v for k, v in env.items() if not k.startswith("QBARR__")}
    return subprocess.run(
        [sys.executable, "-m", "qbarr_programs.cli", "check", "--home", str(home), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_check_names_the_ffprobe_it_found(tmp_path: Path) -> None:
    if shutil.which("ffprobe") is None:
        pytest.skip("missing tool: ffprobe (apt-get install ffmpeg)")
    out = check(tmp_path / "h", os.environ["PATH"], True, "--config-only")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if " ffprobe " in x)
    assert line.startswith("ok") and "ffprobe version" in line


def test_check_fails_when_verify_media_needs_a_missing_ffprobe(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    out = check(tmp_path / "h", str(empty), True)
    line = next(x for x in out.stdout.splitlines() if " ffprobe " in x)
    assert line.startswith("FAIL") and "VerifyMedia of Radarr-Main" in line
    assert out.returncode == 1
    relaxed = check(tmp_path / "h2", str(empty), False, "--config-only")
    assert relaxed.returncode == 0
    assert "not needed" in next(x for x in relaxed.stdout.splitlines() if " ffprobe " in x)
