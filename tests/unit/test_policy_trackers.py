"""Tracker health in the policy: the unregistered rule (grace, tag only, hit-and-run does not
protect, shared data kept), the tracker-error tag, and the messages in the journal's inputs."""

from __future__ import annotations

from qbarr.policy import Env, Memory, TrackerRule
from qbarr.policy.trackers import verdict, view_of
from tests.unit.policy_helpers import HOUR, NOW, downloading, kinds, one, queue, seeding, settings

UNREG = "Unregistered torrent"


def rows(*items: tuple[int, str], at: float = NOW - 60) -> dict:
    return {
        "qbarr_trackers": {
            "at": at,
            "rows": [
                {"url": f"https://t{i}.example/announce", "status": status, "msg": msg}
                for i, (status, msg) in enumerate(items)
            ],
        }
    }


def test_verdicts() -> None:
    pats = settings().unregistered_messages
    v = view_of(rows((4, UNREG), (4, "Torrent not found")))
    assert verdict(v, "", pats) == "unregistered"
    assert verdict(v, "t0.example", pats) == "ok"  # qBittorrent says one works now
    assert verdict(view_of(rows((4, UNREG), (2, ""))), "", pats) == "ok"
    assert verdict(view_of(rows((4, UNREG), (4, "timed out"))), "", pats) == "error"
    assert verdict(view_of(rows((6, ""), (5, "tracker error"))), "", pats) == "error"
    assert verdict(view_of(rows((0, ""), (4, "infohash not found"))), "", pats) == "unregistered"
    assert verdict(view_of(rows((1, ""))), "", pats) == "ok"  # not contacted yet
    assert verdict(view_of({}), "", pats) == verdict(view_of(rows()), "", pats) == "unknown"


def test_unregistered_is_tagged_then_failed_after_the_grace() -> None:
    t = downloading(**rows((4, UNREG), (4, "Torrent not found")))
    first = one(t, q=queue())
    assert (first.rule, first.code) == ("unregistered", "grace")
    assert kinds(first) == ["tag"] and first.actions[0].params == {"tags": ["qbarr-unregistered"]}
    assert first.memory.unregistered_since == NOW
    assert first.inputs["tracker_msgs"] == [
        "https://t0.example/announce: Unregistered torrent",
        "https://t1.example/announce: Torrent not found",
    ]
    later = one(t, q=queue(), mem=Memory(first_seen=NOW - HOUR, unregistered_since=NOW - HOUR))
    assert (later.rule, later.code) == ("unregistered", "fail")
    assert kinds(later) == ["blocklist", "delete", "search"]
    assert "every tracker says 'Unregistered torrent' for 1h" in later.reason


def test_a_working_tracker_resets_the_clock() -> None:
    t = downloading(**rows((4, UNREG), (2, "")))
    d = one(t, q=queue(), mem=Memory(first_seen=NOW - HOUR, unregistered_since=NOW - HOUR))
    assert d.rule != "unregistered" and d.memory.unregistered_since is None


def test_tag_only_and_off() -> None:
    t = seeding(**rows((4, UNREG)))
    old = Memory(first_seen=NOW - 9 * HOUR, unregistered_since=NOW - 9 * HOUR)
    tagged = one(t, mem=old, s=settings(unregistered="tag"))
    assert (tagged.rule, tagged.code, kinds(tagged)) == ("unregistered", "tag", ["tag"])
    assert one(t, mem=old, s=settings(unregistered="off")).rule != "unregistered"
    already = one(
        seeding(tags="qbarr-unregistered", **rows((4, UNREG))),
        mem=old,
        s=settings(unregistered="tag"),
    )
    assert kinds(already) == []


def test_an_unmet_hit_and_run_obligation_does_not_protect_an_unregistered_torrent() -> None:
    hnr = TrackerRule(name="private", host="t0.example", hit_and_run=True, min_seed_days=10)
    t = seeding(tracker="", ratio=0.1, seeding_time=HOUR, **rows((4, UNREG)))
    mem = Memory(first_seen=NOW - 3 * HOUR, unregistered_since=NOW - 2 * HOUR, tracker="t0.example")
    d = one(t, q=queue(), mem=mem, s=settings(trackers=(hnr,)))
    assert (d.rule, d.code) == ("unregistered", "fail")
    assert "delete" in kinds(d) and "no longer holds" in d.reason
    # the same obligation on a torrent that is not unregistered holds its deletion
    stalled = one(
        downloading(state="stalledDL", **rows((2, ""))),
        q=queue(),
        mem=Memory(first_seen=NOW - 3 * HOUR, stalled_since=NOW - 3 * HOUR, tracker="t0.example"),
        s=settings(trackers=(hnr,)),
    )
    assert stalled.rule == "stalled" and "delete" not in kinds(stalled)


def test_shared_data_is_never_deleted() -> None:
    from tests.unit.policy_helpers import H

    t = downloading(**rows((4, UNREG)))
    mem = Memory(first_seen=NOW - 3 * HOUR, unregistered_since=NOW - 2 * HOUR)
    d = one(t, q=queue(), mem=mem, env=Env(now=NOW, content_paths_shared=frozenset({H(1)})))
    [delete] = [a for a in d.actions if a.kind == "delete"]
    assert delete.params == {"delete_files": False}


def test_tracker_errors_are_tagged_whatever_rule_decides_and_untagged_when_fixed() -> None:
    broken = seeding(**rows((4, "timed out"), (6, "")))
    d = one(broken)
    assert d.rule == "ok" and kinds(d) == ["tag"]
    assert d.actions[0].params == {"tags": ["qbarr-tracker-error"]}
    assert d.inputs["tracker_msgs"][0] == "https://t0.example/announce: timed out"
    fixed = one(seeding(tags="qbarr-tracker-error", **rows((2, ""), (4, "timed out"))))
    assert kinds(fixed) == ["untag"]
    assert kinds(one(broken, s=settings(tracker_error_tag=""))) == []
    assert kinds(one(seeding(tags="qbarr-protect", **rows((4, "timed out"))))) == []


def test_young_downloads_are_only_tagged() -> None:
    t = downloading(added_on=NOW - 60, **rows((4, UNREG)))
    d = one(t, q=queue(), mem=Memory(first_seen=NOW - 60, unregistered_since=NOW - 2 * HOUR))
    assert (d.rule, d.code, kinds(d)) == ("unregistered", "grace", ["tag"])


def test_reannounce_a_stalled_download_once_before_failing_it() -> None:
    from qbarr.policy.rules import REANNOUNCE_WAIT

    t = downloading(state="stalledDL")
    s = settings(reannounce_stalled=True)
    mem = Memory(first_seen=NOW - 2 * HOUR, stalled_since=NOW - HOUR)
    first = one(t, q=queue(), mem=mem, s=s)
    assert (first.rule, first.code, kinds(first)) == ("stalled", "reannounce", ["reannounce"])
    assert first.memory.reannounced_at == NOW
    waiting = one(t, q=queue(), mem=first.memory, s=s, env=Env(now=NOW + REANNOUNCE_WAIT - 1))
    assert (waiting.code, kinds(waiting)) == ("reannounced", [])
    failed = one(t, q=queue(), mem=first.memory, s=s, env=Env(now=NOW + REANNOUNCE_WAIT))
    assert failed.code == "fail" and "delete" in kinds(failed)
    assert one(t, q=queue(), mem=mem).code == "fail"  # off by default: failed at once


def test_dead_trackers_are_removed_when_another_is_left() -> None:
    s = settings(remove_tracker_messages=("host not found",))
    t = seeding(**rows((4, "Host not found"), (2, ""), (4, "timed out")))
    d = one(t, s=s)
    [removal] = [a for a in d.actions if a.kind == "remove_trackers"]
    assert removal.params == {"urls": ["https://t0.example/announce"]}
    alone = one(seeding(**rows((4, "host not found"))), s=s)
    assert "remove_trackers" not in kinds(alone)  # never the last one
    assert "remove_trackers" not in kinds(one(t))  # off by default


def test_the_simulator_removes_trackers(tmp_path) -> None:
    from qbarr.qbittorrent import QbtClient, QbtConflict
    from qbarr.sim.qbittorrent import SimConfig, control, serve_in_thread

    sim = serve_in_thread(SimConfig(username="u", password="p", refresh_ms=0))
    try:
        with sim.store.lock:
            [h] = control.upsert(
                sim.store,
                [
                    {
                        "state": "stalledUP",
                        "tracker_list": [
                            {"url": "https://dead.example/a", "status": 4, "msg": "host not found"},
                            {"url": "https://ok.example/a", "status": 2, "msg": ""},
                        ],
                    }
                ],
            )
        with QbtClient(sim.url, "u", "p") as qbt:
            qbt.remove_trackers(h, ["https://dead.example/a"])
            urls = [r["url"] for r in qbt.trackers(h) if not r["url"].startswith("** [")]
            assert urls == ["https://ok.example/a"]
            try:
                qbt.remove_trackers(h, ["https://dead.example/a"])
            except QbtConflict:
                pass
            else:
                raise AssertionError("removing a tracker that is not there must be a 409")
    finally:
        sim.stop()
