"""Table tests for seeding limits, hit-and-run obligations and the free-space budget."""

from __future__ import annotations

import pytest

from qbarr.policy import Env, Memory, TrackerRule, decide
from tests.unit.policy_helpers import (
    DAY,
    GIB,
    HOUR,
    NOW,
    H,
    action,
    downloading,
    kinds,
    one,
    queue,
    seeding,
    settings,
)

IMPORTED = Memory(first_seen=NOW - DAY, import_sent_at=NOW - DAY)
TRACKER = "https://tracker.example.org:443/announce?passkey=x"


def tracker(**kw) -> TrackerRule:
    kw.setdefault("name", "example")
    kw.setdefault("host", "example.org")
    return TrackerRule(**kw)


# -- seeding limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "ratio,expected", [(1.99, "ok"), (2.0, "seeding-done"), (2.5, "seeding-done")]
)
def test_ratio_limit_boundary(ratio, expected) -> None:
    d = one(seeding(ratio=ratio), mem=IMPORTED, s=settings(max_ratio=2.0, remove_mode="ratio"))
    assert d.rule == expected
    if expected == "seeding-done":
        assert kinds(d) == ["delete"] and action(d, "delete").params == {"delete_files": True}


@pytest.mark.parametrize("seconds,expected", [(DAY - 1, "ok"), (DAY, "seeding-done")])
def test_seeding_time_boundary(seconds, expected) -> None:
    d = one(
        seeding(seeding_time=seconds),
        mem=IMPORTED,
        s=settings(max_seeding_time=DAY, remove_mode="time"),
    )
    assert d.rule == expected


@pytest.mark.parametrize(
    "mode,ratio,secs,expected",
    [
        ("either", 2.0, 0, "seeding-done"),
        ("either", 0.1, DAY, "seeding-done"),
        ("either", 0.1, 10, "ok"),
        ("both", 2.0, 10, "ok"),
        ("both", 0.1, DAY, "ok"),
        ("both", 2.0, DAY, "seeding-done"),
        ("never", 9.0, 9 * DAY, "ok"),
        ("ratio", 0.1, 9 * DAY, "ok"),
        ("time", 9.0, 10, "ok"),
    ],
)
def test_remove_modes(mode, ratio, secs, expected) -> None:
    s = settings(max_ratio=2.0, max_seeding_time=DAY, remove_mode=mode)
    assert one(seeding(ratio=ratio, seeding_time=secs), mem=IMPORTED, s=s).rule == expected


def test_a_zero_limit_is_never_reached() -> None:
    s = settings(max_ratio=0, max_seeding_time=DAY, remove_mode="both")
    assert one(seeding(ratio=50, seeding_time=50 * DAY), mem=IMPORTED, s=s).rule == "ok"
    s = settings(max_ratio=0, remove_mode="ratio")
    assert one(seeding(ratio=50), mem=IMPORTED, s=s).rule == "ok"


def test_tracker_limits_override_seeding_mode() -> None:
    s = settings(max_ratio=1.0, remove_mode="ratio", trackers=(tracker(max_ratio=3.0),))
    assert one(seeding(ratio=2.0, tracker=TRACKER), mem=IMPORTED, s=s).rule == "ok"
    assert one(seeding(ratio=3.0, tracker=TRACKER), mem=IMPORTED, s=s).rule == "seeding-done"
    assert (
        one(seeding(ratio=2.0, tracker="udp://other.net:80"), mem=IMPORTED, s=s).rule
        == "seeding-done"
    )


def test_tracker_matching_is_by_host_or_subdomain_most_specific_first() -> None:
    s = settings(
        max_ratio=1.0,
        remove_mode="ratio",
        trackers=(
            tracker(name="wide", host="example.org", max_ratio=5.0),
            tracker(name="narrow", host="tracker.example.org", max_ratio=2.0),
        ),
    )
    assert one(seeding(ratio=2.0, tracker=TRACKER), mem=IMPORTED, s=s).rule == "seeding-done"
    assert (
        one(seeding(ratio=2.0, tracker="http://badexample.org/a"), mem=IMPORTED, s=s).rule
        == "seeding-done"
    )
    assert one(seeding(ratio=2.0, tracker="http://x.example.org/a"), mem=IMPORTED, s=s).rule == "ok"


def test_seeding_done_pause_action() -> None:
    s = settings(max_ratio=1.0, remove_mode="ratio", seed_action="pause")
    d = one(seeding(ratio=1.0), mem=IMPORTED, s=s)
    assert (d.rule, kinds(d)) == ("seeding-done", ["pause"]) and not d.actions[0].destructive
    for state in ("pausedUP", "stoppedUP"):
        d = one(seeding(ratio=1.0, state=state), mem=IMPORTED, s=s)
        assert (d.rule, d.code, d.actions) == ("seeding-done", "paused", ())


def test_seeding_done_waits_for_the_arr_import() -> None:
    s = settings(max_ratio=1.0, remove_mode="ratio")
    d = one(seeding(ratio=5.0), q=queue("importing"), mem=IMPORTED, s=s)
    assert (d.rule, d.code, d.actions) == ("seeding-done", "wait-import", ())
    assert one(seeding(ratio=5.0), q=queue("imported"), mem=IMPORTED, s=s).code == "remove"


def test_seeding_done_keeps_shared_data() -> None:
    s = settings(max_ratio=1.0, remove_mode="ratio")
    d = one(
        seeding(ratio=5.0),
        mem=IMPORTED,
        s=s,
        env=Env(now=NOW, content_paths_shared=frozenset({H(1)})),
    )
    assert action(d, "delete").params == {"delete_files": False}


# -- hit-and-run ------------------------------------------------------------------


SEED_LIMITS = dict(max_ratio=0.5, remove_mode="ratio")


@pytest.mark.parametrize(
    "ratio,days,mode,met",
    [
        (0.99, 10, "and", False),
        (1.0, 10, "and", True),
        (1.0, 4.99, "and", False),
        (1.0, 5, "and", True),
        (0.5, 5, "or", True),
        (1.0, 1, "or", True),
        (0.5, 1, "or", False),
    ],
)
def test_full_download_obligation(ratio, days, mode, met) -> None:
    s = settings(
        **SEED_LIMITS,
        trackers=(tracker(hit_and_run=True, min_seed_ratio=1.0, min_seed_days=5, hnr_mode=mode),),
    )
    d = one(seeding(ratio=ratio, seeding_time=days * DAY, tracker=TRACKER), mem=IMPORTED, s=s)
    assert d.rule == ("seeding-done" if met else "ok")
    if not met:
        assert "obligation" in d.reason and "delete" not in kinds(d)


def test_only_configured_halves_count() -> None:
    s = settings(
        **SEED_LIMITS, trackers=(tracker(hit_and_run=True, min_seed_ratio=1.0, min_seed_days=0),)
    )
    assert (
        one(seeding(ratio=1.0, seeding_time=10, tracker=TRACKER), mem=IMPORTED, s=s).rule
        == "seeding-done"
    )
    s = settings(
        **SEED_LIMITS, trackers=(tracker(hit_and_run=True, min_seed_ratio=0, min_seed_days=0),)
    )
    assert one(seeding(ratio=0.6, tracker=TRACKER), mem=IMPORTED, s=s).rule == "seeding-done"


STALLED_LONG = Memory(first_seen=NOW - 2 * HOUR, stalled_since=NOW - HOUR)


def stalled_partial(progress: float, ratio: float) -> dict:
    left = int((1 - progress) * 1000 * 1024**2)
    return downloading(
        state="stalledDL",
        progress=progress,
        amount_left=left,
        ratio=ratio,
        eta=8640000,
        availability=0.2,
        tracker=TRACKER,
        last_activity=NOW - DAY,
        added_on=NOW - 2 * DAY,
    )


@pytest.mark.parametrize(
    "progress,ratio,deleted",
    [
        (0.0999, 0.0, True),  # below MinDownloadPercent 10: no obligation
        (0.10, 0.0, False),  # at the threshold: partial obligation, ratio 0 < PartialSeedRatio
        (0.50, 0.99, False),
        (0.50, 1.0, True),  # PartialSeedRatio reached
    ],
)
def test_partial_download_obligation_on_a_stalled_torrent(progress, ratio, deleted) -> None:
    """Stalled for longer than StalledDelay (seen stalled an hour ago)."""
    s = settings(
        stalled_delay=60,
        trackers=(tracker(hit_and_run=True, min_download_percent=10, partial_seed_ratio=1.0),),
    )
    d = one(stalled_partial(progress, ratio), q=queue(), s=s, mem=STALLED_LONG)
    assert d.rule == "stalled"
    assert ("delete" in kinds(d)) is deleted
    if not deleted:
        assert d.code == "hold-hnr" and kinds(d) == ["blocklist", "search"]
        assert "obligation unmet" in d.reason


def test_obligation_action_pause() -> None:
    s = settings(stalled_delay=60, trackers=(tracker(hit_and_run=True, obligation_action="pause"),))
    d = one(stalled_partial(0.5, 0.0), q=queue(), s=s, mem=STALLED_LONG)
    assert kinds(d) == ["blocklist", "pause", "search"] and d.actions[1].key == f"hnr-pause:{H(1)}"


def test_manual_fail_is_held_by_an_obligation() -> None:
    s = settings(trackers=(tracker(hit_and_run=True),))
    d = one(seeding(category="failed", ratio=0.2, tracker=TRACKER), q=queue(), s=s)
    assert d.rule == "manual-fail" and d.code == "hold-hnr" and "delete" not in kinds(d)


def test_tracker_is_remembered_when_qbittorrent_shows_none() -> None:
    s = settings(**SEED_LIMITS, trackers=(tracker(hit_and_run=True, min_seed_ratio=1.0),))
    first = one(seeding(ratio=0.6, tracker=TRACKER), mem=IMPORTED, s=s)
    assert first.memory.tracker == "tracker.example.org"
    d = one(seeding(ratio=0.6, tracker=""), mem=first.memory, s=s)
    assert d.rule == "ok" and "obligation" in d.reason


def test_private_torrent_with_unknown_tracker_is_kept() -> None:
    s = settings(**SEED_LIMITS, trackers=(tracker(hit_and_run=True),))
    d = one(seeding(ratio=0.6, tracker="", private=True), mem=IMPORTED, s=s)
    assert d.rule == "ok" and "not known" in d.reason
    assert (
        one(seeding(ratio=0.6, tracker="", private=False), mem=IMPORTED, s=s).rule == "seeding-done"
    )


# -- free space -------------------------------------------------------------------


def fs_env(free: int) -> Env:
    return Env(now=NOW, free_space=free)


@pytest.mark.parametrize("left,expected", [(5 * GIB - 1, "ok"), (5 * GIB, "free-space")])
def test_budget_boundary(left, expected) -> None:
    s = settings(free_space=10 * GIB)
    d = one(downloading(amount_left=left), s=s, env=fs_env(15 * GIB))
    assert d.rule == expected
    if expected == "free-space":
        assert kinds(d) == ["pause"] and d.memory.paused_by_qbarr and d.memory.pauses == 1


def test_oldest_download_gets_the_budget_first() -> None:
    s = settings(free_space=10 * GIB)
    torrents = {
        H(1): downloading(amount_left=3 * GIB, added_on=NOW - 1000),
        H(2): downloading(amount_left=3 * GIB, added_on=NOW - 2000),
        H(3): downloading(amount_left=1 * GIB, added_on=NOW - 500),
    }
    found = {d.hash: d for d in decide(torrents, {}, {}, {}, s, fs_env(15 * GIB))}
    assert (found[H(2)].rule, found[H(1)].rule, found[H(3)].rule) == ("ok", "free-space", "ok")


def test_resume_only_what_qbarr_paused() -> None:
    s = settings(free_space=10 * GIB)
    ours = Memory(first_seen=NOW - DAY, paused_by_qbarr=True, paused_at=NOW - HOUR, pauses=1)
    held = one(
        downloading(state="pausedDL", amount_left=6 * GIB), mem=ours, s=s, env=fs_env(15 * GIB)
    )
    assert (held.rule, held.code, held.actions) == ("free-space", "hold", ())
    back = one(
        downloading(state="stoppedDL", amount_left=4 * GIB), mem=ours, s=s, env=fs_env(15 * GIB)
    )
    assert (back.rule, kinds(back)) == (
        "free-space",
        ["resume"],
    ) and not back.memory.paused_by_qbarr
    assert back.actions[0].key == f"resume:{H(1)}:0"
    users = one(downloading(state="stoppedDL", amount_left=4 * GIB), s=s, env=fs_env(15 * GIB))
    assert users.rule == "ok"


def test_free_space_off_resumes_what_qbarr_paused() -> None:
    ours = Memory(first_seen=NOW - DAY, paused_by_qbarr=True, paused_at=NOW - HOUR, pauses=1)
    d = one(downloading(state="stoppedDL"), mem=ours, s=settings(free_space=-1), env=fs_env(0))
    assert kinds(d) == ["resume"]


def test_unknown_free_space_keeps_paused() -> None:
    ours = Memory(first_seen=NOW - DAY, paused_by_qbarr=True, paused_at=NOW - HOUR, pauses=1)
    d = one(downloading(state="stoppedDL"), mem=ours, s=settings(free_space=GIB), env=Env(now=NOW))
    assert (d.code, d.actions) == ("hold", ())


def test_protected_downloads_use_the_budget_but_are_never_paused() -> None:
    s = settings(free_space=10 * GIB)
    torrents = {
        H(1): downloading(amount_left=4 * GIB, tags="qbarr-protect", added_on=NOW - 10),
        H(2): downloading(amount_left=2 * GIB, added_on=NOW - 500),
    }
    found = {d.hash: d for d in decide(torrents, {}, {}, {}, s, fs_env(15 * GIB))}
    assert found[H(1)].rule == "protected" and found[H(2)].rule == "free-space"


def test_pause_episode_keys_and_user_resume() -> None:
    s = settings(free_space=10 * GIB)
    d1 = one(downloading(amount_left=6 * GIB), s=s, env=fs_env(15 * GIB))
    assert d1.actions[0].key == f"pause:{H(1)}:0"
    lag = one(
        downloading(amount_left=6 * GIB),
        mem=d1.memory,
        s=s,
        env=Env(now=NOW + 2, free_space=15 * GIB),
    )
    assert (
        lag.actions[0].key == f"pause:{H(1)}:0" and lag.memory.pauses == 1
    )  # state lags: same pause
    user = one(
        downloading(amount_left=6 * GIB),
        mem=d1.memory,
        s=s,
        env=Env(now=NOW + 120, free_space=15 * GIB),
    )
    assert user.actions[0].key == f"pause:{H(1)}:1"  # resumed by someone: a new pause


def test_young_download_is_paused_for_space() -> None:
    d = one(
        downloading(added_on=NOW - 5, amount_left=6 * GIB),
        s=settings(free_space=10 * GIB),
        env=fs_env(15 * GIB),
    )
    assert d.rule == "free-space"


def test_complete_torrent_paused_by_qbarr_is_resumed() -> None:
    ours = Memory(
        first_seen=NOW - DAY,
        paused_by_qbarr=True,
        paused_at=NOW - HOUR,
        pauses=1,
        import_sent_at=NOW,
    )
    d = one(seeding(state="stoppedUP"), mem=ours, s=settings(free_space=GIB), env=fs_env(0))
    assert kinds(d) == ["resume"]
