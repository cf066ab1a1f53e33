"""Rendering programs.d from config.ini: names, escaping, no secrets, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from qbarr.config import load
from qbarr.paths import Home
from qbarr.render import (
    RenderError,
    check_home,
    command_line,
    escape,
    install_supervisord_conf,
    render_all,
    write_atomic,
    write_programs,
)

SECRET_KEY = "arr-key-%(x)s-0123"
PASSWORD = "pa%ss%%word"

BASE = f"""[Settings]
LoopInterval = 1s
[qBittorrent]
URL = http://127.0.0.1:8080
Password = {PASSWORD}
[WebUI]
Token = tok-abcdefgh
"""


def section(name: str, category: str, extra: str = "") -> str:
    return (
        f"[{name}]\nURL = http://127.0.0.1:7878\nAPIKey = {SECRET_KEY}\n"
        f"Category = {category}\n{extra}"
    )


def make(tmp_path: Path, *sections: str) -> tuple[Home, object]:
    home = Home(tmp_path / "h")
    home.root.mkdir(parents=True)
    home.config.write_text(BASE + "".join(sections))
    return home, load(home.config, env={})


def parse(home: Home) -> dict[str, list[str]]:
    """Let supervisord itself parse the data dir's conf: group -> program names."""
    install_supervisord_conf(home)
    home.logs.mkdir(exist_ok=True)
    home.run.mkdir(exist_ok=True)
    options = ServerOptions()
    options.configfile = str(home.supervisord_conf)
    options.process_config(do_usage=False)
    return {g.name: [p.name for p in g.process_configs] for g in options.process_group_configs}


def test_one_program_per_section_in_group_arr(tmp_path: Path) -> None:
    home, cfg = make(tmp_path, section("Radarr-4K", "movies-4k"), section("Sonarr-TV", "tv"))
    text = render_all(cfg, home)["arr.conf"]
    assert "[program:arr-radarr-4k]" in text and "[program:arr-sonarr-tv]" in text
    assert "[group:arr]\nprograms = arr-radarr-4k,arr-sonarr-tv\npriority = 200" in text
    assert "command = qbarr-arr --instance Radarr-4K\n" in text
    for setting in (
        "autorestart = unexpected",
        "startsecs = 2",
        "stopsignal = TERM",
        "stopwaitsecs = 15",
        "stopasgroup = true",
        "killasgroup = true",
        'environment = PYTHONUNBUFFERED="1"',
        "redirect_stderr = true",
        "stdout_logfile_maxbytes = 10MB",
        "stdout_logfile_backups = 5",
    ):
        assert setting in text
    assert f"stdout_logfile = {home.logs}/arr-radarr-4k.log" in text


def test_supervisord_parses_the_result(tmp_path: Path) -> None:
    home, cfg = make(
        tmp_path,
        section("Radarr-4K", "a"),
        section("Sonarr-TV", "b", "[[Search]]\nEnabled = true\n"),
    )
    write_programs(cfg, home)
    groups = parse(home)
    assert groups["arr"] == ["arr-radarr-4k", "arr-sonarr-tv"]
    assert groups["search"] == ["search-sonarr-tv"]
    assert "webui" in groups and "watchdog" in groups


def test_no_secret_in_any_rendered_file(tmp_path: Path) -> None:
    home, cfg = make(tmp_path, section("Radarr-A", "a"))
    for text in render_all(cfg, home).values():
        assert (
            SECRET_KEY not in text
            and "0123" not in text
            and "ss%%word" not in text
            and "pa%ss" not in text
        )


def test_odd_names_are_quoted_and_still_parse(tmp_path: Path) -> None:
    # config.py allows letters, digits, space, - _ . in instance names (shell metacharacters
    # and % are refused there); what is left must still reach supervisord intact.
    home, cfg = make(
        tmp_path,
        section("Radarr-100.Pct", "a"),
        section("Lidarr-Jazz_Blues", "b"),
        section("Sonarr-Anime Kids", "c"),
    )
    text = render_all(cfg, home)["arr.conf"]
    assert "--instance Radarr-100.Pct\n" in text
    assert "[program:arr-radarr-100.pct]" in text
    assert "--instance Lidarr-Jazz_Blues\n" in text
    assert "--instance sonarr-anime-kids" in text  # whitespace in a name: the slug is passed
    write_programs(cfg, home)
    options_groups = parse(home)
    assert sorted(options_groups["arr"]) == [
        "arr-lidarr-jazz_blues",
        "arr-radarr-100.pct",
        "arr-sonarr-anime-kids",
    ]
    options = ServerOptions()
    options.configfile = str(home.supervisord_conf)
    options.process_config(do_usage=False)
    commands = {p.name: p.command for g in options.process_group_configs for p in g.process_configs}
    assert commands["arr-radarr-100.pct"] == "qbarr-arr --instance Radarr-100.Pct"
    assert cfg.instance("sonarr-anime-kids").name == "Sonarr-Anime Kids"


def test_no_instance_means_no_group(tmp_path: Path) -> None:
    home, cfg = make(tmp_path)
    files = render_all(cfg, home)
    assert "[group:" not in files["arr.conf"] and "[program:" not in files["arr.conf"]
    write_programs(cfg, home)
    assert "arr" not in parse(home)


def test_unmanaged_sections_are_skipped(tmp_path: Path) -> None:
    home, cfg = make(
        tmp_path, section("Radarr-A", "a", "Managed = false\n"), section("Sonarr-B", "b")
    )
    assert "arr-radarr-a" not in render_all(cfg, home)["arr.conf"]


def test_write_is_atomic_and_only_when_changed(tmp_path: Path) -> None:
    home, cfg = make(tmp_path, section("Radarr-A", "a"))
    files = {"arr.conf", "notify.conf", "search.conf"}
    assert {p.name for p in write_programs(cfg, home)} == files
    assert write_programs(cfg, home) == []
    assert sorted(p.name for p in home.programs_dir.iterdir()) == sorted(files)
    target = tmp_path / "x.conf"
    assert write_atomic(target, "a") and not write_atomic(target, "a")
    assert not list(tmp_path.glob("*.conf.tmp")) and not list(tmp_path.glob(".x.conf.tmp"))


def test_temp_name_does_not_match_the_include_glob() -> None:
    import fnmatch

    assert not fnmatch.fnmatch(".arr.conf.tmp", "*.conf")


def test_command_line_quoting() -> None:
    assert (
        command_line(["qbarr-arr", "--instance", "Radarr-4K"]) == "qbarr-arr --instance Radarr-4K"
    )
    assert command_line(["x", "a'b"]) == "x 'a'\"'\"'b'"
    assert escape("50%") == "50%%"
    with pytest.raises(RenderError):
        command_line(["x", "a b"])


@pytest.mark.parametrize("bad", ["/tmp/a%b", '/tmp/a"b', "/tmp/a ;b", "/tmp/" + "x" * 120])
def test_unusable_data_dirs_are_refused(bad: str) -> None:
    with pytest.raises(RenderError):
        check_home(Home(Path(bad)))


def test_start_settings_are_not_config_keys(tmp_path: Path) -> None:
    """startsecs/startretries are fixed (never 0): config.ini has no key that changes them."""
    from qbarr.config import ConfigError

    path = tmp_path / "config.ini"
    path.write_text(BASE.replace("LoopInterval = 1s", "StartSecs = 0") + section("Radarr-A", "a"))
    with pytest.raises(ConfigError, match="unknown setting or section 'StartSecs'"):
        load(path, env={})


def test_the_notify_program_only_with_urls_and_never_a_url(tmp_path: Path) -> None:
    home, cfg = make(tmp_path, section("Radarr-A", "a"))
    assert "[program:notify]" not in render_all(cfg, home)["notify.conf"]
    url = "json://user:n0tify-Secret@127.0.0.1:9/hook"
    home2, cfg2 = make(tmp_path / "2", section("Radarr-A", "a"), f"[Notifications]\nURLs = {url}\n")
    text = render_all(cfg2, home2)["notify.conf"]
    assert "[program:notify]" in text and "command = qbarr-notify\n" in text
    assert "n0tify-Secret" not in "".join(render_all(cfg2, home2).values())
    write_programs(cfg2, home2)
    assert parse(home2)["notify"] == ["notify"]  # supervisord itself accepts it
