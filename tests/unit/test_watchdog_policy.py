"""The watchdog's pure restart policy (qbarr.watchdog)."""

from __future__ import annotations

from qbarr.watchdog import Action, Policy, StateEvent, last_sign_of_life


def ev(
    state: str,
    name: str = "arr-a",
    group: str = "arr",
    pid: int | None = 10,
    expected: bool | None = None,
    from_state: str = "RUNNING",
) -> StateEvent:
    return StateEvent(state, name, group, from_state, pid, expected)


def info(
    state: str, name: str = "arr-a", group: str = "arr", pid: int = 10, start: float = 0.0
) -> dict:
    return {"name": name, "group": group, "statename": state, "pid": pid, "start": start}


def kinds(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.kind, a.event or a.signal) for a in actions]


def test_parse_payload() -> None:
    event = StateEvent.parse(
        "PROCESS_STATE_EXITED",
        "processname:arr-a groupname:arr from_state:RUNNING expected:0 pid:42",
    )
    assert event == StateEvent("EXITED", "arr-a", "arr", "RUNNING", 42, False)
    assert event.full_name == "arr:arr-a"
    assert (
        StateEvent.parse(
            "PROCESS_STATE_FATAL", "processname:webui groupname:webui from_state:BACKOFF"
        ).full_name
        == "webui"
    )


def test_unexpected_exit_and_backoff_are_recorded_expected_exit_is_not() -> None:
    policy = Policy()
    assert kinds(policy.on_state(ev("EXITED", expected=False), 0)) == [("record", "exited")]
    assert policy.on_state(ev("EXITED", expected=True), 0) == []
    assert kinds(policy.on_state(ev("BACKOFF", from_state="STARTING"), 0)) == [
        ("record", "backoff")
    ]


def test_fatal_restarts_with_capped_exponential_backoff() -> None:
    policy = Policy(backoff_max=30)
    now = 1000.0
    delays = []
    for _ in range(6):
        assert kinds(policy.on_state(ev("FATAL", from_state="BACKOFF"), now)) == [
            ("record", "fatal")
        ]
        due = policy.fatal["arr:arr-a"].due
        delays.append(due - now)
        assert policy.on_tick(due - 0.1, [info("FATAL")], {}) == []
        actions = policy.on_tick(due, [info("FATAL")], {})
        assert kinds(actions) == [("start", ""), ("record", "restart")]
        assert policy.on_tick(due + 5, [info("FATAL")], {}) == []  # one start per FATAL
        now = due + 3
    assert delays == [5, 10, 20, 30, 30, 30]
    policy.on_state(ev("RUNNING"), now)
    assert "arr:arr-a" not in policy.fatal


def test_fatal_found_at_a_tick_is_scheduled_and_removed_programs_are_forgotten() -> None:
    policy = Policy()
    assert policy.on_tick(100, [info("FATAL", "webui", "webui")], {}) == []
    assert kinds(policy.on_tick(105, [info("FATAL", "webui", "webui")], {}))[0] == ("start", "")
    policy.on_state(ev("FATAL"), 110)
    assert policy.on_tick(200, [], {}) == []
    assert policy.fatal == {}


def test_stale_heartbeat_gets_usr1_term_then_kill_then_restart() -> None:
    policy = Policy(heartbeat_timeout=10, kill_grace=10)
    row = {"pid": 10, "heartbeat_at": 100.0}
    assert policy.on_tick(105, [info("RUNNING", start=50)], {"arr-a": row}) == []
    actions = policy.on_tick(111, [info("RUNNING", start=50)], {"arr-a": row})
    assert kinds(actions) == [("signal", "USR1"), ("signal", "TERM"), ("record", "hung")]
    assert policy.on_tick(115, [info("RUNNING", start=50)], {"arr-a": row}) == []
    assert kinds(policy.on_tick(121, [info("RUNNING", start=50)], {"arr-a": row})) == [
        ("signal", "KILL"),
        ("record", "killed"),
    ]
    assert policy.on_tick(130, [info("RUNNING", start=50)], {"arr-a": row}) == []
    # exit 0 after TERM is "expected": supervisord will not restart it, the watchdog does
    assert kinds(policy.on_state(ev("EXITED", expected=True), 131)) == [
        ("start", ""),
        ("record", "restart"),
    ]
    assert policy.hung == {}


def test_hung_program_killed_by_signal_is_left_to_supervisord() -> None:
    policy = Policy(heartbeat_timeout=10)
    policy.on_tick(200, [info("RUNNING")], {"arr-a": {"pid": 10, "heartbeat_at": 100.0}})
    assert kinds(policy.on_state(ev("EXITED", expected=False), 201)) == [("record", "restart")]


def test_new_process_is_judged_by_its_start_time_not_the_old_heartbeat() -> None:
    row = {"pid": 9, "heartbeat_at": 10.0}  # written by the previous process
    assert last_sign_of_life(info("RUNNING", pid=10, start=100), row) == 100
    assert last_sign_of_life(info("RUNNING", pid=9, start=5), row) == 10
    policy = Policy(heartbeat_timeout=10)
    assert policy.on_tick(105, [info("RUNNING", pid=10, start=100)], {"arr-a": row}) == []


def test_programs_without_heartbeat_and_stopped_ones_are_not_checked() -> None:
    policy = Policy(heartbeat_timeout=10)
    assert policy.on_tick(1000, [info("RUNNING", "webui", "webui")], {}) == []
    assert policy.on_tick(1000, [info("STOPPED")], {"arr-a": {"pid": 10, "heartbeat_at": 0}}) == []
