"""Every setting is documented: config.ini.example explains it and the README shows it."""

from __future__ import annotations

from pathlib import Path

from qbarr import settings_doc
from qbarr.config import load

REPO = Path(__file__).resolve().parents[2]


def test_every_configspec_key_is_explained_in_the_example() -> None:
    undocumented = [
        f"[{s.section}] {s.key}"
        for s in settings_doc.settings(REPO / "config.ini.example")
        if not s.meaning
    ]
    assert undocumented == []


def test_readme_settings_tables_are_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert settings_doc.markdown(REPO / "config.ini.example") in readme, (
        "README settings tables are stale: run `python -m qbarr.settings_doc README.md`"
    )


def test_every_setting_key_appears_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [s.key for s in settings_doc.settings() if f"`{s.key}`" not in readme]
    assert missing == []


def test_the_example_file_is_a_valid_config(tmp_path: Path) -> None:
    target = tmp_path / "config.ini"
    target.write_text((REPO / "config.ini.example").read_text(encoding="utf-8"))
    cfg = load(target, env={})
    assert [i.name for i in cfg.instances] == ["Radarr-Main"]


def test_the_packaged_example_is_the_repository_one() -> None:
    assert settings_doc.example_path().read_bytes() == (REPO / "config.ini.example").read_bytes()
