"""Table tests for decide(): one or more cases per rule, and the edges of every timer."""

from __future__ import annotations

import pytest

from qbarr.policy import Env, Memory, decide
from tests.unit.policy_helpers import (
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


def stalled(**kw):
    t = downloading(state="stalledDL", eta=8640000, availability=0.4, last_activity=NOW - 2 * HOUR)
    t.update(kw)
    return t


# -- ownership and shape ------------------------------------------------------


def test_only_this_instance_category_is_decided() -> None:
    torrents = {
        H(1): downloading(),
        H(2): downloading(category="sonarr"),
        H(3): downloading(category=""),
    }
    found = decide(torrents, {}, {}, {}, settings(), Env(now=NOW))
    assert [d.hash for d in found] == [H(1)]


def test_upper_case_hashes_are_accepted() -> None:
    found = decide({H(10).upper(): downloading()}, {}, {}, {}, settings(), Env(now=NOW))
    assert [d.hash for d in found] == [H(10)]


# -- protected ----------------------------------------------------------------


@pytest.mark.parametrize(
    "t",
    [
        stalled(tags="qbarr-protect"),
        stalled(tags="x, qbarr-protect", category="failed"),
        downloading(tags="qbarr-protect", state="missingFiles"),
    ],
)
def test_protected_is_never_touched(t) -> None:
    d = one(t, q=queue(), mem=Memory(first_seen=NOW - 10 * HOUR, prev_category="radarr"))
    assert (d.rule, d.actions) == ("protected", ())
    assert d.memory.stalled_since is None


def test_protected_tag_is_configurable() -> None:
    d = one(stalled(tags="keep"), s=settings(protected_tag="keep"))
    assert d.rule == "protected"


# -- manual-fail ---------------------------------------------------------------


def test_manual_fail_blocklists_deletes_and_searches() -> None:
    d = one(
        downloading(category="failed"),
        q=queue(),
        mem=Memory(first_seen=NOW, prev_category="radarr"),
    )
    assert d.rule == "manual-fail" and kinds(d) == ["blocklist", "delete", "search"]
    assert action(d, "blocklist").params["queue_ids"] == [7]
    assert action(d, "blocklist").params["remove_from_client"] is False
    assert action(d, "delete").params == {"delete_files": True}
    assert action(d, "search").params["media"] == [{"movieId": 3}]
    assert all(a.destructive for a in d.actions if a.kind in ("blocklist", "delete"))
    assert not action(d, "search").destructive


def test_manual_fail_owned_by_queue_item_alone() -> None:
    d = one(downloading(category="failed"), q=queue())
    assert d.rule == "manual-fail"


def test_manual_fail_of_another_instance_is_not_ours() -> None:
    h = H(1)
    mem = {h: Memory(first_seen=NOW, prev_category="sonarr")}
    assert decide({h: downloading(category="failed")}, {}, {}, mem, settings(), Env(now=NOW)) == []


def test_manual_fail_without_queue_item_only_deletes_and_says_why() -> None:
    d = one(downloading(category="failed"), mem=Memory(first_seen=NOW, prev_category="radarr"))
    assert kinds(d) == ["delete"]
    assert "nothing to blocklist" in d.reason and "cannot search" in d.reason


def test_manual_fail_research_off() -> None:
    d = one(downloading(category="failed"), q=queue(), s=settings(re_search=False))
    assert kinds(d) == ["blocklist", "delete"] and "ReSearch is off" in d.reason


def test_custom_failed_category() -> None:
    d = one(downloading(category="bad"), q=queue(), s=settings(failed_category="bad"))
    assert d.rule == "manual-fail"


# -- manual-recheck -----------------------------------------------------------


def test_manual_recheck_rechecks_then_restores_category() -> None:
    mem = Memory(first_seen=NOW, prev_category="radarr")
    d = one(seeding(category="recheck"), mem=mem)
    assert d.rule == "manual-recheck" and kinds(d) == ["recheck", "set_category"]
    assert action(d, "set_category").params == {"category": "radarr"}
    assert d.memory.in_recheck and d.memory.manual_rechecks == 1
    again = one(seeding(category="recheck"), mem=d.memory)
    assert [a.key for a in again.actions] == [a.key for a in d.actions]  # same episode, same keys
    back = one(seeding(), mem=again.memory)
    assert not back.memory.in_recheck
    later = one(seeding(category="recheck"), mem=back.memory)
    assert later.actions[0].key != d.actions[0].key  # a new manual recheck is a new action


# -- missing-files -------------------------------------------------------------


def test_missing_files_removes_and_searches_without_blocklist() -> None:
    d = one(downloading(state="missingFiles"), q=queue())
    assert d.rule == "missing-files" and kinds(d) == ["delete", "search"]


def test_missing_files_after_import_does_not_search() -> None:
    d = one(
        seeding(state="missingFiles"),
        q=queue("importPending"),
        mem=Memory(first_seen=NOW, import_sent_at=NOW - 60),
    )
    assert kinds(d) == ["delete"] and "already imported" in d.reason


# -- errored -------------------------------------------------------------------


def test_errored_rechecks_then_fails() -> None:
    d1 = one(downloading(state="error"), q=queue(), s=settings(max_rechecks=2))
    assert (d1.rule, d1.code, kinds(d1)) == ("errored", "recheck", ["recheck"])
    assert d1.memory.rechecks == 1 and d1.actions[0].key == f"recheck:{H(1)}:0"
    soon = one(
        downloading(state="error"),
        q=queue(),
        mem=d1.memory,
        s=settings(max_rechecks=2),
        env=Env(now=NOW + 59),
    )
    assert (soon.code, soon.actions) == ("recheck-wait", ())
    d2 = one(
        downloading(state="error"),
        q=queue(),
        mem=d1.memory,
        s=settings(max_rechecks=2),
        env=Env(now=NOW + 61),
    )
    assert d2.code == "recheck" and d2.actions[0].key == f"recheck:{H(1)}:1"
    d3 = one(
        downloading(state="error"),
        q=queue(),
        mem=d2.memory,
        s=settings(max_rechecks=2),
        env=Env(now=NOW + 200),
    )
    assert (d3.rule, d3.code, kinds(d3)) == ("errored", "fail", ["blocklist", "delete", "search"])


def test_errored_with_max_rechecks_zero_fails_at_once() -> None:
    d = one(downloading(state="error"), q=queue(), s=settings(max_rechecks=0))
    assert d.code == "fail" and "delete" in kinds(d)


def test_errored_is_not_failed_while_disk_is_short() -> None:
    s = settings(max_rechecks=0, free_space=10 * GIB)
    d = one(
        downloading(state="error", amount_left=2 * GIB), s=s, env=Env(now=NOW, free_space=11 * GIB)
    )
    assert (d.rule, d.code, d.actions) == ("errored", "disk-short", ())


# -- wait ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        "checkingDL",
        "checkingUP",
        "checkingResumeData",
        "moving",
        "queuedDL",
        "allocating",
        "somethingNew",
    ],
)
def test_wait_states(state) -> None:
    d = one(stalled(state=state, last_activity=NOW - 10 * HOUR))
    assert (d.rule, d.actions) == ("wait", ())


def test_young_stalled_waits_just_under_ignore_younger_than() -> None:
    s = settings(ignore_younger_than=180, stalled_delay=60)
    young = one(stalled(added_on=NOW - 179, last_activity=NOW - 179), s=s)
    assert (young.rule, young.code) == ("wait", "young")
    seen = Memory(first_seen=NOW - 180, stalled_since=NOW - 61)
    old = one(stalled(added_on=NOW - 180, last_activity=NOW - 180), s=s, mem=seen)
    assert old.rule == "stalled" and "delete" in kinds(old)


def test_young_complete_torrent_is_imported_at_once() -> None:
    d = one(seeding(added_on=NOW - 5), q=queue("importPending"))
    assert d.rule == "import"


def test_ignore_younger_than_zero_judges_at_once() -> None:
    d = one(
        stalled(added_on=NOW - 1000, last_activity=NOW - 1000),
        s=settings(ignore_younger_than=0, stalled_delay=1),
    )
    assert d.rule == "stalled"


# -- unwanted-files --------------------------------------------------------------


def files(*names: str, prio: int = 1) -> list[dict]:
    return [
        {"index": i, "name": n, "size": 10, "progress": 0.0, "priority": prio}
        for i, n in enumerate(names)
    ]


def test_unwanted_files_set_to_priority_zero() -> None:
    fl = files(
        "Movie/Movie.mkv", "Movie/Sample/movie-sample.mkv", "Movie/movie.nfo", "Movie/Movie.en.srt"
    )
    d = one(downloading(), files=fl)
    assert (d.rule, d.code) == ("unwanted-files", "prio0")
    assert action(d, "file_prio").params == {"file_ids": [1, 2], "priority": 0}
    again = one(downloading(), files=fl, mem=d.memory)  # the loop's file list may be stale
    assert again.rule == "ok"
    done = one(
        downloading(), files=[dict(f, priority=0) if f["index"] in (1, 2) else f for f in fl]
    )
    assert done.rule == "ok"


def test_root_folder_is_not_judged() -> None:
    d = one(
        downloading(),
        files=files("Movie.Extras.Edition/Movie.mkv", "Movie.Extras.Edition/Movie.srt"),
    )
    assert d.rule == "ok"


def test_all_files_excluded_fails() -> None:
    d = one(downloading(), q=queue(), files=files("Movie/a.rar", "Movie/a.r00"))
    assert (d.rule, d.code) == ("unwanted-files", "fail") and "delete" in kinds(d)


def test_partial_suffix_and_star_allowlist() -> None:
    assert one(downloading(), files=files("M/Movie.mkv.!qB", "M/x.srt")).rule == "ok"
    s = settings(extension_allowlist=("*",))
    assert one(downloading(), files=files("M/a.rar", "M/b.r00"), s=s).rule == "ok"


def test_lidarr_default_allowlist_is_audio() -> None:
    s = settings(kind="lidarr", category="radarr")
    d = one(downloading(), files=files("Album/01.flac", "Album/cover.mkv"), s=s)
    assert action(d, "file_prio").params["file_ids"] == [1]


def test_case_sensitive_matches() -> None:
    fl = files("M/Movie.mkv", "M/SAMPLE.mkv")
    assert one(downloading(), files=fl).rule == "unwanted-files"
    assert one(downloading(), files=fl, s=settings(case_sensitive=True)).rule == "ok"


def test_young_torrent_gets_priorities_but_is_never_failed_for_files() -> None:
    young = downloading(added_on=NOW - 10)
    d = one(young, files=files("M/a.mkv", "M/sample.mkv"))
    assert d.rule == "unwanted-files" and kinds(d) == ["file_prio"]
    d = one(young, q=queue(), files=files("M/a.rar"))
    assert (d.rule, d.actions) == ("wait", ())


def test_unknown_files_skip_the_rule() -> None:
    assert one(downloading()).rule == "ok"


# -- stalled ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["stalledDL", "metaDL", "forcedMetaDL"])
def test_stalled_just_over_and_just_under_the_delay(state) -> None:
    s = settings(stalled_delay=900)
    mem = Memory(first_seen=NOW - HOUR, stalled_since=NOW - 900, last_completed=500 * 1024**2)
    under = one(stalled(state=state), mem=mem, q=queue(), s=s)
    assert (under.rule, under.code, under.actions) == ("stalled", "grace", ())
    over = one(stalled(state=state), mem=mem, q=queue(), s=s, env=Env(now=NOW + 1))
    assert (over.rule, over.code, kinds(over)) == (
        "stalled",
        "fail",
        ["blocklist", "delete", "search"],
    )


def test_stall_clock_survives_a_restart_and_resets_on_progress() -> None:
    mem = Memory(first_seen=NOW - HOUR, stalled_since=NOW - 800, last_completed=500 * 1024**2)
    d = one(stalled(last_activity=NOW - 10), mem=mem)
    assert d.memory.stalled_since == NOW - 800  # persisted value wins over last_activity
    moved = one(stalled(completed=501 * 1024**2), mem=mem)
    assert moved.memory.stalled_since == NOW


def test_a_stall_counts_from_when_qbarr_first_sees_it() -> None:
    """A torrent that stalled long before qbarr first saw it (qBittorrent's last transfer 2 h
    ago, StalledDelay 15 min) gets its full grace: first contact never fails it."""
    d = one(stalled(added_on=NOW - 3 * HOUR, last_activity=NOW - 2 * HOUR), q=queue())
    assert (d.rule, d.code, d.actions) == ("stalled", "grace", ())
    assert d.memory.stalled_since == NOW and d.inputs["stalled_for"] == 0
    magnet = one(stalled(state="metaDL", added_on=NOW - 3 * HOUR, last_activity=0))
    assert magnet.memory.stalled_since == NOW and magnet.code == "grace"
    # known, not stalled last cycle, stalled now: also counts from now, not from last_activity
    known = Memory(first_seen=NOW - 3 * HOUR, last_completed=500 * 1024**2)
    d = one(stalled(last_activity=NOW - 2 * HOUR), mem=known, q=queue())
    assert d.memory.stalled_since == NOW and d.code == "grace"
    later = one(stalled(), mem=d.memory, q=queue(), env=Env(now=NOW + 901))
    assert (later.code, kinds(later)) == ("fail", ["blocklist", "delete", "search"])


def test_time_qbarr_could_not_see_does_not_count_on_the_stall_clock() -> None:
    """qBittorrent unreachable (or the manager down) for 10 min in the middle of a 15 min
    StalledDelay: the torrent is failed 15 min of *observed* stall after qbarr first saw it."""
    mem = one(stalled(), q=queue()).memory  # first seen stalled at NOW
    mem = one(stalled(), mem=mem, q=queue(), env=Env(now=NOW + 300)).memory
    back = one(stalled(), mem=mem, q=queue(), env=Env(now=NOW + 900 + 1, unobserved=600))
    assert back.code == "grace" and back.memory.stalled_since == NOW + 600
    assert back.inputs["stalled_for"] == 301
    assert one(stalled(), mem=back.memory, q=queue(), env=Env(now=NOW + 1501)).code == "fail"
    # the shift never moves the start into the future
    never = one(stalled(), mem=mem, q=queue(), env=Env(now=NOW + 400, unobserved=10_000))
    assert never.memory.stalled_since == NOW + 400


def test_downloading_with_low_availability_is_stalled() -> None:
    t = downloading(availability=0.8)
    d = one(
        t,
        mem=Memory(first_seen=NOW - HOUR, stalled_since=NOW - 1000, last_completed=t["completed"]),
    )
    assert d.rule == "stalled" and d.code == "fail"


def test_stalled_delay_zero_never_fails() -> None:
    d = one(stalled(), s=settings(stalled_delay=0))
    assert d.rule == "ok" and "never failed" in d.reason


def test_re_search_stalled_blocklists_early_and_keeps_the_torrent() -> None:
    s = settings(re_search_stalled=True, stalled_delay=900)
    mem = Memory(first_seen=NOW - HOUR, stalled_since=NOW - 30, last_completed=500 * 1024**2)
    d = one(stalled(), q=queue(), mem=mem, s=s)
    assert (d.rule, d.code, kinds(d)) == ("stalled", "research", ["blocklist", "search"])
    later = one(stalled(), q=queue(), mem=d.memory, s=s, env=Env(now=NOW + 60))
    assert (later.code, later.actions) == ("grace", ())
    end = one(stalled(), mem=d.memory, s=s, env=Env(now=NOW + 900))
    assert end.code == "fail" and kinds(end) == ["delete"]


def test_stalled_in_grace_is_still_paused_for_free_space() -> None:
    mem = Memory(first_seen=NOW - HOUR, stalled_since=NOW - 30, last_completed=500 * 1024**2)
    d = one(
        downloading(availability=0.5),
        mem=mem,
        s=settings(free_space=10 * GIB),
        env=Env(now=NOW, free_space=10 * GIB),
    )
    assert (d.rule, kinds(d)) == ("free-space", ["pause"])


# -- slow ------------------------------------------------------------------------


def test_slow_needs_consecutive_strikes() -> None:
    s = settings(maximum_eta=HOUR, slow_strikes=3)
    t = downloading(eta=int(HOUR) + 1)
    m = None
    for strike in (1, 2):
        d = one(t, mem=m, s=s, q=queue())
        assert d.rule == "ok" and f"slow strike {strike} of 3" in d.reason
        m = d.memory
    d = one(t, mem=m, s=s, q=queue())
    assert (d.rule, kinds(d)) == ("slow", ["blocklist", "delete", "search"])


def test_eta_equal_to_maximum_is_not_slow_and_resets_strikes() -> None:
    s = settings(maximum_eta=HOUR, slow_strikes=1)
    assert one(downloading(eta=int(HOUR)), s=s).rule == "ok"
    d = one(downloading(eta=int(HOUR)), s=s, mem=Memory(first_seen=NOW, slow_strikes=5))
    assert d.memory.slow_strikes == 0


def test_slow_is_not_counted_at_the_global_download_limit() -> None:
    s = settings(maximum_eta=HOUR, slow_strikes=1)
    d = one(
        downloading(eta=10 * int(HOUR)),
        s=s,
        env=Env(now=NOW, at_global_dl_limit=True),
        mem=Memory(first_seen=NOW, slow_strikes=4),
    )
    assert d.rule == "ok" and d.memory.slow_strikes == 0 and "global download limit" in d.reason


def test_maximum_eta_zero_is_off_and_tracker_eta_wins() -> None:
    t = downloading(eta=10 * int(HOUR), tracker="https://t.example.org/announce")
    assert one(t, s=settings(slow_strikes=1)).rule == "ok"
    from qbarr.policy import TrackerRule

    s = settings(
        slow_strikes=1, trackers=(TrackerRule(name="t", host="example.org", maximum_eta=HOUR),)
    )
    assert one(t, s=s).rule == "slow"


# -- import ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "state", ["stalledUP", "uploading", "queuedUP", "forcedUP", "pausedUP", "stoppedUP"]
)
def test_import_once_as_soon_as_complete(state) -> None:
    d = one(seeding(state=state), q=queue("importPending"))
    assert (d.rule, kinds(d)) == ("import", ["import"])
    a = d.actions[0]
    assert a.key == f"import:{H(1)}"
    assert a.params == {
        "path": "/downloads/radarr/Some.Movie.2020.1080p",
        "download_client_id": H(1).upper(),
        "import_mode": "Auto",
    }
    again = one(seeding(state=state), q=queue("importPending"), mem=d.memory)
    assert again.rule != "import"


def test_import_is_not_blocked_by_seeding_rules() -> None:
    s = settings(max_ratio=1.0, remove_mode="ratio", import_mode="Copy")
    d = one(seeding(ratio=0.1), q=queue("importPending"), s=s)
    assert d.rule == "import" and d.actions[0].params["import_mode"] == "Copy"


def test_import_waits_for_files_and_queue() -> None:
    assert (
        one(
            seeding(), q=queue("importPending"), env=Env(now=NOW, content_missing=frozenset({H(1)}))
        ).rule
        == "ok"
    )
    assert one(seeding(), q=queue("imported")).rule == "ok"
    assert one(seeding()).rule == "ok"
    assert one(seeding(content_path=""), q=queue("importPending")).rule == "ok"
    assert one(downloading(progress=0.99), q=queue()).rule == "ok"


# -- import-failed -----------------------------------------------------------------


@pytest.mark.parametrize(
    "state,status",
    [
        ("failed", "error"),
        ("failedPending", "warning"),
        ("importFailed", "warning"),
        ("importPending", "error"),
    ],
)
def test_import_failed_on_complete_blocklists_and_keeps_seeding(state, status) -> None:
    d = one(seeding(), q=queue(state, status), mem=Memory(first_seen=NOW, import_sent_at=NOW - 100))
    assert (d.rule, kinds(d)) == ("import-failed", ["blocklist", "search"])


def test_import_failed_on_incomplete_fails() -> None:
    d = one(downloading(), q=queue("failedPending", "warning"))
    assert (d.rule, kinds(d)) == ("import-failed", ["blocklist", "delete", "search"])


def test_import_blocked_warning_is_not_a_failure() -> None:
    d = one(
        seeding(),
        q=queue("importBlocked", "warning"),
        mem=Memory(first_seen=NOW, import_sent_at=NOW - 100),
    )
    assert d.rule == "ok"


# -- ok ---------------------------------------------------------------------------


def test_ok_for_a_healthy_download_and_a_user_stopped_one() -> None:
    assert one(downloading()).rule == "ok"
    for state in ("pausedDL", "stoppedDL"):
        d = one(downloading(state=state, eta=8640000))
        assert d.rule == "ok" and "stopped by the user" in d.reason


# -- shared data -------------------------------------------------------------------


def test_shared_content_is_deleted_without_files() -> None:
    d = one(
        downloading(category="failed"),
        q=queue(),
        env=Env(now=NOW, content_paths_shared=frozenset({H(1)})),
    )
    assert action(d, "delete").params == {"delete_files": False}
    assert "shared with another torrent" in d.reason


def test_every_failed_state_of_any_kind_is_documented_and_ranked_most_alarming() -> None:
    """The failed states live in ArrKind; the rule's text and the queue merge follow them."""
    from qbarr.arr.kinds import FAILED_STATES
    from qbarr.policy import RULE_DOCS
    from qbarr.policy.model import _STATE_RANK

    assert all(state in RULE_DOCS["import-failed"] for state in FAILED_STATES)
    others = [rank for state, rank in _STATE_RANK.items() if state not in FAILED_STATES]
    assert min(_STATE_RANK[state] for state in FAILED_STATES) > max(others)


# -- the Arr does not answer -------------------------------------------------------


ARR_DOWN = Env(now=NOW, arr_reachable=False)


def test_arr_down_no_torrent_is_failed_until_it_answers() -> None:
    mem = Memory(first_seen=NOW - HOUR, stalled_since=NOW - 1000, last_completed=500 * 1024**2)
    waiting = one(stalled(), mem=mem, q=queue(), env=ARR_DOWN)
    assert (waiting.rule, waiting.code, waiting.actions) == ("stalled", "wait-arr", ())
    assert "waits until the Arr answers" in waiting.reason and waiting.memory.failed_at is None
    back = one(stalled(), mem=waiting.memory, q=queue())
    assert back.code == "fail" and kinds(back) == ["blocklist", "delete", "search"]
    for t in (
        downloading(state="missingFiles"),
        downloading(category="failed"),
        downloading(state="error"),
    ):
        d = one(t, q=queue(), env=ARR_DOWN, s=settings(max_rechecks=0))
        assert (d.code, d.actions) == ("wait-arr", ()), d


def test_arr_down_imports_wait_and_a_stale_failed_state_is_not_acted_on() -> None:
    d = one(seeding(), q=queue("importPending"), env=ARR_DOWN)
    assert d.rule == "ok" and d.actions == () and "import waits" in d.reason
    assert d.memory.import_sent_at is None
    assert one(seeding(), q=queue("importPending")).rule == "import"
    failed = one(seeding(), q=queue("importFailed", "warning"), mem=Memory(import_sent_at=1.0),
                 env=ARR_DOWN)  # fmt: skip
    assert failed.actions == ()


def test_arr_down_rules_that_need_no_arr_still_decide() -> None:
    s = settings(free_space=10 * GIB, max_rechecks=2, stalled_delay=900)
    errored = one(downloading(state="error"), q=queue(), env=ARR_DOWN, s=s)
    assert kinds(errored) == ["recheck"]
    low = Env(now=NOW, arr_reachable=False, free_space=5 * GIB)
    assert kinds(one(downloading(), env=low, s=s)) == ["pause"]
    grace = one(stalled(), q=queue(), env=ARR_DOWN, s=s)
    assert (grace.code, grace.memory.stalled_since) == ("grace", NOW)  # the clock runs


def test_arr_down_seeding_done_removes_only_what_the_arr_imported() -> None:
    s = settings(max_ratio=1.0, remove_mode="ratio")
    unknown = one(seeding(ratio=2.0), env=ARR_DOWN, s=s)
    assert (unknown.rule, unknown.code, unknown.actions) == ("seeding-done", "wait-arr", ())
    sent = one(seeding(ratio=2.0), mem=Memory(import_sent_at=NOW - HOUR), env=ARR_DOWN, s=s)
    assert kinds(sent) == ["delete"]
    listed = one(seeding(ratio=2.0), q=queue("imported"), env=ARR_DOWN, s=s)
    assert kinds(listed) == ["delete"]
    assert kinds(one(seeding(ratio=2.0), s=s)) == ["delete"]  # Arr up: not in the queue = done
