"""The qBittorrent client contract: one suite, run against the simulator and a real
qbittorrent-nox 4.5.2 (Debian 12) with real torrents made from local data.

Where the two disagree the simulator is wrong. Each target is started once per
module (a subprocess, stopped in a finally); tests that change shared torrents
restore them or use their own.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from qbarr.qbittorrent import (
    QbtAuthError,
    QbtClient,
    QbtConflict,
    QbtError,
    QbtNotFound,
    QbtVersion,
)
from qbarr.qbittorrent.nox import binary as nox_binary
from tests.conftest import ARTIFACTS, free_port, skip_missing_tool
from tests.support.qbt_targets import PASSWORD, RealTarget, SimTarget, Target
from tests.support.torrents import Torrent, make_torrent, payload_dir, random_hash
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

# captured from qbittorrent-nox 4.5.2: the simulator in --api 4 must answer the same shapes
TORRENT_FIELDS = {
    "added_on",
    "amount_left",
    "auto_tmm",
    "availability",
    "category",
    "completed",
    "completion_on",
    "content_path",
    "dl_limit",
    "dlspeed",
    "download_path",
    "downloaded",
    "downloaded_session",
    "eta",
    "f_l_piece_prio",
    "force_start",
    "hash",
    "infohash_v1",
    "infohash_v2",
    "last_activity",
    "magnet_uri",
    "max_ratio",
    "max_seeding_time",
    "name",
    "num_complete",
    "num_incomplete",
    "num_leechs",
    "num_seeds",
    "priority",
    "progress",
    "ratio",
    "ratio_limit",
    "save_path",
    "seeding_time",
    "seeding_time_limit",
    "seen_complete",
    "seq_dl",
    "size",
    "state",
    "super_seeding",
    "tags",
    "time_active",
    "total_size",
    "tracker",
    "trackers_count",
    "up_limit",
    "uploaded",
    "uploaded_session",
    "upspeed",
}
PROPERTY_FIELDS = {
    "addition_date",
    "comment",
    "completion_date",
    "created_by",
    "creation_date",
    "dl_limit",
    "dl_speed",
    "dl_speed_avg",
    "download_path",
    "eta",
    "hash",
    "infohash_v1",
    "infohash_v2",
    "is_private",
    "last_seen",
    "name",
    "nb_connections",
    "nb_connections_limit",
    "peers",
    "peers_total",
    "piece_size",
    "pieces_have",
    "pieces_num",
    "reannounce",
    "save_path",
    "seeding_time",
    "seeds",
    "seeds_total",
    "share_ratio",
    "time_elapsed",
    "total_downloaded",
    "total_downloaded_session",
    "total_size",
    "total_uploaded",
    "total_uploaded_session",
    "total_wasted",
    "up_limit",
    "up_speed",
    "up_speed_avg",
}
SERVER_STATE_FIELDS = {
    "alltime_dl",
    "alltime_ul",
    "average_time_queue",
    "connection_status",
    "dht_nodes",
    "dl_info_data",
    "dl_info_speed",
    "dl_rate_limit",
    "free_space_on_disk",
    "global_ratio",
    "queued_io_jobs",
    "queueing",
    "read_cache_hits",
    "read_cache_overload",
    "refresh_interval",
    "total_buffers_size",
    "total_peer_connections",
    "total_queued_size",
    "total_wasted_session",
    "up_info_data",
    "up_info_speed",
    "up_rate_limit",
    "use_alt_speed_limits",
    "write_cache_overload",
}
TRANSFER_FIELDS = {
    "connection_status",
    "dht_nodes",
    "dl_info_data",
    "dl_info_speed",
    "dl_rate_limit",
    "up_info_data",
    "up_info_speed",
    "up_rate_limit",
}
FILE_FIELDS = {"availability", "index", "name", "piece_range", "priority", "progress", "size"}
TRACKER_FIELDS = {
    "msg",
    "num_downloaded",
    "num_leeches",
    "num_peers",
    "num_seeds",
    "status",
    "tier",
    "url",
}


@dataclass
class World:
    target: Target
    client: QbtClient
    data: Path
    seed: Torrent
    seed2: Torrent
    ghost: Torrent
    doomed: Torrent
    fragile: Torrent
    fragile_dir: Path
    doomed_dir: Path
    err: Torrent
    magnet: str
    paused_magnet: str
    extra: dict[str, Any] = field(default_factory=dict)

    def info(self, h: str) -> dict[str, Any]:
        found = self.client.torrents_info(hashes=[h])
        return found[0] if found else {}

    def wait_state(self, h: str, states: set[str], timeout: float = 30.0) -> dict[str, Any]:
        return wait_for(
            lambda: (t := self.info(h)) and t["state"] in states and t,
            timeout,
            what=f"{h[:8]} in {sorted(states)}",
        )


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's capture, and keep a copy in test-artifacts/."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "qbittorrent-versions.txt", "a") as fh:
        fh.write(line + "\n")


def _start(kind: str, workdir: Path) -> Target:
    if kind == "sim":
        return SimTarget(workdir, free_port())
    if nox_binary() is None:
        skip_missing_tool("qbittorrent-nox", "apt-get install qbittorrent-nox")
    return RealTarget(workdir, free_port())


def _build(target: Target, workdir: Path) -> World:
    """Real torrents from local data: seeds (data present), a download nobody serves,
    a magnet without peers, a paused magnet, and one whose save path is below a file."""
    data = workdir / "data"
    seed = make_torrent(payload_dir(data, "Seed.Movie.2020", [200_000, 3_000], 1))
    seed2 = make_torrent(payload_dir(data, "Second.Seed.2021", [1_500_000, 40_000], 2))
    doomed_dir = payload_dir(data, "Doomed.Release.2019", [120_000], 3)
    doomed = make_torrent(doomed_dir)
    fragile_dir = payload_dir(data, "Fragile.Movie.2018", [90_000, 9_000], 4)
    fragile = make_torrent(fragile_dir)
    ghost = make_torrent(
        payload_dir(workdir / "gone", "Ghost.Show.S01E01", [150_000, 300_000, 1_000], 5)
    )
    err = make_torrent(payload_dir(workdir / "gone", "Broken.Download", [80_000], 6))
    shutil.rmtree(workdir / "gone")
    blocker = workdir / "blocker"
    blocker.write_text("a regular file, not a directory\n")
    rnd = random.Random(7)
    magnet = f"magnet:?xt=urn:btih:{random_hash(rnd)}&dn=Nobody.Has.This"
    paused_magnet = f"magnet:?xt=urn:btih:{random_hash(rnd)}&dn=Paused.Magnet"

    client = target.client()
    client.create_category("radarr", str(workdir / "movies"))
    client.add(torrent_files=[seed.data], category="radarr", tags=["seed"], save_path=str(data))
    client.add(torrent_files=[seed2.data, doomed.data, fragile.data], save_path=str(data))
    client.add(torrent_files=[ghost.data], save_path=str(workdir / "dl"), category="tv-sonarr")
    client.add(urls=[magnet], save_path=str(workdir / "dl"))
    client.add(urls=[paused_magnet], save_path=str(workdir / "dl"), paused=True)
    client.add(torrent_files=[err.data], save_path=str(blocker / "sub"))
    world = World(
        target,
        client,
        data,
        seed,
        seed2,
        ghost,
        doomed,
        fragile,
        fragile_dir,
        doomed_dir,
        err,
        magnet,
        paused_magnet,
    )
    for h in (seed.hash, seed2.hash, doomed.hash, fragile.hash):
        world.wait_state(h, {"stalledUP"})
    world.wait_state(ghost.hash, {"stalledDL"})
    world.wait_state(_hash(magnet), {"metaDL"})
    world.wait_state(_hash(paused_magnet), {"pausedDL"})
    world.wait_state(err.hash, {"error"})
    return world


def _hash(magnet: str) -> str:
    return magnet.split("btih:")[1].split("&")[0]


@pytest.fixture(scope="module", params=["sim", pytest.param("real", marks=pytest.mark.qbt)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp(f"qbt-{request.param}")
    target = _start(request.param, workdir)
    try:
        world = _build(target, workdir)
        v = world.client.version()
        what = "qbittorrent-nox" if target.kind == "real" else "simulator (--api 4)"
        _report(request, f"qbittorrent contract suite ran against {what}: {v}")
        yield world
        world.client.close()
    finally:
        target.stop()


# ---------------------------------------------------------------------- auth + version
def test_version_probe(world: World) -> None:
    v = world.client.version()
    assert isinstance(v, QbtVersion)
    assert v.app == "v4.5.2" and v.webapi == (2, 8, 19)
    assert not v.v5 and not v.needs_inactive_seeding_limit
    assert world.client.version() is v  # cached


def test_wrong_password_is_a_clear_error_not_a_loop(world: World) -> None:
    with QbtClient(world.target.url, world.target.username, "wrong-password") as bad:
        with pytest.raises(QbtAuthError) as first:
            bad.login()
        with pytest.raises(QbtAuthError):
            bad.transfer_info()  # the implicit login fails the same way, once
        assert bad.stats["logins"] == 2
    message = str(first.value)
    assert "username or password" in message
    assert "wrong-password" not in message and PASSWORD not in message


def test_login_and_relogin_after_session_loss(world: World) -> None:
    with world.target.client() as c:
        c.login()
        assert c.stats["logins"] == 1
        first = c.sync()
        assert first.full_update
        # end the session behind the client's back, with its own cookie
        cookies = dict(c._auth._cookies)
        assert cookies, "login set no cookie"
        r = httpx.post(world.target.url + "/api/v2/auth/logout", cookies=cookies)
        assert r.status_code == 200
        assert set(c.transfer_info()) >= TRANSFER_FIELDS  # 403 -> login -> replay
        assert c.stats["logins"] == 2
        again = c.sync()  # the new session does not know the old rid
        assert again.full_update and world.seed.hash in again.torrents
        c.logout()
        assert c.preferences()["save_path"]  # logs in again by itself
        assert c.stats["logins"] == 3


# ---------------------------------------------------------------------- shapes
def test_response_shapes_match_qbittorrent_452(world: World) -> None:
    c = world.client
    torrents = {t["hash"]: t for t in c.torrents_info()}
    for h in (world.seed.hash, world.ghost.hash, _hash(world.magnet)):
        assert set(torrents[h]) == TORRENT_FIELDS
    assert set(c.properties(world.seed.hash)) == PROPERTY_FIELDS
    files = c.files(world.seed.hash)
    assert set(files[0]) == FILE_FIELDS | {"is_seed"} and set(files[1]) == FILE_FIELDS
    assert all(set(row) == TRACKER_FIELDS for row in c.trackers(world.seed.hash))
    assert set(c.transfer_info()) == TRANSFER_FIELDS
    prefs = c.preferences()
    assert len(prefs) == 174 and prefs["save_path"] and "start_paused_enabled" in prefs
    with world.target.client() as fresh:
        assert set(fresh.sync().server_state) == SERVER_STATE_FIELDS


def test_states_and_fields_of_real_torrents(world: World) -> None:
    seed, ghost = world.info(world.seed.hash), world.info(world.ghost.hash)
    assert seed["state"] == "stalledUP" and seed["progress"] == 1 and seed["amount_left"] == 0
    assert seed["size"] == seed["total_size"] == world.seed.size == seed["completed"]
    assert seed["completion_on"] > 0 and seed["availability"] == -1 and seed["priority"] == 0
    assert seed["category"] == "radarr" and seed["tags"] == "seed"
    assert seed["content_path"] == str(world.data / "Seed.Movie.2020")
    assert seed["save_path"].rstrip("/") == str(world.data)
    assert seed["magnet_uri"].startswith(f"magnet:?xt=urn:btih:{world.seed.hash}&dn=Seed.Movie")
    assert seed["eta"] == 8640000 and seed["ratio"] == 0 and seed["ratio_limit"] == -2
    assert ghost["state"] == "stalledDL" and ghost["progress"] == 0
    assert ghost["amount_left"] == world.ghost.size and ghost["completion_on"] == 0
    assert ghost["category"] == "tv-sonarr" and ghost["num_seeds"] == 0
    magnet = world.info(_hash(world.magnet))
    assert magnet["state"] == "metaDL" and magnet["size"] == 0 and magnet["total_size"] == -1
    assert magnet["name"] == "Nobody.Has.This" and magnet["content_path"] == ""
    assert world.info(_hash(world.paused_magnet))["state"] == "pausedDL"
    err = world.info(world.err.hash)
    assert err["state"] == "error" and err["progress"] == 0


def test_torrents_info_filters(world: World) -> None:
    c = world.client
    two = c.torrents_info(hashes=[world.seed.hash.upper(), world.ghost.hash])
    assert {t["hash"] for t in two} == {world.seed.hash, world.ghost.hash}
    radarr = {t["hash"] for t in c.torrents_info(category="radarr")}
    assert world.seed.hash in radarr and world.ghost.hash not in radarr
    uncategorised = {t["hash"] for t in c.torrents_info(category="")}
    assert world.seed2.hash in uncategorised and world.seed.hash not in uncategorised
    calls = c.stats["calls"]
    assert c.torrents_info(hashes=[]) == [] and c.stats["calls"] == calls  # no request
    assert c.torrents_info(hashes=["0" * 40]) == []


def test_filters_agree(world: World) -> None:
    """torrents/info?filter= for the fixed torrents (the states qbarr's rules group on)."""
    c = world.client
    seed, ghost, magnet = world.seed.hash, world.ghost.hash, _hash(world.magnet)
    paused, err = _hash(world.paused_magnet), world.err.hash

    def names(flt: str) -> set[str]:
        found = {t["hash"] for t in c.torrents_info(filter=flt)}
        return found & {seed, ghost, magnet, paused, err}

    assert names("downloading") == {ghost, magnet, paused}
    assert names("seeding") == {seed} == names("completed")
    assert names("paused") == {paused}
    assert names("resumed") == {seed, ghost, magnet, err}
    assert names("active") == {magnet}
    assert names("stalled") == {seed, ghost}
    assert names("stalled_downloading") == {ghost}
    assert names("errored") == {err}
    assert names("no-such-filter") == {seed, ghost, magnet, paused, err}
    assert {t["hash"] for t in c.torrents_info(tag="seed")} == {seed}


def test_files_trackers_properties(world: World) -> None:
    c = world.client
    files = c.files(world.seed.hash)
    assert [f["name"] for f in files] == ["Seed.Movie.2020/f0.bin", "Seed.Movie.2020/f1.bin"]
    assert [f["size"] for f in files] == [200_000, 3_000]
    assert files[0]["is_seed"] is True and "is_seed" not in files[1]
    assert all(f["progress"] == 1 and f["priority"] == 1 for f in files)
    assert files[0]["piece_range"][0] == 0
    ghost_files = c.files(world.ghost.hash)
    assert ghost_files[0]["is_seed"] is False and ghost_files[0]["progress"] == 0
    assert c.files(_hash(world.magnet)) == []
    trackers = c.trackers(world.seed.hash)
    assert [t["url"] for t in trackers[:3]] == ["** [DHT] **", "** [PeX] **", "** [LSD] **"]
    props = c.properties(world.seed.hash)
    assert props["total_size"] == world.seed.size and props["pieces_have"] == props["pieces_num"]
    assert props["hash"] == world.seed.hash and props["created_by"] == "qbarr-tests"
    assert props["dl_limit"] == -1 and props["completion_date"] > 0
    mprops = c.properties(_hash(world.magnet))
    assert mprops["total_size"] == -1 and mprops["pieces_num"] == -1
    for call in (c.files, c.trackers, c.properties):
        with pytest.raises(QbtNotFound) as exc:
            call("0" * 40)
        assert exc.value.status == 404 and "torrents/" in str(exc.value)


# ---------------------------------------------------------------------- sync
def test_incremental_sync(world: World) -> None:
    with world.target.client() as c:
        snap = c.sync()
        assert snap.full_update and snap.rid > 0 and snap.last_bytes > 1000
        assert {world.seed.hash, world.ghost.hash, _hash(world.magnet)} <= set(snap.torrents)
        assert snap.torrents[world.seed.hash]["hash"] == world.seed.hash
        assert "radarr" in snap.categories and "seed" in snap.tags
        assert set(snap.server_state) == SERVER_STATE_FIELDS
        assert c.sync() is snap  # one Snapshot, updated in place

        def synced(check):  # sync until check(snapshot) holds
            return wait_for(lambda: check(c.sync()) and snap, what="a sync showing the change")

        c.add_tags([world.ghost.hash], ["sync-tag", "second"])
        synced(
            lambda s: "sync-tag" in s.tags and "sync-tag" in s.torrents[world.ghost.hash]["tags"]
        )
        c.create_category("sync-cat", "")
        synced(lambda s: "sync-cat" in s.categories)
        c.set_category([world.ghost.hash], "sync-cat")
        synced(lambda s: s.torrents[world.ghost.hash]["category"] == "sync-cat")
        c.remove_tags([world.ghost.hash], ["sync-tag"])
        synced(lambda s: s.torrents[world.ghost.hash]["tags"] == "second")
        c.set_category([world.ghost.hash], "tv-sonarr")
        synced(lambda s: s.torrents[world.ghost.hash]["category"] == "tv-sonarr")
        extra = f"magnet:?xt=urn:btih:{random_hash(random.Random(11))}&dn=Comes.And.Goes"
        c.add(urls=[extra], category="sync-cat", paused=True)
        h = _hash(extra)
        synced(lambda s: h in s.torrents)
        assert snap.torrents[h]["name"] == "Comes.And.Goes" and not snap.full_update
        assert snap.torrents[h]["category"] == "sync-cat"
        c.delete([h], delete_files=False)
        synced(lambda s: h in s.removed and h not in s.torrents)
        c.remove_categories(["sync-cat"])
        c.delete_tags(["second"])
        synced(
            lambda s: (
                "sync-cat" not in s.categories
                and "second" not in s.tags
                and s.torrents[world.ghost.hash]["tags"] == ""
            )
        )


def test_idle_sync_is_one_small_request(world: World) -> None:
    with world.target.client() as c:
        c.sync()
        snap = wait_for(
            lambda: (s := c.sync()) and not s.changed and not s.removed and s, what="an idle sync"
        )
        calls = c.stats["calls"]
        c.sync()
        assert c.stats["calls"] == calls + 1
        assert not snap.full_update and snap.last_bytes < 400


# ---------------------------------------------------------------------- actions
def test_pause_and_resume(world: World) -> None:
    c, h = world.client, world.seed2.hash
    c.pause([h])
    world.wait_state(h, {"pausedUP"})
    c.resume([h])
    world.wait_state(h, {"stalledUP"})
    c.pause([])  # nothing to do: no request, never "all"
    assert world.info(world.seed.hash)["state"] == "stalledUP"


def test_recheck_reads_the_data_again(world: World) -> None:
    """A recheck is seen in what it finds, not in a checking state a fast check may hide:
    a damaged file makes the seed incomplete, the restored file complete again."""
    c, h = world.client, world.seed2.hash
    damaged = world.data / world.seed2.files[-1]
    original = damaged.read_bytes()
    damaged.write_bytes(original[: len(original) // 2])
    try:
        c.recheck([h])
        found = wait_for(
            lambda: (t := world.info(h)) and t["progress"] < 1 and not is_checking(t) and t,
            what="the recheck finding the damaged file",
        )
        assert found["amount_left"] > 0 and found["state"] == "stalledDL"
    finally:
        damaged.write_bytes(original)
    c.recheck([h])
    restored = world.wait_state(h, {"stalledUP"})
    assert restored["progress"] == 1 and restored["amount_left"] == 0
    c.reannounce([h])  # accepted (no trackers: no visible effect)


def is_checking(torrent: dict[str, Any]) -> bool:
    return str(torrent["state"]).startswith("checking")


def test_categories_and_tags(world: World) -> None:
    c = world.client
    with pytest.raises(QbtConflict) as unknown:
        c.set_category([world.seed.hash], "no-such-category")
    assert unknown.value.status == 409
    with pytest.raises(QbtConflict):
        c.create_category("radarr")
    with pytest.raises(QbtError) as empty:
        c.create_category("")
    assert empty.value.status == 400
    c.create_tags(["made-1", "made-2"])
    with world.target.client() as fresh:
        assert {"made-1", "made-2"} <= fresh.sync().tags


def test_file_priority(world: World) -> None:
    """Sizes count whole pieces: skipping a file shrinks "size" by the pieces only it
    uses; skipping every file makes the torrent "finished" (stalledUP, size 0)."""
    c, h = world.client, world.ghost.hash
    total = world.ghost.size
    c.file_prio(h, [1], 0)
    assert [f["priority"] for f in c.files(h)] == [1, 0, 1]
    size = wait_for(
        lambda: (t := world.info(h))["size"] < total and t["size"],
        what="size without the skipped file",
    )
    assert 151_000 < size < total and world.info(h)["amount_left"] == size
    c.file_prio(h, [0, 2], 0)
    t = world.wait_state(h, {"stalledUP"})
    assert t["size"] == 0 and t["amount_left"] == 0 and t["progress"] == 0
    c.file_prio(h, [0, 1, 2], 1)
    t = world.wait_state(h, {"stalledDL"})
    assert t["size"] == total and [f["priority"] for f in c.files(h)] == [1, 1, 1]
    with pytest.raises(QbtConflict):
        c.file_prio(_hash(world.magnet), [0], 0)  # no metadata yet
    with pytest.raises(QbtConflict):
        c.file_prio(h, [9], 0)  # no such file
    with pytest.raises(QbtError) as bad:
        c.file_prio(h, [0], 3)
    assert bad.value.status == 400
    with pytest.raises(QbtNotFound):
        c.file_prio("0" * 40, [0], 0)


def test_share_limits(world: World) -> None:
    c, h = world.client, world.seed2.hash
    c.set_share_limits([h], 2.0, 120)
    t = wait_for(lambda: (t := world.info(h)) and t["ratio_limit"] == 2 and t, what="ratio_limit 2")
    assert t["seeding_time_limit"] == 120 and t["max_ratio"] == 2 and t["max_seeding_time"] == 120
    c.set_share_limits([h], -2, -2)
    wait_for(lambda: world.info(h)["max_ratio"] == -1, what="limits back to global")


def test_add_duplicate_and_invalid(world: World) -> None:
    c = world.client
    with pytest.raises(QbtConflict):
        c.add(torrent_files=[world.seed.data])
    with pytest.raises(QbtError) as bad:
        c.add(torrent_files=[b"this is not a torrent"])
    assert bad.value.status == 415
    with pytest.raises(ValueError):
        c.add()


def test_delete_with_and_without_files(world: World) -> None:
    c = world.client
    assert world.doomed_dir.exists()
    c.delete([world.doomed.hash], delete_files=True)
    wait_for(lambda: not world.info(world.doomed.hash), what="doomed gone")
    wait_for(lambda: not (world.doomed_dir / "f0.bin").exists(), what="its data deleted")
    keep = f"magnet:?xt=urn:btih:{random_hash(random.Random(13))}&dn=Kept.Data"
    c.add(urls=[keep], paused=True)
    wait_for(lambda: world.info(_hash(keep)), what="magnet added")
    c.delete([_hash(keep)], delete_files=False)
    wait_for(lambda: not world.info(_hash(keep)), what="magnet gone")
    c.delete(["0" * 40], delete_files=False)  # unknown hashes are ignored, as by qBittorrent


def test_transfer_info_and_preferences(world: World) -> None:
    c = world.client
    info = c.transfer_info()
    # The simulator says connected; qbittorrent-nox listening on loopback, where no peer ever
    # connects in, says firewalled (disconnected would mean it could not listen at all).
    expected = "connected" if world.target.kind == "sim" else "firewalled"
    assert info["connection_status"] == expected
    assert info["dl_rate_limit"] == 0
    assert c.preferences()["queueing_enabled"] is False
    with world.target.client() as fresh:
        free = fresh.sync().server_state["free_space_on_disk"]
        # qBittorrent measures free space in the background: 0 until its first check
        assert isinstance(free, int) and free >= (1 if world.target.kind == "sim" else 0)
    stats = c.stats
    assert stats["calls"] > 0 and stats["bytes_in"] > 0


def test_missing_files_after_restart(world: World) -> None:
    """Last: restarting with a seed's data deleted gives missingFiles; the client logs in
    again by itself and its next sync is a full update."""
    c = world.client
    c.sync()
    logins = c.stats["logins"]
    shutil.rmtree(world.fragile_dir)
    world.target.restart()
    t = world.wait_state(world.fragile.hash, {"missingFiles"})
    assert c.stats["logins"] == logins + 1
    assert t["progress"] == 0 and t["amount_left"] == world.fragile.size
    assert t["completion_on"] > 0
    world.wait_state(world.seed.hash, {"stalledUP"})
    assert c.sync().full_update
    errored = {x["hash"] for x in c.torrents_info() if x["state"] in ("error", "missingFiles")}
    assert {world.fragile.hash, world.err.hash} <= errored
