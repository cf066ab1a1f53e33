"""Every setting is documented: config.ini.example explains it and the README shows it."""

from __future__ import annotations

import re
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


def test_the_packaged_supervisord_conf_is_the_repository_one() -> None:
    from qbarr.render import packaged_supervisord_conf

    top = (REPO / "supervisord.conf").read_text(encoding="utf-8")
    assert packaged_supervisord_conf() == top
    assert (REPO / "lib" / "qbarr" / "supervisord.conf").resolve() == (
        REPO / "supervisord.conf"
    ).resolve()


def test_the_openapi_documents_are_the_published_files() -> None:
    """Each spec's sha256 and size match its row in tests/contract/specs/README.md."""
    import hashlib

    specs = REPO / "tests" / "contract" / "specs"
    table = (specs / "README.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in specs.glob("*.json"))
    assert files == ["lidarr-v1.json", "radarr-v3.json", "sonarr-v3.json"]
    for name in files:
        data = (specs / name).read_bytes()
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}`"))
        size = int(re.search(r"\| ([\d,]+) B,", row).group(1).replace(",", ""))
        digest = re.search(r"`([0-9a-f]{64})`", row).group(1)
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest), name


def test_nothing_in_the_repository_reaches_outside_it() -> None:
    """A clone has nothing beside it: no path into ../shared, no DESIGN.md outside docs/."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:  # not a git checkout (an sdist): check the usual folders
        paths = [
            p
            for d in ("lib", "programs", "tests", "bench", "docs", ".ci")
            for p in (REPO / d).rglob("*")
        ]
    else:
        paths = [REPO / p for p in tracked.stdout.splitlines()]
    pattern = re.compile(r"\.\./shared|shared/(specs|tools|reference)|DESIGN\.md")
    offenders = []
    for path in paths:
        if (
            path.is_file()
            and not path.is_symlink()
            and path.suffix in {".py", ".md", ".cfg", ".toml", ".conf", ".ini", ".example", ""}
        ):
            text = path.read_text(encoding="utf-8", errors="replace")
            offenders += [
                f"{path.relative_to(REPO)}:{n}"
                for n, line in enumerate(text.splitlines(), 1)
                if pattern.search(line) and path.name != "test_docs.py"
            ]
    assert offenders == []


def test_no_row_of_a_settings_table_borrows_another_keys_text() -> None:
    """Each key is explained by the comment right above it, not by its neighbour's."""
    by_text: dict[tuple[str, str], list[str]] = {}
    for s in settings_doc.settings(REPO / "config.ini.example"):
        if s.meaning:  # an unexplained key fails test_every_configspec_key_is_explained...
            by_text.setdefault((s.section, s.meaning), []).append(s.key)
    shared = {f"[{section}] {text[:50]}": keys for (section, text), keys in by_text.items()}
    assert {where: keys for where, keys in shared.items() if len(keys) > 1} == {}


def test_a_comment_that_reads_like_an_assignment_is_not_a_key(tmp_path: Path) -> None:
    example = tmp_path / "config.ini.example"
    example.write_text(
        "[Radarr-Main]\n"
        "# The category.\n"
        "Category = radarr\n"
        "# false = keep the section but run no manager for it.\n"
        "# Managed = true\n"
        "    [[Torrent]]\n"
        "    # A download whose ETA stays above this is slow.\n"
        "    # MaximumETA = 0\n"
        "    # SlowStrikes = 3\n"
    )
    meaning = {(s.section, s.key): s.meaning for s in settings_doc.settings(example)}
    assert meaning[("<Arr>", "Managed")] == "false = keep the section but run no manager for it."
    assert meaning[("<Arr>", "Category")] == "The category."
    assert (
        meaning[("<Arr>][Torrent", "MaximumETA")]
        == "A download whose ETA stays above this is slow."
    )
    assert meaning[("<Arr>][Torrent", "SlowStrikes")] == ""
