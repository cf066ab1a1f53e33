"""`qbarr demo`'s files: the simulators' secrets live in 0600 files, never in sims.conf
(or anything else other users can read: the supervisord file, command lines)."""

from __future__ import annotations

import stat
from pathlib import Path

from qbarr import demo
from qbarr.paths import Home


def test_sims_conf_holds_no_secret_and_secret_files_are_private(tmp_path: Path) -> None:
    plan = demo.DemoPlan(Home(tmp_path / "home"))
    demo.write(plan)
    sims = (plan.home.programs_dir / demo.SIMS_FILE).read_text()
    for secret in (plan.qbt_password, plan.radarr_key, plan.sonarr_key, plan.token):
        assert secret not in sims
    files = {
        "qbt-password": plan.qbt_password,
        "radarr-api-key": plan.radarr_key,
        "sonarr-api-key": plan.sonarr_key,
    }
    for name, secret in files.items():
        path = plan.demo_dir / name
        assert path.read_text().strip() == secret
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        assert f"{plan.demo_dir}/{name}" in sims  # the simulators read it from there
    assert stat.S_IMODE((plan.home.programs_dir / demo.SIMS_FILE).stat().st_mode) == 0o600
