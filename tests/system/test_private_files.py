"""The data dir holds secrets (config.ini, the database, logs that may quote errors): every
program and `qbarr run` create files 0600 and directories 0700 (umask 077), and `qbarr run`
tightens what an older version left readable."""

from __future__ import annotations

import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbarr.paths import Home
from tests.system.conftest import QBARR, ArrSpec, Suite, config_text, short_home, start_suite

pytestmark = pytest.mark.system


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose(paths: list[Path]) -> dict[str, str]:
    """Paths readable or writable by group or others, with their modes."""
    return {str(p): oct(mode(p)) for p in paths if p.exists() and mode(p) & 0o077}


@pytest.fixture(scope="module")
def suite() -> Iterator[Suite]:
    s = start_suite(arrs=1)
    try:
        yield s
    finally:
        s.stop_quietly()
        shutil.rmtree(s.home.root, ignore_errors=True)


def test_a_running_suite_keeps_its_data_private(suite: Suite) -> None:
    suite.wait_for(lambda: suite.heartbeat("Radarr-A"), "the manager's first heartbeat")
    home = suite.home
    files = [
        home.config,
        home.database,
        home.root / "qbarr.db-wal",
        home.root / "qbarr.db-shm",
        home.supervisord_conf,
        *home.programs_dir.iterdir(),
        *home.logs.iterdir(),
    ]
    assert any(p.name == "supervisord.log" for p in home.logs.iterdir())
    assert any(p.name.startswith("arr-") for p in home.logs.iterdir())
    assert loose(files) == {}
    assert loose([home.root, home.logs, home.programs_dir, home.run]) == {}


def test_qbarr_run_tightens_what_an_older_version_left_open() -> None:
    home = short_home()
    try:
        home.root.chmod(0o755)
        home.config.write_text(config_text([ArrSpec("Radarr-A", "movies")]))
        home.config.chmod(0o644)
        (home.logs).mkdir(mode=0o755)
        (home.logs / "arr-radarr-a.log").write_text("old log\n")
        (home.logs / "arr-radarr-a.log").chmod(0o644)
        done = subprocess.run(
            [QBARR, "--home", str(home.root), "run", "--dry-run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert loose([home.root, home.logs, home.programs_dir]) == {}
        files = [home.config, home.database, *home.logs.iterdir(), *home.programs_dir.iterdir()]
        assert home.database.exists() and loose(files) == {}
    finally:
        shutil.rmtree(home.root, ignore_errors=True)


def test_supervisord_conf_sets_umask_077(tmp_path: Path) -> None:
    from supervisor.options import ServerOptions

    from qbarr.render import install_supervisord_conf

    home = Home(tmp_path)
    home.ensure()
    install_supervisord_conf(home)
    options = ServerOptions()
    options.configfile = str(home.supervisord_conf)
    options.process_config(do_usage=False)
    assert options.umask == 0o077
