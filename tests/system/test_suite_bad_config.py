"""A bad config.ini: `qbarr run` and `qbarr check` exit 78 with a clear error, nothing started."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from qbarr.config import EX_CONFIG, load
from qbarr.paths import Home
from tests.system.conftest import QBARR, TEST_PASSWORD, ArrSpec, config_text, short_home

pytestmark = pytest.mark.system

GOOD = [ArrSpec("Radarr-A", "movies"), ArrSpec("Sonarr-B", "tv")]


def _without(text: str, line_start: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(line_start))
    return "\n".join(lines[:index] + lines[index + 1 :]) + "\n"


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def case_missing_key(text: str) -> str:
    return _without(text, "APIKey = ")


def case_wrong_type(text: str) -> str:
    return _replace(text, "LoopInterval = 0.5s", "LoopInterval = soon")


def case_unknown_kind(text: str) -> str:
    return text + "[Plex-Main]\nURL = http://127.0.0.1:1\nAPIKey = k\nCategory = plex\n"


def case_duplicate_category(text: str) -> str:
    return _replace(text, "Category = tv", "Category = movies")


def case_url_without_scheme(text: str) -> str:
    return re.sub(r"(\[qBittorrent\]\nURL = )http://", r"\1", text)


def case_port_out_of_range(text: str) -> str:
    return re.sub(r"(\[Radarr-A\]\nURL = http://127.0.0.1:)\d+", r"\g<1>99999", text)


def case_ftp_url(text: str) -> str:
    return re.sub(r"(\[Sonarr-B\]\nURL = )http://", r"\1ftp://", text)


def case_empty(text: str) -> str:
    return ""


def case_no_webui_credentials(text: str) -> str:
    return _without(text, "Token = ")


def case_missing_qbittorrent(text: str) -> str:
    start, end = text.index("[qBittorrent]"), text.index("[WebUI]")
    return text[:start] + text[end:]


def case_unsafe_instance_name(text: str) -> str:
    return _replace(text, "[Radarr-A]", "[Radarr-$(touch${IFS}pwned)]")


def case_auth_off_exposed(text: str) -> str:
    return _replace(text, "Host = 127.0.0.1", "Host = 0.0.0.0\nAuthDisabled = true")


CASES = {
    "url-without-scheme": (
        case_url_without_scheme,
        ["[qBittorrent] URL = '127.0.0.1:", "no http:// or https:// scheme"],
    ),
    "port-out-of-range": (
        case_port_out_of_range,
        ["[Radarr-A] URL = 'http://127.0.0.1:99999'", "port 99999 is not a number"],
    ),
    "ftp-url": (case_ftp_url, ["[Sonarr-B] URL = 'ftp://127.0.0.1:", "no http:// or https://"]),
    "empty": (case_empty, ["the file holds no settings", "qbarr init"]),
    "no-webui-credentials": (case_no_webui_credentials, ["[WebUI] needs a Token"]),
    "missing-qbittorrent": (case_missing_qbittorrent, ["[qBittorrent] section is missing"]),
    "unsafe-instance-name": (
        case_unsafe_instance_name,
        ["[Radarr-$(touch${IFS}pwned)]: the section name may only hold letters"],
    ),
    "auth-off-exposed": (case_auth_off_exposed, ["AuthDisabled = true is refused with Host"]),
    "missing-key": (
        case_missing_key,
        ["[Radarr-A] APIKey", "is missing", "expected non-empty text"],
    ),
    "wrong-type": (case_wrong_type, ["[Settings] LoopInterval", "'soon'", "expected a duration"]),
    "unknown-kind": (
        case_unknown_kind,
        ["[Plex-Main]", "unknown Arr kind", "Kind = radarr|sonarr|lidarr"],
    ),
    "duplicate-category": (
        case_duplicate_category,
        ["[Sonarr-B] Category", "'movies'", "already the category of [Radarr-A]"],
    ),
}


@pytest.fixture
def home() -> Iterator[Home]:
    home = short_home()
    try:
        yield home
    finally:
        shutil.rmtree(home.root, ignore_errors=True)


def qbarr(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QBARR, "--home", str(home.root), *args], capture_output=True, text=True, timeout=60
    )


def assert_nothing_started(home: Home) -> None:
    assert not home.run.exists() and not home.socket.exists()
    assert not home.programs_dir.exists() and not home.database.exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_exit_78_clear_error_nothing_started(home: Home, case: str) -> None:
    mutate, fragments = CASES[case]
    home.config.write_text(mutate(config_text(GOOD)))
    for command in ("run", "check"):
        result = qbarr(home, command)
        assert result.returncode == EX_CONFIG, (command, result.stdout, result.stderr)
        for fragment in [str(home.config), *fragments]:
            assert fragment in result.stderr, (command, fragment, result.stderr)
    assert_nothing_started(home)


def test_unreadable_config_is_a_clear_error(home: Home) -> None:
    # chmod 000 does not stop root from reading, so make it unreadable in ways root hits too.
    home.config.mkdir()
    for command in ("run", "check"):
        result = qbarr(home, command)
        assert result.returncode == EX_CONFIG
        assert f"{home.config}: cannot read the file" in result.stderr
    home.config.rmdir()
    home.config.write_bytes(b"[Settings]\nLogLevel = INFO\xff\n")
    result = qbarr(home, "run")
    assert result.returncode == EX_CONFIG
    assert f"{home.config}: line 2: not UTF-8 text" in result.stderr
    assert_nothing_started(home)


def test_broken_line_never_prints_the_secret(home: Home) -> None:
    text = config_text(GOOD).replace(f"Password = {TEST_PASSWORD}", 'Password = "new-Secret-4242')
    home.config.write_text(text)
    for command in ("run", "check"):
        result = qbarr(home, command)
        assert result.returncode == EX_CONFIG, result.stderr
        assert "unbalanced quotes" in result.stderr and "Password = ********" in result.stderr
        assert "new-Secret-4242" not in result.stdout + result.stderr
    assert_nothing_started(home)


def test_a_bom_is_not_an_invalid_line(home: Home) -> None:
    home.config.write_bytes(b"\xef\xbb\xbf" + config_text(GOOD).encode())
    check = qbarr(home, "check", "--config-only")
    assert check.returncode == 0, check.stderr


def test_percent_in_password_works_and_stays_out_of_supervisord_files(home: Home) -> None:
    home.config.write_text(config_text(GOOD, qbt_password=TEST_PASSWORD))
    assert load(home.config, env={}).qbittorrent["Password"] == TEST_PASSWORD
    check = qbarr(home, "check", "--config-only")
    assert check.returncode == 0, check.stderr
    dry = qbarr(home, "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    rendered = (home.programs_dir / "arr.conf").read_text()
    assert "s3cr" not in rendered and "testkey" not in rendered
    # supervisord itself accepts the rendered files (parse only; nothing is started)
    from supervisor.options import ServerOptions

    options = ServerOptions()
    options.configfile = str(home.supervisord_conf)
    options.process_config(do_usage=False)
    names = {p.name for g in options.process_group_configs for p in g.process_configs}
    assert {"arr-radarr-a", "arr-sonarr-b", "webui", "watchdog"} <= names


def test_init_writes_a_starter_once(home: Home) -> None:
    result = qbarr(home, "init")
    assert result.returncode == 0 and "web UI token" in result.stdout
    token = result.stdout.split("Token): ")[1].split()[0]
    assert load(home.config, env={}).webui["Token"] == token
    again = qbarr(home, "init")
    assert again.returncode == 1 and "not overwritten" in again.stdout
    assert load(home.config, env={}).webui["Token"] == token
    assert home.config.stat().st_mode & 0o777 == 0o600
