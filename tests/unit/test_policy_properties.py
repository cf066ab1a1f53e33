"""Property tests (hypothesis) for decide(): safety invariants over generated worlds.

- a protected torrent gets no action at all;
- a torrent younger than IgnoreYoungerThan is never failed as stalled, slow or unwanted;
- a torrent with an unmet hit-and-run obligation never gets a delete (from any rule);
- shared data is never deleted; only delete/blocklist are destructive;
- exactly one decision per owned torrent; decide() is deterministic and order-independent;
- every rule of RULES fires for some generated input (targeted strategies).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from qbarr.policy import (
    RULES,
    Env,
    MediaCheck,
    Memory,
    PolicySettings,
    QueueView,
    TrackerRule,
    decide,
)
from qbarr.policy.facts import canonical_state
from qbarr.policy.settings import normalize_host

NOW = 1_000_000.0
DAY = 86400.0
GIB = 1024**3
CAT = "radarr"

ALL_STATES = [
    "error",
    "missingFiles",
    "uploading",
    "pausedUP",
    "stoppedUP",
    "queuedUP",
    "stalledUP",
    "checkingUP",
    "forcedUP",
    "downloading",
    "metaDL",
    "forcedMetaDL",
    "pausedDL",
    "stoppedDL",
    "queuedDL",
    "stalledDL",
    "checkingDL",
    "forcedDL",
    "checkingResumeData",
    "moving",
    "unknown",
]
SEED = {"uploading", "pausedUP", "stoppedUP", "queuedUP", "stalledUP", "forcedUP"}
TRACKERS = [
    "",
    "https://tracker.priv.example/announce",
    "udp://open.example.net:1337",
    "http://x.priv.example/a",
]
TRACKED = [
    None,
    "downloading",
    "importPending",
    "importing",
    "imported",
    "importBlocked",
    "failedPending",
    "failed",
    "importFailed",
    "ignored",
]
FILE_NAMES = [
    "M/Movie.mkv",
    "M/Sample/s.mkv",
    "M/movie.nfo",
    "M/Movie.srt",
    "M/Extras/e.mkv",
    "M/a.rar",
]
PATHS = ["/d/A", "/d/B", "/d/B/file.mkv", "/d/C", ""]

hashes = st.integers(min_value=1, max_value=40).map(lambda n: f"{n:040x}")


@st.composite
def tracker_rules(draw) -> tuple[TrackerRule, ...]:
    if not draw(st.booleans()):
        return ()
    return (
        TrackerRule(
            name="priv",
            host="priv.example",
            max_ratio=draw(st.sampled_from([0, 1.0, 2.0])),
            max_seeding_time=draw(st.sampled_from([0, DAY])),
            maximum_eta=draw(st.sampled_from([0, 600.0])),
            hit_and_run=draw(st.booleans()),
            hnr_mode=draw(st.sampled_from(["and", "or"])),
            min_seed_ratio=draw(st.sampled_from([0, 1.0])),
            min_seed_days=draw(st.sampled_from([0, 1.0, 5.0])),
            min_download_percent=draw(st.sampled_from([0, 10.0, 50.0])),
            partial_seed_ratio=draw(st.sampled_from([0.5, 1.0])),
            obligation_action=draw(st.sampled_from(["keep", "pause"])),
        ),
    )


@st.composite
def policy_settings(draw) -> PolicySettings:
    return PolicySettings(
        kind=draw(st.sampled_from(["radarr", "sonarr", "lidarr"])),
        category=CAT,
        free_space=draw(st.sampled_from([-1, GIB, 10 * GIB])),
        re_search=draw(st.booleans()),
        ignore_younger_than=draw(st.sampled_from([0.0, 180.0, 3600.0])),
        stalled_delay=draw(st.sampled_from([0.0, 60.0, 900.0])),
        re_search_stalled=draw(st.booleans()),
        maximum_eta=draw(st.sampled_from([0.0, 600.0, 3600.0])),
        slow_strikes=draw(st.integers(1, 3)),
        max_rechecks=draw(st.integers(0, 2)),
        extension_allowlist=draw(st.sampled_from([(), ("*",), (".mkv",)])),
        max_ratio=draw(st.sampled_from([0, 1.0, 2.0])),
        max_seeding_time=draw(st.sampled_from([0, DAY])),
        remove_mode=draw(st.sampled_from(["never", "ratio", "time", "either", "both"])),
        seed_action=draw(st.sampled_from(["remove", "pause"])),
        trackers=draw(tracker_rules()),
    )


@st.composite
def torrents(draw) -> dict[str, Any]:
    state = draw(st.sampled_from(ALL_STATES))
    size = draw(st.integers(0, 20)) * GIB // 2
    complete = state in SEED and draw(st.integers(0, 9)) > 0
    progress = 1.0 if complete else draw(st.sampled_from([0.0, 0.05, 0.1, 0.5, 0.99, 1.0]))
    left = 0 if complete else int(size * (1 - progress))
    added = NOW - draw(st.sampled_from([0, 10, 179, 180, 600, 3600, 10 * DAY]))
    return {
        "name": draw(st.sampled_from(["A", "B <script>", ""])),
        "state": state,
        "category": draw(st.sampled_from([CAT, CAT, CAT, "failed", "recheck", "sonarr"])),
        "tags": draw(st.sampled_from(["", "qbarr-protect", "x, qbarr-protect", "x"])),
        "progress": progress,
        "amount_left": left,
        "size": size,
        "completed": size - left,
        "ratio": draw(st.sampled_from([0.0, 0.4, 0.99, 1.0, 1.5, 2.0, 5.0])),
        "seeding_time": draw(st.sampled_from([0, 3600, DAY, 5 * DAY, 30 * DAY])),
        "eta": draw(st.sampled_from([0, 60, 600, 601, 3600, 8640000])),
        "availability": draw(st.sampled_from([-1, 0.0, 0.5, 0.99, 1.0, 4.0])),
        "added_on": added,
        "last_activity": draw(st.sampled_from([0, added, NOW - 5, NOW - DAY])),
        "content_path": draw(st.sampled_from(PATHS)),
        "tracker": draw(st.sampled_from(TRACKERS)),
        "private": draw(st.sampled_from([None, True, False])),
    }


@st.composite
def queue_views(draw) -> QueueView | None:
    if not draw(st.booleans()):
        return None
    return QueueView(
        ids=(draw(st.integers(1, 9)),),
        tracked_state=draw(st.sampled_from(TRACKED)),
        tracked_status=draw(st.sampled_from([None, "ok", "warning", "error"])),
        media=draw(st.sampled_from([(), ({"movieId": 1},)])),
    )


@st.composite
def memories(draw) -> Memory | None:
    if not draw(st.booleans()):
        return None
    return Memory(
        first_seen=NOW - draw(st.sampled_from([0, 100, DAY])),
        stalled_since=draw(st.sampled_from([None, NOW - 30, NOW - 1000, NOW - DAY])),
        last_completed=draw(st.sampled_from([None, 0])),
        slow_strikes=draw(st.integers(0, 4)),
        rechecks=draw(st.integers(0, 3)),
        last_recheck_at=draw(st.sampled_from([None, NOW - 10, NOW - 1000])),
        import_sent_at=draw(st.sampled_from([None, NOW - 100])),
        paused_by_qbarr=draw(st.booleans()),
        paused_at=draw(st.sampled_from([None, NOW - 10, NOW - 1000])),
        pauses=draw(st.integers(0, 2)),
        prev_category=draw(st.sampled_from([None, CAT, "sonarr"])),
        tracker=draw(st.sampled_from([None, "tracker.priv.example"])),
    )


@st.composite
def files_lists(draw) -> list[dict] | None:
    if not draw(st.booleans()):
        return None
    names = draw(st.lists(st.sampled_from(FILE_NAMES), min_size=1, max_size=4, unique=True))
    return [
        {"index": i, "name": n, "priority": draw(st.sampled_from([0, 1]))}
        for i, n in enumerate(names)
    ]


@st.composite
def worlds(draw) -> dict[str, Any]:
    hs = draw(st.lists(hashes, min_size=1, max_size=6, unique=True))
    w: dict[str, Any] = {"torrents": {}, "queue": {}, "files": {}, "memory": {}}
    for h in hs:
        w["torrents"][h] = draw(torrents())
        for key, strat in (
            ("queue", queue_views()),
            ("files", files_lists()),
            ("memory", memories()),
        ):
            value = draw(strat)
            if value is not None:
                w[key][h] = value
    w["settings"] = draw(policy_settings())
    w["env"] = Env(
        now=NOW,
        free_space=draw(st.sampled_from([None, 0, 5 * GIB, 100 * GIB])),
        at_global_dl_limit=draw(st.booleans()),
        content_paths_shared=frozenset(draw(st.lists(st.sampled_from(hs)))),
        content_missing=frozenset(draw(st.lists(st.sampled_from(hs)))),
    )
    return w


def run(w: dict[str, Any]):
    return decide(w["torrents"], w["queue"], w["files"], w["memory"], w["settings"], w["env"])


def owned(w: dict[str, Any]) -> list[str]:
    s = w["settings"]
    out = []
    for h, t in w["torrents"].items():
        m = w["memory"].get(h)
        if t["category"] == s.category or (
            t["category"] in ("failed", "recheck")
            and ((m and m.prev_category == s.category) or h in w["queue"])
        ):
            out.append(h)
    return sorted(out)


def obligation_unmet(t: dict[str, Any], m: Memory | None, s: PolicySettings) -> bool:
    """An independent restatement of the hit-and-run rule."""
    host = normalize_host(t["tracker"]) or (m.tracker if m else None)
    rule = s.tracker_for(host)
    if rule is None or not rule.hit_and_run:
        return bool(not host and t["private"] and any(r.hit_and_run for r in s.trackers))
    pct = t["progress"] * 100
    if pct < rule.min_download_percent:
        return False
    if t["progress"] < 0.9999:
        return t["ratio"] < rule.partial_seed_ratio
    checks = []
    if rule.min_seed_ratio > 0:
        checks.append(t["ratio"] >= rule.min_seed_ratio)
    if rule.min_seed_days > 0:
        checks.append(t["seeding_time"] >= rule.min_seed_days * DAY)
    if not checks:
        return False
    return not (any(checks) if rule.hnr_mode == "or" else all(checks))


PROPS = hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(worlds())
def test_safety_invariants(w) -> None:
    found = run(w)
    assert [d.hash for d in found] == owned(w)  # exactly one decision per owned torrent
    s, env = w["settings"], w["env"]
    keys = [a.key for d in found for a in d.actions]
    assert len(keys) == len(set(keys))
    for d in found:
        t, m = w["torrents"][d.hash], w["memory"].get(d.hash)
        assert d.rule in RULES
        assert Memory.from_dict(d.memory.to_dict()) == d.memory
        assert all(d.hash in a.key for a in d.actions)
        assert all(a.destructive == (a.kind in ("delete", "blocklist")) for a in d.actions)
        if s.protected_tag in {x.strip() for x in t["tags"].split(",")}:
            assert d.rule == "protected" and d.actions == ()
        first = m.first_seen if m else NOW
        age = NOW - (t["added_on"] if t["added_on"] > 0 else first)
        if age < s.ignore_younger_than:
            assert d.rule not in ("stalled", "slow")
            if d.rule == "unwanted-files":
                assert not any(a.destructive for a in d.actions)
        if obligation_unmet(t, m, s):
            assert "delete" not in [a.kind for a in d.actions], d
        if d.hash in env.content_paths_shared:
            assert all(not a.params.get("delete_files") for a in d.actions if a.kind == "delete")


@FEWER
@given(worlds(), st.randoms(use_true_random=False))
def test_decide_is_deterministic_and_order_independent(w, rnd: random.Random) -> None:
    first = run(w)
    assert run(w) == first
    items = list(w["torrents"].items())
    rnd.shuffle(items)
    shuffled = dict(w, torrents=dict(items))
    assert run(shuffled) == first


# -- every rule is reachable: one targeted scenario per rule ------------------------


def base(draw, **kw) -> dict[str, Any]:
    size = draw(st.integers(2, 20)) * GIB
    t = {
        "name": "T",
        "state": "downloading",
        "category": CAT,
        "tags": "",
        "progress": 0.5,
        "amount_left": size // 2,
        "size": size,
        "completed": size // 2,
        "ratio": 0.0,
        "seeding_time": 0,
        "eta": draw(st.integers(1, 500)),
        "availability": 2.0,
        "added_on": NOW - draw(st.sampled_from([3600, DAY, 10 * DAY])),
        "last_activity": NOW - 5,
        "content_path": "/d/T",
        "tracker": "",
        "private": None,
    }
    t.update(kw)
    return t


def seed_state(draw) -> str:
    return draw(st.sampled_from(sorted(SEED)))


@st.composite
def scenario(draw, rule: str):
    """A world in which ``rule`` must fire for torrent 1 (irrelevant details random)."""
    h = f"{1:040x}"
    q = QueueView(
        ids=(5,), tracked_state="downloading", tracked_status="ok", media=({"movieId": 1},)
    )
    s: dict[str, Any] = {"category": CAT, "stalled_delay": 900.0}
    mem, files, env = None, None, Env(now=NOW)
    if rule == "protected":
        t = base(draw, tags="qbarr-protect", state=draw(st.sampled_from(ALL_STATES)))
    elif rule == "manual-fail":
        t = base(draw, category="failed")
    elif rule == "manual-recheck":
        t = base(draw, category="recheck")
    elif rule == "missing-files":
        t = base(draw, state="missingFiles")
    elif rule == "errored":
        t = base(draw, state="error")
    elif rule == "unregistered":
        t = base(draw, state=draw(st.sampled_from(["stalledDL", "downloading", "stalledUP"])))
        msg = draw(st.sampled_from(["Unregistered torrent", "Torrent not found", "not registered"]))
        t = {
            **t,
            "tracker": "",
            "qbarr_trackers": {
                "at": NOW - 60,
                "rows": [{"url": "https://t.example/announce", "status": 4, "msg": msg}],
            },
        }
        mem = Memory(first_seen=NOW - DAY, unregistered_since=NOW - 2 * 3600)
    elif rule == "wait":
        t = base(
            draw,
            state=draw(st.sampled_from(["checkingDL", "queuedDL", "moving", "checkingResumeData"])),
        )
    elif rule == "unwanted-files":
        t = base(draw)
        files = [
            {"index": 0, "name": "T/T.mkv", "priority": 1},
            {"index": 1, "name": "T/sample.mkv", "priority": 1},
        ]
    elif rule == "stalled":
        t = base(
            draw,
            state=draw(st.sampled_from(["stalledDL", "metaDL", "forcedMetaDL"])),
            last_activity=NOW - DAY,
            added_on=NOW - 2 * DAY,
        )
    elif rule == "slow":
        t = base(draw, eta=8000)
        s.update(maximum_eta=draw(st.sampled_from([600.0, 3600.0])), slow_strikes=1)
    elif rule == "free-space":
        t = base(draw)
        s.update(free_space=10 * GIB)
        env = Env(now=NOW, free_space=draw(st.integers(0, 10)) * GIB)
    elif rule in ("bad-media", "import", "import-failed", "seeding-done", "ok"):
        t = base(
            draw,
            state=seed_state(draw),
            progress=1.0,
            amount_left=0,
            availability=-1,
            eta=8640000,
            ratio=draw(st.sampled_from([2.0, 3.0])),
        )
        if rule == "bad-media":
            q = QueueView(ids=(5,), tracked_state="importPending", tracked_status="ok")
            s.update(verify_media=True)
            check = MediaCheck("bad", "T/T.mkv: moov atom not found", files=1, checked=1)
            env = Env(now=NOW, media={h: check})
        elif rule == "import":
            q = QueueView(
                ids=(5,),
                tracked_state=draw(st.sampled_from(["downloading", "importPending"])),
                tracked_status="ok",
            )
        elif rule == "import-failed":
            q = QueueView(
                ids=(5,),
                tracked_state=draw(st.sampled_from(["failed", "failedPending", "importFailed"])),
                tracked_status="warning",
                media=({"movieId": 1},),
            )
        elif rule == "seeding-done":
            s.update(
                max_ratio=2.0,
                remove_mode=draw(st.sampled_from(["ratio", "either"])),
                seed_action=draw(st.sampled_from(["remove", "pause"])),
            )
            mem = Memory(first_seen=NOW - DAY, import_sent_at=NOW - DAY)
            q = None
        else:
            q = None
    return {
        "torrents": {h: t},
        "queue": {h: q} if q else {},
        "files": {h: files} if files else {},
        "memory": {h: mem} if mem else {},
        "settings": PolicySettings(**s),
        "env": env,
    }


def test_every_rule_fires_for_some_generated_input() -> None:
    seen: set[str] = set()

    @hsettings(max_examples=60, deadline=None)
    @given(st.sampled_from(RULES).flatmap(lambda r: st.tuples(st.just(r), scenario(r))))
    def inner(case) -> None:
        rule, w = case
        (d,) = run(w)
        assert d.rule == rule, (rule, d)
        seen.add(d.rule)

    inner()
    for rule in RULES:  # and once each explicitly, so a small example budget cannot miss one
        inner_one = given(scenario(rule))(lambda w: seen.add(run(w)[0].rule))
        hsettings(max_examples=5, deadline=None)(inner_one)()
    assert seen == set(RULES)


HNR = TrackerRule(
    name="priv",
    host="priv.example",
    hit_and_run=True,
    min_seed_ratio=1.0,
    min_seed_days=5,
    min_download_percent=10,
    partial_seed_ratio=1.0,
)


@st.composite
def guarded(draw, guard: str):
    """A scenario for any rule, then made protected, young or obligation-bound."""
    rule = draw(st.sampled_from(RULES))
    w = draw(scenario(rule))
    ((h, t),) = w["torrents"].items()
    s = w["settings"]
    if guard == "protected":
        t["tags"] = draw(st.sampled_from(["qbarr-protect", "a, qbarr-protect"]))
    elif guard == "young":
        t["added_on"] = NOW - draw(st.sampled_from([0, 10, 179]))
        t["last_activity"] = min(t["last_activity"], t["added_on"])
        w["settings"] = PolicySettings(**{**_fields(s), "ignore_younger_than": 180.0})
    else:
        t["tracker"] = draw(
            st.sampled_from(["https://priv.example/a", "http://t.priv.example:80/x"])
        )
        t["ratio"] = draw(st.sampled_from([0.0, 0.5, 0.99]))
        if t["progress"] < 0.1:
            t["progress"] = 0.5
        w["settings"] = PolicySettings(**{**_fields(s), "trackers": (HNR,)})
    return w


def _fields(s: PolicySettings) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.init}


@PROPS
@given(guarded("protected"))
def test_protected_torrents_get_no_action_whatever_else_holds(w) -> None:
    (d,) = run(w)
    assert d.rule == "protected" and d.actions == ()


@PROPS
@given(guarded("young"))
def test_young_torrents_are_never_failed_as_stalled_slow_or_unwanted(w) -> None:
    (d,) = run(w)
    t = next(iter(w["torrents"].values()))
    assert d.rule not in ("stalled", "slow")
    if d.rule in ("wait", "unwanted-files", "free-space", "ok"):
        assert not any(a.destructive for a in d.actions), d
    if (
        t["category"] == CAT
        and t["state"] not in ("error", "missingFiles")
        and t["amount_left"] > 0
    ):
        assert not any(a.destructive for a in d.actions) or d.rule == "import-failed", d


@PROPS
@given(guarded("hnr"))
def test_obligation_bound_torrents_are_never_deleted_by_any_rule(w) -> None:
    (d,) = run(w)
    assert "delete" not in [a.kind for a in d.actions], d


def test_state_names_of_4x_and_5x_are_the_same_to_the_policy() -> None:
    assert canonical_state("pausedDL") == canonical_state("stoppedDL") == "stoppedDL"
    assert canonical_state("pausedUP") == canonical_state("stoppedUP") == "stoppedUP"
    assert canonical_state("brandNewState") == "unknown"


@PROPS
@given(worlds())
def test_nothing_that_needs_the_arr_is_decided_while_it_does_not_answer(w) -> None:
    """Arr unreachable: no import, blocklist or search, no torrent failed (no delete before
    its blocklist): the only delete left is a seeding-done removal of an imported torrent."""
    w["env"] = dataclasses.replace(w["env"], arr_reachable=False)
    for d in run(w):
        kinds = [a.kind for a in d.actions]
        assert not {"import", "blocklist", "search"} & set(kinds), d
        if "delete" in kinds:
            m = w["memory"].get(d.hash)
            assert d.rule == "seeding-done", d
            assert d.hash in w["queue"] or (m is not None and m.import_sent_at is not None)
        if d.code != "wait-arr":
            continue
        assert d.actions == () and "Arr" in d.reason
