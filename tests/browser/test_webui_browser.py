"""The web UI in real headless Chromium (Playwright driving the system's chromium)
against the whole suite under supervisord (`qbarr run`: webui, watchdog, a real manager)
with the qBittorrent and Radarr simulators.

The torrents, decisions and actions shown on the instance, journal and history pages are
seeded into the database by the test under an instance no manager runs for (plus a torrent
named ``<script>alert(1)</script>``);
the programs, the restart, the log and the config change are the real thing. Screenshots
of every page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTIFACTS, free_port, needs_tool
from tests.support import webui_seed as seedmod
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.system]

SEEDED = "Radarr-Seeded"
SHOTS = ARTIFACTS / "screenshots"
BIN = Path(sys.executable).parent
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else name


@pytest.fixture
def sims(tmp_path):
    """The qBittorrent and Radarr simulators, stopped by pid at teardown."""
    from tests.system.conftest import TEST_PASSWORD

    qbt_port, arr_port = free_port(), free_port()
    procs = []
    try:
        with open(tmp_path / "sim-qbt.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        tool("qbarr-sim-qbittorrent"),
                        "--port",
                        str(qbt_port),
                        "--password",
                        TEST_PASSWORD,
                        "--categories",
                        "cat-0",
                        "--torrents",
                        "12",
                        "--seed",
                        "3",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        with open(tmp_path / "sim-arr.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        tool("qbarr-sim-arr"),
                        "--kind",
                        "radarr",
                        "--port",
                        str(arr_port),
                        "--api-key",
                        "testkey-0123456789",
                        "--qbt-url",
                        f"http://127.0.0.1:{qbt_port}",
                        "--qbt-password",
                        TEST_PASSWORD,
                        "--category",
                        "cat-0",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield f"http://127.0.0.1:{qbt_port}", f"http://127.0.0.1:{arr_port}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


@pytest.fixture
def suite(sims):
    from tests.system.conftest import ArrSpec, start_suite

    qbt_url, arr_url = sims
    port = free_port()
    s = start_suite(
        arrs=[ArrSpec("Radarr-A", "cat-0", url=arr_url)], qbt_url=qbt_url, webui_port=port
    )
    try:
        # Seeded under an instance no manager runs for: the live manager of Radarr-A marks
        # torrents it does not see in qBittorrent as gone, and the list shows live ones only.
        seedmod.seed(s.home, instance=SEEDED, torrents=40)
        s.webui_url = f"http://127.0.0.1:{port}"
        s.qbt_url = qbt_url
        yield s
    finally:
        s.stop_quietly()
        shutil.rmtree(s.home.root, ignore_errors=True)


@needs_tool("chromium", "apt-get install chromium")
def test_webui_in_chromium(suite):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    base = suite.webui_url
    suite.wait_for(lambda: suite.heartbeat("Radarr-A"), "the manager's first heartbeat")
    alerts: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "dialog",
                lambda d: (
                    d.accept() if d.type == "confirm" else (alerts.append(d.message), d.dismiss())
                ),
            )

            # log in (no [WebUI] Password in this config: the token is the password)
            page.goto(f"{base}/programs")
            assert "/login" in page.url
            page.screenshot(path=str(SHOTS / "login.png"))
            page.fill("#password", "test-token-abcdefgh")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/programs")

            # every program RUNNING
            for name in ("webui", "watchdog", "arr:arr-radarr-a"):
                cell = page.locator(f'tr[data-program="{name}"] [data-field="state"]')
                assert cell.inner_text() == "RUNNING", name
            page.screenshot(path=str(SHOTS / "programs.png"), full_page=True)

            # restart the manager and see its pid change
            row = page.locator('tr[data-program="arr:arr-radarr-a"]')
            old_pid = row.locator('[data-field="pid"]').inner_text()
            row.locator('button[data-op="restart"]').click()
            page.wait_for_url("**/programs?msg=*")

            def new_pid() -> str | None:
                page.reload()
                r = page.locator('tr[data-program="arr:arr-radarr-a"]')
                pid = r.locator('[data-field="pid"]').inner_text()
                state = r.locator('[data-field="state"]').inner_text()
                return pid if state == "RUNNING" and pid and pid != old_pid else None

            assert wait_for(new_pid, timeout=60, interval=0.25, what="a new manager pid") != old_pid
            page.screenshot(path=str(SHOTS / "programs-restarted.png"), full_page=True)

            # a live torrent of the simulator, named like an attack, decided by the real manager:
            # find it by name on the manager's own instance page and open its history
            live = "<img src=x onerror=alert(2)> Live.Movie.2024"
            added = httpx.post(
                f"{suite.qbt_url}/sim/torrents",
                timeout=10,
                json={"category": "cat-0", "name": live, "state": "stalledUP"},
            ).json()
            live_hash = added["hashes"][0]
            suite.wait_for(
                lambda: suite.query(
                    "SELECT last_rule FROM torrents WHERE hash = ? AND last_rule IS NOT NULL",
                    (live_hash,),
                ),
                "the manager's decision on the live torrent",
            )
            page.goto(f"{base}/instances/Radarr-A")
            page.fill("#torrent-search", "Live.Movie")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**q=Live.Movie**")
            live_link = page.locator("td.name a", has_text="Live.Movie.2024")
            assert live_link.count() == 1 and live_link.inner_text() == live
            page.screenshot(path=str(SHOTS / "instance-live.png"), full_page=True)
            live_link.click()
            page.wait_for_url(f"**/torrents/{live_hash}")
            assert page.locator("ol.timeline li").count() >= 1
            assert page.locator("h1").inner_text() == live
            page.screenshot(path=str(SHOTS / "torrent-history-live.png"), full_page=True)

            # overview
            page.goto(f"{base}/")
            assert page.locator("svg.chart").count() == 2
            fills = page.evaluate(
                """() => Object.fromEntries([...document.querySelectorAll('svg.chart rect')]
                    .filter(r => r.querySelector('title'))
                    .map(r => [r.querySelector('title').textContent.split(':')[0],
                               getComputedStyle(r).fill]))"""
            )
            assert fills["import"] != fills["stalled"]  # an import is not drawn as a failure
            assert fills["import"] == "rgb(16, 185, 129)" and fills["stalled"] == "rgb(239, 68, 68)"
            page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

            # the instance view: find a torrent by name, open its history
            page.goto(f"{base}/instances/{SEEDED}")
            page.fill("#torrent-search", "Movie.00010")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**q=Movie.00010**")
            link = page.locator("td.name a", has_text="Movie.00010.2023")
            gone = suite.query("SELECT COUNT(*) AS n FROM torrents WHERE gone_at IS NOT NULL")[0][
                "n"
            ]
            assert link.count() == 1, f"{gone} torrents marked gone by the manager"
            page.screenshot(path=str(SHOTS / "instance.png"), full_page=True)
            link.click()
            page.wait_for_url(f"**/torrents/{seedmod.thash(10)}")
            assert page.locator("ol.timeline li").count() >= 1
            page.screenshot(path=str(SHOTS / "torrent-history.png"), full_page=True)

            # the XSS torrent name is text, and no script ran
            page.goto(f"{base}/instances/{SEEDED}?q=script")
            assert page.locator("td.name a").first.inner_text() == "<script>alert(1)</script>"
            page.screenshot(path=str(SHOTS / "xss-as-text.png"), full_page=True)
            page.goto(f"{base}/torrents/{seedmod.thash(0)}")
            assert page.locator("h1").inner_text() == "<script>alert(1)</script>"

            # the journal
            page.goto(f"{base}/journal?rule=stalled")
            assert page.locator("table.journal tbody tr").count() >= 1
            page.screenshot(path=str(SHOTS / "journal.png"), full_page=True)

            # change a setting through the config page; the manager picks it up (SIGHUP)
            page.goto(f"{base}/config")
            page.locator("details.section", has_text="[Settings]").first.locator("summary").click()
            help_text = page.locator('label:has(input[data-field="Settings/LoopInterval"]) .help')
            assert help_text.is_visible()  # config.ini.example's explanation, beside the field
            assert help_text.inner_text().startswith("Time between two cycles of an Arr manager")
            page.fill('input[data-field="Settings/LoopInterval"]', "1.5s")
            page.click('button[value="preview"]')
            assert "+LoopInterval = 1.5s" in page.locator("#diff").inner_text()
            page.screenshot(path=str(SHOTS / "config-preview.png"), full_page=True)
            page.click('#config-form button[value="save"]')
            page.wait_for_selector("text=re-reads its settings")
            page.screenshot(path=str(SHOTS / "config-saved.png"), full_page=True)
            suite.wait_for(
                lambda: (
                    json.loads((suite.heartbeat("Radarr-A") or {}).get("stats") or "{}").get(
                        "loop_interval"
                    )
                    == 1.5
                ),
                "the manager running with LoopInterval 1.5 s",
            )
            page.goto(f"{base}/programs?log=arr:arr-radarr-a&q=LoopInterval 1.5")
            assert "LoopInterval 1.5" in page.locator("#logtext").inner_text()
            page.screenshot(path=str(SHOTS / "programs-log.png"), full_page=True)

            # a bad edit is refused next to the field, nothing written
            before = suite.home.config.read_bytes()
            page.goto(f"{base}/config")
            page.locator("details.section", has_text="[WebUI]").first.locator("summary").click()
            page.fill('input[data-field="WebUI/Port"]', "99999")
            page.click('#config-form button[value="save"]')
            error = page.locator("label.has-error .field-error")
            assert "at most 65535" in error.first.inner_text()
            page.screenshot(path=str(SHOTS / "config-error.png"), full_page=True)
            assert suite.home.config.read_bytes() == before
        finally:
            browser.close()
    assert alerts == []
