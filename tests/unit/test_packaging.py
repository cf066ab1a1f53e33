"""The files `qbarr run` and `qbarr init` need at run time are inside the installed package,
and so is every module: setup.cfg lists the packages one by one, and a subpackage missing
there works in the development venv (an editable install reads the source tree) but is absent
from every user's install and the Docker image."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_wheel_ships_supervisord_conf_configspec_and_example(tmp_path: Path) -> None:
    # Build from a copy so that the in-tree build/ and *.egg-info of a checkout stay untouched.
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "*.egg-info",
            "test-artifacts",
            "__pycache__",
            ".pytest_cache",
            "node_modules",
        ),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("qbarr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "qbarr/supervisord.conf",
        "qbarr/configspec.ini",
        "qbarr/config.ini.example",
        "qbarr/supervision.py",
        "qbarr_programs/commands/run.py",
        "qbarr_programs/watchdog.py",
    ):
        assert needed in names, needed
    example = zipfile.ZipFile(wheel).read("qbarr/config.ini.example")
    assert example == (REPO / "config.ini.example").read_bytes()
    trees = {"qbarr": REPO / "lib" / "qbarr", "qbarr_programs": REPO / "programs"}
    modules = {
        f"{package}/{path.relative_to(root).as_posix()}"
        for package, root in trees.items()
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts and (path.parent / "__init__.py").exists()
    }
    missing = sorted(modules - names)
    assert not missing, f"not in the wheel (setup.cfg [options] packages): {missing}"
    pages = {
        f"qbarr/webui/{p.relative_to(trees['qbarr'] / 'webui').as_posix()}"
        for folder in ("templates", "static")
        for p in (trees["qbarr"] / "webui" / folder).rglob("*")
        if p.is_file()
    }
    assert not sorted(pages - names), sorted(pages - names)
