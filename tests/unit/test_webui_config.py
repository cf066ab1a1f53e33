"""The config editor: masked view, validation with the real configspec, diff, atomic save
with a backup, secrets kept when masked, bad edits refused with nothing written."""

from __future__ import annotations

import re

import pytest

from qbarr import config as qconfig
from qbarr.config import MASK
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
    assert not list(home.root.glob(".config.ini*"))  # no temp file left behind


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
    assert 'class="field-error"' in field and "at most 32" in field and 'value="999"' in field
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
