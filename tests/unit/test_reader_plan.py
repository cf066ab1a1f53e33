"""The reader's pure decisions (qbarr.reader.plan): pace, tier schedule, follow-up look-ups."""

from __future__ import annotations

from qbarr.reader import plan
from qbarr.reader.plan import PlanSettings, Schedule, Seen, Tiers

S = PlanSettings(
    loop=2.0,
    idle=15.0,
    categories=frozenset({"radarr", "sonarr"}),
    instances=frozenset({"Radarr-A", "Sonarr-B"}),
    young=180.0,
)
NOW = 1_000_000.0
OLD = NOW - 86400


def seen(state: str, category: str = "radarr", added_on: float = OLD) -> Seen:
    return Seen(digest=0, state=state, category=category, added_on=added_on)


def test_a_seeding_library_is_idle() -> None:
    lib = {f"h{i}": seen("stalledUP") for i in range(50)}
    lib |= {"s": seen("stalledDL"), "p": seen("pausedDL"), "q": seen("queuedDL")}
    assert plan.pace(lib, S, NOW, acted_recently=False) == (False, "only seeding or waiting")


def test_what_makes_the_pace_fast() -> None:
    base = {"a": seen("stalledUP")}
    cases = {
        "downloading": {"x": seen("downloading")},
        "metadata": {"x": seen("metaDL")},
        "a check": {"x": seen("checkingUP")},
        "moving": {"x": seen("moving")},
        "young": {"x": seen("stalledDL", added_on=NOW - 60)},
        "manual fail": {"x": seen("stalledUP", category="failed")},
        "manual recheck": {"x": seen("pausedUP", category="recheck")},
    }
    for name, extra in cases.items():
        fast, why = plan.pace({**base, **extra}, S, NOW, acted_recently=False)
        assert fast, name
        assert why
    assert plan.pace(base, S, NOW, acted_recently=True) == (True, "actions in progress")


def test_other_categories_do_not_set_the_pace() -> None:
    lib = {"x": seen("downloading", category="lidarr-unmanaged"), "y": seen("stalledUP")}
    assert plan.pace(lib, S, NOW, acted_recently=False)[0] is False


def test_tick_is_half_a_loop() -> None:
    assert S.tick == 1.0


def test_schedule_warm_follows_the_pace_and_full_is_occasional() -> None:
    sched = Schedule()
    assert sched.due(NOW) == (True, True), "the first tick is a full refresh"
    sched.done(NOW, full=True, warm=True, fast=False, settings=S)
    assert sched.due(NOW + 1) == (False, False)
    assert sched.due(NOW + 15) == (False, True), "idle: warm every IdlePollInterval"
    sched.done(NOW + 15, full=False, warm=True, fast=True, settings=S)
    assert sched.due(NOW + 16) == (False, False)
    assert sched.due(NOW + 17) == (False, True), "fast: warm every LoopInterval"
    assert sched.due(NOW + 150) == (True, True), "full every 10 x IdlePollInterval"


def test_free_space_makes_the_full_refresh_follow_the_warm_pace() -> None:
    settings = PlanSettings(loop=2.0, idle=15.0, free_space=True)
    sched = Schedule()
    sched.done(NOW, full=True, warm=True, fast=False, settings=settings)
    assert sched.due(NOW + 15) == (True, True)


def test_followups_look_up_what_left_a_set_and_what_was_acted_on() -> None:
    tiers = Tiers(hot={"a", "b"}, warm={"c", "d"})
    lookups = tiers.followups(hot={"a"}, warm=None, acted={"z", "a"})
    assert lookups == ("b", "z")
    assert tiers.hot == {"a"} and tiers.warm == {"c", "d"}
    lookups = tiers.followups(hot={"a"}, warm={"c", "e"}, acted=())
    assert lookups == ("d",)
    assert tiers.warm == {"c", "e"}


def test_after_a_full_refresh_the_sets_are_what_the_queries_would_return() -> None:
    tiers = Tiers()
    lib = {
        "up": seen("uploading", "other"),
        "dl": seen("downloading"),
        "st": seen("stalledDL"),
        "er": seen("missingFiles"),
        "ck": seen("checkingUP"),
        "fa": seen("stalledUP", "failed"),
        "sd": seen("stalledUP"),
    }
    tiers.reset_from(lib, S)
    assert tiers.hot == {"up", "dl"}
    assert tiers.warm == {"dl", "st", "er", "ck", "fa"}


def test_queries() -> None:
    assert Tiers.hot_queries() == [plan.Query(filter="active")]
    warm = Tiers.warm_queries(S)
    assert plan.Query(filter="downloading") in warm
    assert plan.Query(category="failed") in warm and plan.Query(category="recheck") in warm


def test_version_switch() -> None:
    assert not plan.tracks_changes((2, 8, 19))
    assert plan.tracks_changes((2, 9, 3))
    assert plan.tracks_changes((2, 11, 2))
