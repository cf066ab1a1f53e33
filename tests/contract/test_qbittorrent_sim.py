"""The simulator's own promises, seen through the client: scripted states, time that
moves torrents (progress, stall, error, completion, share limits), scenarios that
repeat with a seed, the /sim control API, and the program under SIGTERM."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from qbarr.qbittorrent import QbtClient
from qbarr.sim.qbittorrent import SimConfig, serve_in_thread, spawn
from tests.conftest import free_port
from tests.support.waiting import wait_for

ALL_STATES = [
    "downloading",
    "forcedDL",
    "stalledDL",
    "metaDL",
    "forcedMetaDL",
    "uploading",
    "forcedUP",
    "stalledUP",
    "pausedUP",
    "pausedDL",
    "queuedDL",
    "queuedUP",
    "checkingDL",
    "checkingUP",
    "checkingResumeData",
    "moving",
    "error",
    "missingFiles",
]

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim():
    server = serve_in_thread(SimConfig(username="u", password="p", refresh_ms=20, seed=3))
    try:
        yield server
    finally:
        server.stop()


def control(sim, method: str, path: str, body=None):  # type: ignore[no-untyped-def]
    r = httpx.request(method, sim.url + path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def client(sim) -> QbtClient:  # type: ignore[no-untyped-def]
    return QbtClient(sim.url, "u", "p")


def test_every_state_can_be_scripted(sim) -> None:  # type: ignore[no-untyped-def]
    hashes = control(
        sim, "POST", "/sim/torrents", [{"state": s, "name": s, "size": "1G"} for s in ALL_STATES]
    )["hashes"]
    with client(sim) as c:
        snap = c.sync()
        assert [snap.torrents[h]["state"] for h in hashes] == ALL_STATES
        by_name = {t["name"]: t for t in snap.torrents.values()}
    assert by_name["uploading"]["upspeed"] > 0 and by_name["downloading"]["dlspeed"] > 0
    assert by_name["stalledUP"]["progress"] == 1 and by_name["stalledUP"]["completion_on"] > 0
    assert by_name["missingFiles"]["progress"] == 0 and by_name["missingFiles"]["completion_on"]
    assert by_name["metaDL"]["size"] == 0 and by_name["metaDL"]["total_size"] == -1
    assert control(sim, "GET", "/sim/state")["by_state"] == {s: 1 for s in ALL_STATES}


def test_time_moves_torrents(sim) -> None:  # type: ignore[no-untyped-def]
    """Progress at the torrent's speed, then completion; a scheduled stall and error;
    the clock can jump so minutes pass in no time. The simulator's clock is stopped first
    (time_scale 0), so only the jumps move it and every figure is exact."""
    control(sim, "POST", "/sim/clock", {"time_scale": 0})
    done, stall, err = control(
        sim,
        "POST",
        "/sim/torrents",
        [
            {"name": "Fast", "size": 10_000_000, "state": "downloading", "dl_speed": 1_000_000},
            {"name": "Stalls", "size": 10**9, "state": "downloading", "stall_after": 30},
            {
                "name": "Breaks",
                "size": 10**9,
                "state": "downloading",
                "error_after": 40,
                "error_message": "No space left on device",
            },
        ],
    )["hashes"]
    with client(sim) as c:
        snap = c.sync()
        assert snap.torrents[done]["progress"] == 0
        assert snap.torrents[done]["eta"] == 10 and snap.torrents[done]["state"] == "downloading"
        control(sim, "POST", "/sim/clock", {"advance": 5})  # 5 of the 10 MB at 1 MB/s
        snap = wait_for(lambda: (s := c.sync()) and done in s.changed and s)
        assert snap.torrents[done]["progress"] == pytest.approx(0.5)
        assert snap.torrents[done]["eta"] == 5
        control(sim, "POST", "/sim/clock", {"advance": 60})
        wait_for(lambda: c.sync().torrents[err]["state"] == "error")
        t = snap.torrents
        assert t[done]["state"] == "stalledUP" and t[done]["progress"] == 1
        assert t[done]["completion_on"] > 0 and t[done]["amount_left"] == 0
        assert t[stall]["state"] == "stalledDL" and 0 <= t[stall]["availability"] < 1
        assert t[stall]["num_seeds"] == 0 and t[stall]["eta"] == 8640000
        c.recheck([err])  # the error is still there after the check
        control(sim, "POST", "/sim/clock", {"advance": 10})
        wait_for(lambda: c.sync().torrents[err]["state"] == "error")
        free = c.sync().server_state["free_space_on_disk"]
        assert free < 500 * 1024**3  # downloads use disk space


def test_share_limit_pauses_a_seed(sim) -> None:  # type: ignore[no-untyped-def]
    (h,) = control(
        sim,
        "POST",
        "/sim/torrents",
        [
            {
                "state": "uploading",
                "size": 1_000_000,
                "downloaded": 1_000_000,
                "up_speed": 1_000_000,
                "tracker": "http://t.invalid/a",
            }
        ],
    )["hashes"]
    with client(sim) as c:
        c.set_share_limits([h], 2.0, -1)
        control(sim, "POST", "/sim/clock", {"advance": 3})
        t = wait_for(lambda: (t := c.torrents_info([h])[0])["state"] == "pausedUP" and t)
        assert t["ratio"] >= 2


def test_global_download_limit_caps_speeds(sim) -> None:  # type: ignore[no-untyped-def]
    control(
        sim,
        "POST",
        "/sim/torrents",
        [{"state": "downloading", "size": "10G", "dl_speed": "10M"} for _ in range(4)],
    )
    control(sim, "POST", "/sim/server", {"dl_rate_limit": 4 * 2**20})
    control(sim, "POST", "/sim/tick", {})
    with client(sim) as c:
        snap = c.sync()
        assert snap.server_state["dl_rate_limit"] == 4 * 2**20
        assert sum(t["dlspeed"] for t in snap.torrents.values()) <= 4 * 2**20 + 4
        assert c.transfer_info()["dl_info_speed"] <= 4 * 2**20 + 4


def test_scenario_is_repeatable(sim) -> None:  # type: ignore[no-untyped-def]
    spec = {
        "seed": 42,
        "torrents": 300,
        "categories": {"radarr": "/m", "sonarr": "/tv"},
        "mix": {"complete": 0.5, "downloading": 0.3, "stalled": 0.1, "error": 0.1},
        "stall": {"fraction": 0.5, "after": [10, 20]},
    }
    control(sim, "POST", "/sim/scenario", spec)
    other = serve_in_thread(SimConfig(username="u", password="p", seed=9), scenario_spec=spec)
    try:
        with client(sim) as a, QbtClient(other.url, "u", "p") as b:
            ta, tb = a.sync().torrents, b.sync().torrents
    finally:
        other.stop()
    assert len(ta) == 300 and set(ta) == set(tb)
    assert {h: t["name"] for h, t in ta.items()} == {h: t["name"] for h, t in tb.items()}
    assert {t["category"] for t in ta.values()} == {"radarr", "sonarr"}
    states = {t["state"] for t in ta.values()}
    assert {"stalledUP", "downloading", "stalledDL", "error"} <= states


def test_added_magnets_get_a_swarm_with_on_add(sim) -> None:  # type: ignore[no-untyped-def]
    control(
        sim,
        "POST",
        "/sim/scenario",
        {"on_add": {"meta_after": [1, 2], "size": [1e7, 1e7], "speed": [1e6, 1e6]}},
    )
    h = "ab" * 20
    with client(sim) as c:
        c.add(urls=[f"magnet:?xt=urn:btih:{h}&dn=Swarmed"], category="radarr")
        assert c.torrents_info([h])[0]["state"] == "metaDL"
        control(sim, "POST", "/sim/clock", {"advance": 2.5})
        wait_for(lambda: c.torrents_info([h])[0]["state"] == "downloading")
        assert c.files(h)[0]["size"] == 10_000_000
        control(sim, "POST", "/sim/clock", {"advance": 12})
        wait_for(lambda: c.torrents_info([h])[0]["state"] == "stalledUP")


def test_control_api(sim) -> None:  # type: ignore[no-untyped-def]
    (h,) = control(
        sim,
        "POST",
        "/sim/torrents",
        {"name": "Controlled", "state": "stalledDL", "category": "radarr", "tags": "a,b"},
    )["hashes"]
    with client(sim) as c:
        c.sync()
        control(sim, "POST", f"/sim/torrents/{h}", {"state": "missingFiles"})
        snap = wait_for(lambda: (s := c.sync()) and h in s.changed and s)
        assert snap.torrents[h]["state"] == "missingFiles" and snap.torrents[h]["tags"] == "a, b"
        view = control(sim, "GET", f"/sim/torrents/{h}")
        assert view["inner"]["missing"] is True and view["fields"]["category"] == "radarr"
        assert httpx.delete(f"{sim.url}/sim/torrents/{h}").status_code == 200
        assert h in c.sync().removed
        assert httpx.post(f"{sim.url}/sim/torrents", json={"state": "bogus"}).status_code == 400
        assert control(sim, "POST", "/sim/sessions/drop", {})["dropped"] == 1
        c.sync()
        assert c.stats["logins"] == 2
        state = control(sim, "GET", "/sim/state")
        assert state["api"] == "4" and state["sessions"] == 1


def test_restart_resets_sessions_and_rids(sim) -> None:  # type: ignore[no-untyped-def]
    control(sim, "POST", "/sim/torrents", {"state": "stalledUP"})
    with client(sim) as c:
        first = c.sync().rid
        assert not c.sync().full_update
        control(sim, "POST", "/sim/restart", {})
        snap = c.sync()
        assert snap.full_update and snap.rid == first == 1
        assert {t["state"] for t in snap.torrents.values()} == {"checkingResumeData"}
        control(sim, "POST", "/sim/clock", {"advance": 1})
        wait_for(lambda: {t["state"] for t in c.sync().torrents.values()} == {"stalledUP"})


def test_a_hung_request_does_not_block_other_clients(sim) -> None:  # type: ignore[no-untyped-def]
    import threading

    control(sim, "POST", "/sim/torrents", [{"state": "downloading"} for _ in range(20)])
    control(sim, "POST", "/sim/faults", {"hang": 3, "path": "transfer/info"})
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            with client(sim) as slow:
                slow.transfer_info()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    slow_thread = threading.Thread(target=hang)
    slow_thread.start()
    wait_for(lambda: control(sim, "GET", "/sim/faults")["injected"]["delayed"] >= 1)
    with client(sim) as quick:
        for _ in range(5):
            assert len(quick.sync().torrents) == 20
    assert slow_thread.is_alive()  # still waiting while the others were served
    slow_thread.join(10)
    assert not errors


def test_rid_rules_match_qbittorrent(sim) -> None:  # type: ignore[no-untyped-def]
    (h,) = control(sim, "POST", "/sim/torrents", {"state": "stalledDL"})["hashes"]
    raw = httpx.Client(base_url=sim.url + "/api/v2/")
    raw.post("auth/login", data={"username": "u", "password": "p"})
    get = lambda rid: raw.get("sync/maindata", params={"rid": rid}).json()  # noqa: E731
    assert get(0)["rid"] == 1
    assert get(1) == {"rid": 2}
    raw.post("torrents/addTags", data={"hashes": h, "tags": "x"})
    diff = get(2)
    assert diff["rid"] == 3 and diff["torrents"] == {h: {"tags": "x"}} and diff["tags"] == ["x"]
    assert get(2)["torrents"] == {h: {"tags": "x"}}  # the lost answer is sent again
    assert get(999999)["full_update"] is True
    assert get("abc")["rid"] == 1  # unparsable rid: full update, counter restarts
    raw.close()


def test_program_serves_and_exits_0_on_sigterm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"torrents": 50, "seed": 1, "categories": ["radarr"]}))
    proc = spawn(
        free_port(),
        "--api",
        "5.2",
        "--scenario",
        str(scenario),
        "--torrents",
        "60",
        log_path=str(tmp_path / "sim.log"),
        env={"QBARR_SIM_QBT_PASSWORD": "from-env", "QBARR_SIM_QBT_API_KEY": "k"},
    )
    try:
        state = proc.control("GET", "/sim/state")
        assert state["torrents"] == 60 and state["version"] == "v5.2.3"
        with QbtClient(proc.url, "admin", "from-env") as c:
            assert len(c.sync().torrents) == 60
        with QbtClient(proc.url, api_key="k") as c:
            assert c.version().v5
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(10) == 0  # exits 0, well within supervisord's stopwaitsecs
    finally:
        proc.stop()
    log = (tmp_path / "sim.log").read_text()
    assert "simulated at" in log and "from-env" not in log
