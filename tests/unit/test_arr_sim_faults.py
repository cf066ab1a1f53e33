"""The Arr simulator's faults for lost answers: the call takes effect, the answer does not come
(too late, or a 5xx), and outages that end by themselves. In-process simulator, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qbarr.arr import ArrUnavailable, make_client
from qbarr.sim.arr.engine import SimOptions
from qbarr.sim.arr.faults import Faults
from qbarr.sim.arr.launch import serve_in_thread
from qbarr.sim.arr.server import InThread
from tests.support.waiting import wait_for

KEY = "sim-key-0123456789"


@pytest.fixture
def arr() -> Iterator[InThread]:
    sim = serve_in_thread(SimOptions("radarr", "radarr", command_duration=0.05), KEY)
    try:
        yield sim
    finally:
        sim.stop()


def scans(arr: InThread) -> list[str]:
    with arr.sim.commands.lock:
        return [c.body["downloadClientId"] for c in arr.sim.commands.all.values()]


def test_apply_then_fail_queues_the_command_and_answers_503(arr: InThread) -> None:
    arr.faults.update({"apply_then_fail": 1.0, "method": "POST"})
    with make_client("radarr", arr.url, KEY, timeout=5) as client:
        with pytest.raises(ArrUnavailable, match="503"):
            client.scan("/d/Movie", "ab" * 20)
        assert scans(arr) == ["AB" * 20]  # the Arr has it, the client was told it failed
        assert client.system_status()["appName"] == "Radarr"  # GETs are not affected
        listed = client.commands()
    assert [c["body"]["downloadClientId"] for c in listed] == ["AB" * 20]
    assert arr.faults.snapshot()["injected"] == 1


def test_latency_after_applies_the_call_then_answers_too_late(arr: InThread) -> None:
    arr.faults.update({"latency_after": 1.5, "path": "/command", "method": "POST"})
    with make_client("radarr", arr.url, KEY, timeout=0.5) as client:
        with pytest.raises(ArrUnavailable, match="did not answer"):
            client.scan("/d/Movie", "cd" * 20)
        assert scans(arr) == ["CD" * 20]
        arr.faults.clear()
        assert len(client.commands()) == 1


def test_outage_refuses_everything_then_ends_by_itself() -> None:
    now = [100.0]
    faults = Faults(clock=lambda: now[0])
    faults.update({"outage": 30, "path": "/queue", "method": "DELETE"})
    pick = faults.pick("/api/v3/system/status", "GET")  # the filters do not narrow an outage
    assert (pick.action, pick.status) == ("error", 503)
    assert faults.snapshot()["outage"] == 30
    now[0] = 130.0
    assert faults.pick("/api/v3/system/status", "GET").action is None
    assert faults.snapshot()["outage"] == 0


def test_outage_over_http(arr: InThread) -> None:
    arr.faults.update({"outage": 0.6})
    with make_client("radarr", arr.url, KEY, timeout=5, retries=0) as client:
        with pytest.raises(ArrUnavailable, match="503"):
            client.queue()
        wait_for(
            client.system_status, timeout=10, what="the end of the outage", ignore=(ArrUnavailable,)
        )
