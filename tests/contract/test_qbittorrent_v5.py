"""The client against the simulator's 5.x modes (no 5.x qbittorrent-nox exists for Debian,
so these differences are simulated from the reference): stop/start and stopped*
states (5.0+), the inactive-seeding and share-limit-action parameters, and 5.2's
login (204/401, QBT_SID_<port> cookie), API keys, JSON add results and 204 answers.
"""

from __future__ import annotations

import httpx
import pytest

from qbarr.qbittorrent import QbtAuthError, QbtClient, QbtConflict
from qbarr.sim.qbittorrent import SimConfig, api_mode, serve_in_thread
from tests.support.waiting import wait_for

USER, PASSWORD, KEY = "u5", "pw-5%x", "qbt_test-api-key-123"
MAGNET = "magnet:?xt=urn:btih:{:040x}&dn=Five.{}"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["5.0", "5.1", "5.2"])
def sim(request: pytest.FixtureRequest):
    server = serve_in_thread(
        SimConfig(
            api=api_mode(request.param),
            username=USER,
            password=PASSWORD,
            api_key=KEY,
            refresh_ms=50,
        )
    )
    try:
        yield server
    finally:
        server.stop()


def raw_login(sim) -> httpx.Client:  # type: ignore[no-untyped-def]
    raw = httpx.Client(base_url=sim.url + "/api/v2/")
    raw.post("auth/login", data={"username": USER, "password": PASSWORD})
    return raw


def test_version_and_stop_start(sim) -> None:  # type: ignore[no-untyped-def]
    with QbtClient(sim.url, USER, PASSWORD) as c:
        v = c.version()
        assert v.v5 and v.app.startswith("v5.") and v.needs_inactive_seeding_limit
        c.add(urls=[MAGNET.format(1, "Stopped")], paused=True)  # sent as stopped=true
        h = f"{1:040x}"
        assert c.torrents_info([h])[0]["state"] == "stoppedDL"
        c.resume([h])  # torrents/start
        assert c.torrents_info([h])[0]["state"] == "metaDL"
        c.pause([h])  # torrents/stop
        assert c.torrents_info([h])[0]["state"] == "stoppedDL"
        assert [t["hash"] for t in c.torrents_info(filter="paused")] == [h]  # -> "stopped"
        assert c.torrents_info(filter="resumed") == []
        t = c.torrents_info([h])[0]
        assert {"has_metadata", "private", "root_path", "popularity"} <= set(t)
        assert "add_stopped_enabled" in c.preferences()
    raw = raw_login(sim)
    assert raw.post("torrents/pause", data={"hashes": h}).status_code == 404
    assert raw.post("torrents/resume", data={"hashes": h}).status_code == 404
    raw.close()


def test_share_limits_send_what_each_version_requires(sim) -> None:  # type: ignore[no-untyped-def]
    with QbtClient(sim.url, USER, PASSWORD) as c:
        c.add(urls=[MAGNET.format(2, "Limits")])
        h = f"{2:040x}"
        c.set_share_limits([h], 1.5, 60, 30)
        t = c.torrents_info([h])[0]
        assert t["ratio_limit"] == 1.5 and t["seeding_time_limit"] == 60
        assert t["inactive_seeding_time_limit"] == 30
    raw = raw_login(sim)
    r = raw.post(
        "torrents/setShareLimits", data={"hashes": h, "ratioLimit": 1, "seedingTimeLimit": 1}
    )
    assert r.status_code == 400  # inactiveSeedingTimeLimit (and 5.2: shareLimitAction) missing
    raw.close()


def test_login_styles(sim) -> None:  # type: ignore[no-untyped-def]
    modern = sim.config.api.modern_auth
    r = httpx.post(sim.url + "/api/v2/auth/login", data={"username": USER, "password": "nope"})
    assert (r.status_code, r.text) == ((401, "Fails.") if modern else (200, "Fails."))
    r = httpx.post(sim.url + "/api/v2/auth/login", data={"username": USER, "password": PASSWORD})
    cookie = f"QBT_SID_{sim.port}" if modern else "SID"
    assert r.status_code == (204 if modern else 200) and cookie in r.cookies
    with QbtClient(sim.url, USER, "nope") as bad:
        with pytest.raises(QbtAuthError) as exc:
            bad.sync()
        assert "nope" not in str(exc.value) and bad.stats["logins"] == 1
    with QbtClient(sim.url, USER, PASSWORD) as c:
        c.sync()
        sim.store.drop_sessions()
        assert c.sync().full_update and c.stats["logins"] == 2


def test_api_key_and_json_add_on_52(sim) -> None:  # type: ignore[no-untyped-def]
    if not sim.config.api.modern_auth:
        r = httpx.get(sim.url + "/api/v2/app/version", headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 403  # before 5.2 the header is ignored
        return
    with QbtClient(sim.url, api_key=KEY) as c:
        c.login()  # nothing to do with a key
        assert c.version().webapi == (2, 15, 1)
        c.add(urls=[MAGNET.format(3, "Keyed")])
        with pytest.raises(QbtConflict):
            c.add(urls=[MAGNET.format(3, "Keyed")])  # 409 with a JSON body
        assert c.stats["logins"] == 0 and f"{3:040x}" in c.sync().torrents
        c.recheck([f"{3:040x}"])  # 204 No Content is success
    with QbtClient(sim.url, api_key="qbt_wrong") as bad, pytest.raises(QbtAuthError) as exc:
        bad.transfer_info()
    assert "qbt_wrong" not in str(exc.value) and exc.value.status == 401
    r = httpx.get(sim.url + "/api/v2/no/such", headers={"Authorization": f"Bearer {KEY}"})
    assert (r.status_code, r.text) == (404, "Endpoint does not exist")
    r = httpx.post(
        sim.url + "/api/v2/torrents/add",
        headers={"Authorization": f"Bearer {KEY}"},
        data={"urls": MAGNET.format(4, "Json")},
    )
    assert r.json() == {
        "success_count": 1,
        "failure_count": 0,
        "pending_count": 0,
        "added_torrent_ids": [f"{4:040x}"],
    }


def test_stopped_states_from_simulated_torrents(sim) -> None:  # type: ignore[no-untyped-def]
    with sim.store.lock:
        from qbarr.sim.qbittorrent.control import upsert

        seed, dl = upsert(
            sim.store, [{"state": "stoppedUP", "size": 1000}, {"state": "pausedDL", "size": 1000}]
        )
    with QbtClient(sim.url, USER, PASSWORD) as c:
        states = {t["hash"]: t["state"] for t in c.sync().torrents.values()}
        assert states == {seed: "stoppedUP", dl: "stoppedDL"}
        c.resume([seed, dl])
        wait_for(lambda: {t["state"] for t in c.torrents_info()} == {"stalledUP", "stalledDL"})
