"""The real web UI (gunicorn, gthread) under a real supervisord, next to stand-in managers:
programs list, restart/stop/start, the webui refusing to stop itself, log follow and
search, and a config change that reaches the managers through SIGHUP."""

from __future__ import annotations

import httpx
import psutil
import pytest

from tests.conftest import free_port
from tests.support import webui_seed as seedmod
from tests.support import webui_supervisord
from tests.support.waiting import wait_for
from tests.support.webui_client import BEARER

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("webui")
    port = free_port()
    home = seedmod.make_home(root, port=port)
    seedmod.seed(home)
    s = webui_supervisord.start(home, webui=True)
    try:
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=BEARER, timeout=30)
        wait_for(
            lambda: c.get("/health").status_code == 200,
            timeout=60,
            interval=0.2,
            ignore=(httpx.HTTPError, OSError),
        )
        yield s, c
    finally:
        s.stop()


def test_gunicorn_gthread_one_worker(suite):
    s, c = suite
    health = c.get("/health").json()
    assert health == {
        "status": "ok",
        "database": True,
        "supervisor": True,
        "version": health["version"],
    }
    master = psutil.Process(s.processes()["webui"]["pid"])
    workers = master.children()
    assert len(workers) == 1
    assert (
        "qbarr-webui" in " ".join(master.cmdline()) or "gunicorn" in master.name() or master.name()
    )
    assert workers[0].num_threads() >= 2  # gthread: the main thread + its pool


def test_programs_and_restart_changes_pid(suite):
    s, c = suite
    items = {p["name"]: p for p in c.get("/api/programs").json()["items"]}
    assert {"webui", "arr:arr-radarr-main", "arr:arr-sonarr-tv"} <= set(items)
    assert all(p["state"] == "RUNNING" for p in items.values())
    manager = items["arr:arr-radarr-main"]
    assert manager["instance"]["name"] == "Radarr-Main" and manager["restarts"] == 2
    old_pid = manager["pid"]
    r = c.post("/api/programs/arr:arr-radarr-main/restart")
    assert r.status_code == 200 and r.json()["done"] == "restart"

    def restarted():
        items = c.get("/api/programs").json()["items"]
        return next(
            (
                x
                for x in items
                if x["name"] == "arr:arr-radarr-main"
                and x["state"] == "RUNNING"
                and x["pid"] != old_pid
            ),
            None,
        )

    new = wait_for(restarted, timeout=60, interval=0.2, ignore=(httpx.HTTPError, OSError))
    assert new["pid"] != old_pid


def test_stop_start_and_state_errors(suite):
    _s, c = suite
    assert c.post("/api/programs/arr:arr-sonarr-tv/stop").json()["state"] == "STOPPED"
    r = c.post("/api/programs/arr:arr-sonarr-tv/stop")
    assert r.status_code == 200  # stopping a stopped program is a no-op
    assert c.post("/api/programs/arr:arr-sonarr-tv/start").status_code == 200
    wait_for(
        lambda: any(
            p["name"] == "arr:arr-sonarr-tv" and p["state"] == "RUNNING"
            for p in c.get("/api/programs").json()["items"]
        ),
        timeout=60,
        interval=0.2,
        ignore=(httpx.HTTPError, OSError),
    )
    r = c.post("/api/programs/arr:arr-sonarr-tv/start")
    assert r.status_code == 409
    assert c.post("/api/programs/webui/stop").status_code == 409
    assert c.post("/api/programs/webui/restart").status_code == 409
    assert c.post("/api/programs/no-such/restart").status_code == 404


def test_log_follow_search_and_hup_on_config_change(suite):
    s, c = suite
    first = c.get("/api/programs/arr:arr-radarr-main/log").json()
    assert "started pid" in first["text"]
    offset = first["offset"]
    view = c.get("/api/config").json()
    r = c.post(
        "/api/config",
        json={
            "base": view["base"],
            "changes": [{"path": ["Settings"], "key": "LoopInterval", "value": "7s"}],
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["saved"] is True, body
    assert {"arr:arr-radarr-main", "arr:arr-sonarr-tv"} <= set(body["applied"]["signalled"])
    fresh = wait_for(
        lambda: (
            (t := c.get("/api/programs/arr:arr-radarr-main/log", params={"offset": offset}).json())
            and "SIGHUP" in t["text"]
            and t
        ),
        timeout=60,
        interval=0.2,
        ignore=(httpx.HTTPError, OSError),
    )
    assert "started pid" not in fresh["text"]  # only what came after the offset
    found = c.get("/api/programs/arr:arr-radarr-main/log", params={"q": "sighup"}).json()["text"]
    assert found and all("SIGHUP" in line for line in found.splitlines())
    webui_log = c.get("/api/programs/webui/log").json()["text"]
    assert "GET /health" in webui_log and seedmod.TOKEN not in webui_log


def test_programs_page_and_brake_release_over_http(suite):
    _s, c = suite
    page = c.get("/programs", params={"log": "arr:arr-radarr-main"})
    assert page.status_code == 200 and "RUNNING" in page.text and 'id="logtext"' in page.text
    r = c.post("/api/instances/Radarr-Main/brake/release")
    assert r.status_code == 200
    metrics = c.get("/metrics").text
    assert 'qbarr_program_running{program="arr:arr-radarr-main"} 1.0' in metrics
    assert "qbarr_supervisor_up 1.0" in metrics


def test_cycle_time_is_shown_in_milliseconds(suite):
    _s, c = suite
    row = next(p for p in c.get("/programs").text.split("<tr") if "arr:arr-radarr-main" in p)
    assert "42ms" in row and "0.0s" not in row  # the seeded manager's cycle_s is 0.042
