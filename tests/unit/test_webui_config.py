"""The config editor: masked view, validation with the real configspec, diff, atomic save
with a backup, secrets kept when masked, bad edits refused with nothing written.

SQLite only: the editor reads and writes config.ini, not the database (the web UI's queries
run on both engines in test_webui_api.py and its neighbours)."""

from __future__ import annotations

import difflib
import html
import re
import socket
import threading

import pytest

from qbarr import config as qconfig
from qbarr.config import MASK
from tests.conftest import free_port
from tests.support import webui_seed as seedmod
from tests.support.webui_client import BEARER, build, client, login


@pytest.fixture
def home_c(tmp_path):
    app, home = build(tmp_path)
    return home, client(app)


def backups(home):
    return sorted(home.root.glob("config.ini.bak-*"))


def test_view_masks_every_secret(home_c):
    home, c = home_c
    view = c.get("/api/config", headers=BEARER).json()
    assert MASK in view["text"]
    for secret in (seedmod.QBT_PASSWORD, seedmod.ARR_KEY, seedmod.TOKEN, seedmod.LOGIN_PASSWORD):
        assert secret not in view["text"]
    fields = {f["id"]: f for s in view["sections"] for f in s["fields"]}
    assert (
        fields["qBittorrent/Password"]["value"] == MASK and fields["qBittorrent/Password"]["secret"]
    )
    assert fields["Settings/LoopInterval"]["value"] == "2s"
    assert (
        fields["Settings/DryRun"]["present"] is False
        and fields["Settings/DryRun"]["default"] == "False"
    )
    assert fields["Radarr-Main/Torrent/StalledDelay"]["value"] == "15m"
    assert "Radarr-Main/Search/Enabled" in fields  # spec subsections show even when absent


def change(path, key, value):
    return {"path": path, "key": key, "value": value}


def test_preview_shows_a_diff_and_writes_nothing(home_c):
    home, c = home_c
    before = home.config.read_bytes()
    r = c.post(
        "/api/config/preview",
        json={"changes": [change(["Settings"], "LoopInterval", "5s")]},
        headers=BEARER,
    )
    body = r.json()
    assert r.status_code == 200 and body["ok"] is True
    assert "-LoopInterval = 2s" in body["diff"] and "+LoopInterval = 5s" in body["diff"]
    assert home.config.read_bytes() == before and not backups(home)


def test_save_keeps_masked_secrets_and_makes_a_backup(home_c):
    home, c = home_c
    base = c.get("/api/config", headers=BEARER).json()["base"]
    original = home.config.read_text()
    changes = [
        change(["Settings"], "LoopInterval", "5s"),
        change(["qBittorrent"], "Password", MASK),
        change(["Radarr-Main"], "APIKey", MASK),
        change(["Radarr-Main", "Torrent"], "MaxRechecks", "4"),
        change(["Settings"], "DryRun", ""),
    ]
    r = c.post(
        "/api/config", json={"base": base, "changes": changes, "apply": False}, headers=BEARER
    )
    body = r.json()
    assert r.status_code == 200 and body["saved"] is True, body
    saved = qconfig.load(home.config)
    assert saved.settings["LoopInterval"] == 5.0
    assert saved.qbittorrent["Password"] == seedmod.QBT_PASSWORD
    assert saved.instance("Radarr-Main").api_key == seedmod.ARR_KEY + "main"
    assert saved.instance("Radarr-Main").section["Torrent"]["MaxRechecks"] == 4
    assert [b.name for b in backups(home)] == [body["backup"]]
    assert backups(home)[0].read_text() == original
    text = home.config.read_text()
    assert text.startswith("# qbarr test config\n")  # comments and layout survive
    assert "    MaxRechecks = 4" in text
    assert home.config.stat().st_mode & 0o777 == 0o600


def test_changed_secret_is_saved_but_never_shown(home_c):
    home, c = home_c
    new_secret = "brand-new-qbt-password-77"
    r = c.post(
        "/api/config",
        json={"changes": [change(["qBittorrent"], "Password", new_secret)], "apply": False},
        headers=BEARER,
    )
    assert r.status_code == 200 and new_secret not in r.text and "(changed)" in r.json()["diff"]
    assert qconfig.load(home.config).qbittorrent["Password"] == new_secret
    assert new_secret not in c.get("/api/config", headers=BEARER).text


def test_bad_edit_is_refused_next_to_the_field_and_nothing_written(home_c):
    home, c = home_c
    before = home.config.read_bytes()
    r = c.post(
        "/api/config",
        json={
            "changes": [
                change(["WebUI"], "Port", "99999"),
                change(["Radarr-Main", "Torrent"], "StalledDelay", "soon"),
            ]
        },
        headers=BEARER,
    )
    assert r.status_code == 422
    problems = {p["field"]: p["message"] for p in r.json()["problems"]}
    assert "WebUI/Port" in problems and "at most 65535" in problems["WebUI/Port"]
    assert "Radarr-Main/Torrent/StalledDelay" in problems
    assert str(home.config) in problems["WebUI/Port"] and ".config.ini.check" not in r.text
    assert home.config.read_bytes() == before and not backups(home)
    leftovers = {p.name for p in home.root.glob(".config.ini*")} - {".config.ini.lock"}
    assert not leftovers  # no temp file left behind (the lock file stays)


def test_bad_edit_in_the_html_form_shows_the_error_beside_the_field(home_c):
    home, c = home_c
    csrf = login(c)
    before = home.config.read_bytes()
    page = c.get("/config").text
    base = re.search(r'name="base" value="([^"]+)"', page).group(1)
    r = c.post(
        "/config",
        data={
            "csrf": csrf,
            "base": base,
            "do": "save",
            "f:WebUI/Threads": "999",
            "f:qBittorrent/Password": MASK,
        },
    )
    assert r.status_code == 422
    at = r.text.index('data-field="WebUI/Threads"')
    field = r.text[r.text.rindex("<label", 0, at) : r.text.index("</label>", at)]
    assert 'class="field-error"' in field and "at most 64" in field and 'value="999"' in field
    assert home.config.read_bytes() == before
    ok = c.post(
        "/config", data={"csrf": csrf, "base": base, "do": "preview", "f:WebUI/Threads": "6"}
    )
    assert (
        ok.status_code == 200 and "+Threads = 6" in ok.text and home.config.read_bytes() == before
    )
    saved = c.post(
        "/config", data={"csrf": csrf, "base": base, "do": "save", "f:WebUI/Threads": "6"}
    )
    assert saved.status_code == 200 and "Saved" in saved.text
    assert qconfig.load(home.config).webui["Threads"] == 6


def test_raw_text_edit_keeps_masked_secrets(home_c):
    home, c = home_c
    view = c.get("/api/config", headers=BEARER).json()
    text = view["text"].replace("LoopInterval = 2s", "LoopInterval = 3s")
    r = c.post(
        "/api/config", json={"base": view["base"], "text": text, "apply": False}, headers=BEARER
    )
    assert r.status_code == 200, r.text
    saved = qconfig.load(home.config)
    assert (
        saved.settings["LoopInterval"] == 3.0
        and saved.qbittorrent["Password"] == seedmod.QBT_PASSWORD
    )
    bad = view["text"].replace("[Settings]", "[Settings]\nNoSuchKey = 1")
    r = c.post("/api/config/preview", json={"text": bad}, headers=BEARER)
    assert r.json()["ok"] is False and "NoSuchKey" in r.json()["problems"][0]["message"]


def test_masked_secret_without_stored_value_is_refused(home_c):
    _home, c = home_c
    view = c.get("/api/config", headers=BEARER).json()
    text = view["text"] + "\n[Lidarr-Music]\nURL = http://x\nAPIKey = ********\nCategory = music\n"
    r = c.post("/api/config/preview", json={"text": text}, headers=BEARER)
    assert r.status_code == 422 and "no stored value" in r.json()["problems"][0]["message"]


def test_stale_base_is_a_conflict(home_c):
    home, c = home_c
    view = c.get("/api/config", headers=BEARER).json()
    home.config.write_text(home.config.read_text() + "\n# edited by hand\n")
    r = c.post(
        "/api/config",
        json={"base": view["base"], "changes": [change(["Settings"], "LoopInterval", "4s")]},
        headers=BEARER,
    )
    assert r.status_code == 409


def test_value_with_quotes_and_percent_round_trips(home_c):
    home, c = home_c
    tricky = "p%a'ss\"w#rd, x"
    r = c.post(
        "/api/config",
        json={"changes": [change(["WebUI"], "Password", tricky)], "apply": False},
        headers=BEARER,
    )
    assert r.status_code == 200, r.text
    assert qconfig.load(home.config).webui["Password"] == tricky
    r = c.post(
        "/api/config/preview", json={"changes": [change(["WebUI"], "Host", "a\nb")]}, headers=BEARER
    )
    assert r.status_code == 422 and "line break" in r.text


def test_list_value_and_new_section(home_c):
    home, c = home_c
    r = c.post(
        "/api/config",
        json={
            "changes": [
                change(["Radarr-Main", "Torrent"], "FileExtensionAllowlist", ".mkv, .mp4"),
                change(["Radarr-Main", "Search"], "Enabled", "true"),
            ],
            "apply": False,
        },
        headers=BEARER,
    )
    assert r.status_code == 200, r.text
    inst = qconfig.load(home.config).instance("Radarr-Main")
    assert inst.section["Torrent"]["FileExtensionAllowlist"] == [".mkv", ".mp4"]
    assert inst.search_enabled is True


# -- the editor applies `qbarr check`'s validation plus the web UI's own, before writing ----


def save(c, base, **body):
    return c.post("/api/config", json={"base": base, "apply": False, **body}, headers=BEARER)


def refused_and_unchanged(home, r, status=422):
    assert r.status_code == status, r.text
    assert r.json().get("saved") is None
    return {p["field"]: p["message"] for p in r.json().get("problems", [])}


@pytest.mark.parametrize("text", ["", "\n", "# nothing but a comment\n"])
def test_empty_config_is_refused_and_the_file_stays_byte_identical(home_c, text):
    home, c = home_c
    before = home.config.read_bytes()
    base = c.get("/api/config", headers=BEARER).json()["base"]
    problems = refused_and_unchanged(home, save(c, base, text=text))
    assert any("holds no settings" in m for m in problems.values()), problems
    assert home.config.read_bytes() == before and not backups(home)


@pytest.mark.parametrize(
    "changes, field, words",
    [
        (
            [change(["WebUI"], "AuthDisabled", "true"), change(["WebUI"], "Host", "0.0.0.0")],
            None,
            "AuthDisabled = true is refused with Host = '0.0.0.0'",
        ),
        (
            [change(["WebUI"], "Token", ""), change(["WebUI"], "Password", "")],
            None,
            "[WebUI] needs a Token",
        ),
        ([change(["qBittorrent"], "URL", "127.0.0.1:18080")], "qBittorrent/URL", "no http://"),
        ([change(["Radarr-Main"], "URL", "http://h:99999")], "Radarr-Main/URL", "port 99999"),
    ],
)
def test_what_qbarr_check_refuses_the_editor_refuses(home_c, changes, field, words):
    home, c = home_c
    before = home.config.read_bytes()
    base = c.get("/api/config", headers=BEARER).json()["base"]
    problems = refused_and_unchanged(home, save(c, base, changes=changes))
    assert any(words in m for m in problems.values()), problems
    if field:
        assert words in problems[field]
    assert home.config.read_bytes() == before and not backups(home)


def test_a_port_another_process_listens_on_is_refused(home_c):
    home, c = home_c
    before = home.config.read_bytes()
    base = c.get("/api/config", headers=BEARER).json()["base"]
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        problems = refused_and_unchanged(
            home, save(c, base, changes=[change(["WebUI"], "Port", str(taken))])
        )
    assert f"127.0.0.1:{taken} is already in use" in problems["WebUI/Port"], problems
    assert home.config.read_bytes() == before
    free = free_port()
    r = save(c, base, changes=[change(["WebUI"], "Port", str(free))])
    assert r.status_code == 200 and r.json()["saved"] is True, r.text


def test_a_host_that_is_not_an_address_of_this_machine_is_refused(home_c):
    home, c = home_c
    base = c.get("/api/config", headers=BEARER).json()["base"]
    problems = refused_and_unchanged(
        home, save(c, base, changes=[change(["WebUI"], "Host", "192.0.2.77")])
    )
    assert "cannot listen on 192.0.2.77" in problems["WebUI/Host"], problems


def test_concurrent_saves_from_one_base_exactly_one_wins(home_c):
    home, c = home_c
    base = c.get("/api/config", headers=BEARER).json()["base"]
    start = threading.Barrier(8)
    answers: list[int] = []

    def one(n: int) -> None:
        with client(c._transport.app) as mine:  # type: ignore[attr-defined]
            start.wait()
            r = save(mine, base, changes=[change(["Settings"], "LoopInterval", f"{n + 3}s")])
            answers.append(r.status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200] + [409] * 7, answers
    assert len(backups(home)) == 1


def test_saving_text_needs_a_base(home_c):
    home, c = home_c
    before = home.config.read_bytes()
    view = c.get("/api/config", headers=BEARER).json()
    r = c.post("/api/config", json={"text": view["text"], "apply": False}, headers=BEARER)
    assert r.status_code == 428 and "base" in r.json()["error"]
    assert home.config.read_bytes() == before


TRICKY = """# my qbarr config: comments stay
[Settings]
LoopInterval = 2s   # fast
  # an indented comment
DryRun = false

[qBittorrent]
URL = http://127.0.0.1:8080  # the box
Username = admin
Password = "100%(x)s pass"

[WebUI]
Host = 127.0.0.1
Port = 6969
Token = tok-aaaabbbbccccdddd
Password = login-pw-Zq9!

[Radarr-Main]
URL = http://127.0.0.1:7878
APIKey = radarr-key-1234
Category = movies
    [[Torrent]]
    StalledDelay = 15m
    FileExtensionAllowlist =
    FolderExclusionRegex = "\\bextras?\\b", "\\bsamples?\\b"
        [[[Trackers]]]
            [[[[My Tracker]]]]
            Host = tracker.example.org
            HitAndRun = true

[Sonarr-Old]
Managed = false
URL = https://sonarr.example.org/sonarr
APIKey = "sonarr key with spaces"
Category = tv
"""


def test_save_and_apply_changes_only_the_edited_key(tmp_path, monkeypatch):
    monkeypatch.setenv("QBARR__SETTINGS__LOOPINTERVAL", "7s")
    monkeypatch.setenv("QBARR__QBITTORRENT__USERNAME", "from-the-env")
    app, home = build(tmp_path, seed=False)
    home.config.write_text(TRICKY)
    c = client(app)
    csrf = login(c, "login-pw-Zq9!")
    page = c.get("/config").text
    form = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input[^>]*name="(f:[^"]+)" value="([^"]*)"', page)
    }
    assert form["f:Radarr-Main/Torrent/StalledDelay"] == "15m"
    assert form["f:Settings/LoopInterval"] == "2s"  # the file's value, not the environment's
    form["f:Radarr-Main/Torrent/StalledDelay"] = "20m"
    base = re.search(r'name="base" value="([^"]+)"', page).group(1)
    r = c.post("/config", data={"csrf": csrf, "base": base, "do": "save", **form})
    assert r.status_code == 200 and "Saved" in r.text, r.text
    diff = list(difflib.unified_diff(TRICKY.split("\n"), home.config.read_text().split("\n"), n=0))
    changed = [d for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---"))]
    assert changed == ["-    StalledDelay = 15m", "+    StalledDelay = 20m"], diff


def test_a_masked_secret_does_not_follow_its_url_to_another_host(home_c):
    home, c = home_c
    before = home.config.read_bytes()
    base = c.get("/api/config", headers=BEARER).json()["base"]
    moved = [change(["Radarr-Main"], "URL", "http://evil.example:7878")]
    problems = refused_and_unchanged(home, save(c, base, changes=moved))
    assert "type the APIKey again" in problems["Radarr-Main/APIKey"], problems
    problems = refused_and_unchanged(
        home, save(c, base, changes=[*moved, change(["Radarr-Main"], "APIKey", MASK)])
    )
    assert "Radarr-Main/APIKey" in problems
    moved_qbt = [change(["qBittorrent"], "URL", "https://other.example")]
    problems = refused_and_unchanged(home, save(c, base, changes=moved_qbt))
    assert "type the Password again" in problems["qBittorrent/Password"], problems
    # the raw editor: same rule
    view = c.get("/api/config", headers=BEARER).json()
    text = view["text"].replace("URL = http://127.0.0.1:7878", "URL = http://evil.example:7878", 1)
    problems = refused_and_unchanged(home, save(c, base, text=text))
    assert "type the APIKey again" in problems["Radarr-Main/APIKey"], problems
    assert home.config.read_bytes() == before
    # a retyped key, or the same host with another path, is fine
    r = save(c, base, changes=[*moved, change(["Radarr-Main"], "APIKey", "a-new-key-for-evil")])
    assert r.status_code == 200, r.text
    base = c.get("/api/config", headers=BEARER).json()["base"]
    r = save(c, base, changes=[change(["Radarr-Main"], "URL", "http://EVIL.example:7878/radarr")])
    assert r.status_code == 200, r.text


def test_a_config_managed_elsewhere_is_shown_but_never_saved(tmp_path):
    """[WebUI] ConfigEditable = false (the Kubernetes manifests set it: each pod holds a copy
    of the qbarr-config Secret): the view and the preview work, a save through the API or the
    page is refused with 403 naming where to change it, and nothing is written."""
    home_dir = tmp_path / "h"
    app, home = build(home_dir)
    home.config.write_text(
        home.config.read_text().replace("[WebUI]\n", "[WebUI]\nConfigEditable = false\n")
    )
    c = client(app)
    before = home.config.read_bytes()
    view = c.get("/api/config", headers=BEARER).json()
    assert view["editable"] is False
    preview = c.post(
        "/api/config/preview",
        json={"changes": [change(["Settings"], "LoopInterval", "5s")]},
        headers=BEARER,
    )
    assert preview.status_code == 200 and "+LoopInterval = 5s" in preview.json()["diff"]
    r = save(c, view["base"], changes=[change(["Settings"], "LoopInterval", "5s")])
    assert r.status_code == 403 and "qbarr-config Secret" in r.text, r.text
    csrf = login(c)
    page = c.get("/config").text
    assert "ConfigEditable = false" in page and 'value="save"' not in page
    posted = c.post(
        "/config",
        data={"csrf": csrf, "base": view["base"], "do": "save", "f:Settings/LoopInterval": "5s"},
    )
    assert posted.status_code == 403 and "qbarr-config Secret" in html.unescape(posted.text)
    assert home.config.read_bytes() == before and not backups(home)
