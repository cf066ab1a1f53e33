"""Exactly once when answers are lost: the executor and journal against an Arr simulator that
carries a call out and then answers too late or with a 5xx, or is down for a while.

Real ArrClient, real SQLite journal, qBittorrent and Radarr simulators in this process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qbarr.arr import ArrUnavailable, make_client
from qbarr.executor import Executor, outcome
from qbarr.journal import MAX_ATTEMPTS, ActionRow, Journal
from qbarr.lookup import CLOCK_SLACK, same_command
from qbarr.policy import Action, Decision, Memory
from qbarr.qbittorrent import QbtClient
from tests.support.engines import open_db
from tests.support.inproc import KEY, QBT_PASSWORD, QBT_USER, World, radarr_world, spec
from tests.support.waiting import wait_for

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

LATER = 10 * 86400.0  # far enough ahead for any back-off


def H(n: int) -> str:
    return f"{n:02x}" * 20


def decision(h: str, *actions: Action, rule: str = "import") -> Decision:
    return Decision(h, "n", rule, "x", "r", {}, actions, Memory(first_seen=1.0))


def import_of(h: str) -> Action:
    return Action(
        "import",
        f"import:{h}",
        {"path": f"/downloads/{h}", "download_client_id": h.upper(), "import_mode": "Auto"},
    )


def fail_of(h: str, item: dict[str, Any]) -> tuple[Action, ...]:
    return (
        Action("blocklist", f"blocklist:{h}", {"queue_ids": [item["id"]]}, destructive=True),
        Action("delete", f"delete:{h}", {"delete_files": True}, destructive=True),
        Action("search", f"search:{h}", {"media": [{"movieId": item["movieId"]}]}),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with radarr_world(tmp_path) as w:
        yield w


class Rig:
    """Journal + executor with real clients; ``run()`` is one cycle's executor run."""

    def __init__(self, db_path: Path, w: World, timeout: float = 5.0) -> None:
        self.journal = Journal(open_db(db_path), "Radarr")
        self.arr = make_client("radarr", w.arr_url, KEY, timeout=timeout, retries=0)
        self.qbt = QbtClient(w.qbt_url, QBT_USER, QBT_PASSWORD, timeout=5)
        self.executor = Executor(self.journal, self.qbt, self.arr)

    def run(self, ahead: float = 0.0) -> Any:
        return self.executor.run(self.journal.pending(time.time() + ahead), False, 10)

    def statuses(self) -> dict[str, str]:
        return {a.key: a.status for a in self.journal.actions()}

    def close(self) -> None:
        self.arr.close()
        self.qbt.close()


@pytest.fixture
def rig(tmp_path: Path, world: World) -> Iterator[Rig]:
    r = Rig(tmp_path / "qbarr.sqlite3", world)
    try:
        yield r
    finally:
        r.close()


def test_import_answered_503_after_the_arr_queued_it_is_unknown_then_found(
    world: World, rig: Rig
) -> None:
    h = H(1)
    world.add(spec(h, "uploading"))
    world.wait_queued(h)
    rig.journal.record([decision(h, import_of(h))], time.time(), False)
    world.arr.faults.update({"apply_then_fail": 1.0, "method": "POST"})
    s = rig.run()
    assert (s.unknown, s.failed) == (1, 0)
    row = rig.journal.actions()[0]
    assert row.status == "unknown" and "503" in row.result and row.first_sent_at is not None
    world.arr.faults.clear()
    s = rig.run(LATER)
    row = rig.journal.actions()[0]
    assert s.done == 1 and row.status == "done" and "already sent" in row.result
    assert len(world.commands("DownloadedMoviesScan")) == 1
    assert rig.run(LATER).done == 0


def test_import_answered_after_the_client_timeout_is_sent_once(
    tmp_path: Path, world: World
) -> None:
    rig = Rig(tmp_path / "qbarr.sqlite3", world, timeout=0.5)
    try:
        h = H(2)
        world.add(spec(h, "uploading"))
        world.wait_queued(h)
        rig.journal.record([decision(h, import_of(h))], time.time(), False)
        world.arr.faults.update({"latency_after": 1.2, "method": "POST"})
        assert rig.run().unknown == 1
        world.arr.faults.clear()
        assert rig.run(LATER).done == 1
        assert len(world.commands("DownloadedMoviesScan")) == 1
    finally:
        rig.close()


def test_an_import_looked_up_after_the_arr_forgot_its_command_is_found_in_its_history(
    tmp_path: Path,
) -> None:
    """The answer is lost, then the outage outlasts the Arr's list of finished commands (a few
    minutes; none here) and the import took the download out of the queue: only the Arr's
    history still says it was imported, so the import is not sent again."""
    with radarr_world(tmp_path, command_history=0.0) as w:
        rig = Rig(tmp_path / "qbarr.sqlite3", w)
        try:
            h = H(3)
            w.add(spec(h, "uploading"))
            w.wait_queued(h)
            rig.journal.record([decision(h, import_of(h))], time.time(), False)
            w.arr.faults.update({"apply_then_fail": 1.0, "method": "POST"})
            assert rig.run().unknown == 1
            w.arr.faults.clear()
            [scan] = w.commands("DownloadedMoviesScan")
            wait_for(lambda: scan.ended is not None, what="the lost scan to finish")
            assert w.queue_item(h) is None and not rig.arr.commands()  # both forgot it
            s = rig.run(LATER)
            row = rig.journal.actions()[0]
            assert s.done == 1 and row.status == "done", row.result
            assert "history shows downloadFolderImported" in row.result
            assert len(w.commands("DownloadedMoviesScan")) == 1
        finally:
            rig.close()


def test_an_import_still_waiting_in_the_queue_is_sent_again_without_asking_the_history(
    world: World, rig: Rig
) -> None:
    """The lost try never reached the Arr (no command, the download still in the queue):
    the import is sent, and the history is not read for it."""
    h = H(4)
    world.add(spec(h, "uploading"))
    world.wait_queued(h)
    rig.journal.record([decision(h, import_of(h))], time.time(), False)
    world.arr.faults.update({"error_rate": 1.0, "method": "POST"})
    rig.run()
    world.arr.faults.clear()
    before = dict(world.arr.sim.api_calls)
    assert rig.run(LATER).done == 1
    assert len(world.commands("DownloadedMoviesScan")) == 1
    assert world.arr.sim.api_calls.get("GET /api/v3/history", 0) == before.get(
        "GET /api/v3/history", 0
    )


def test_blocklist_and_search_whose_answers_are_lost_happen_once(world: World, rig: Rig) -> None:
    h = H(3)
    world.add(spec(h, "stalledDL", progress=0.2))
    item = world.wait_queued(h)
    rig.journal.record([decision(h, *fail_of(h, item), rule="stalled")], time.time(), False)
    world.arr.faults.update({"apply_then_fail": 1.0, "method": "DELETE"})
    s = rig.run()
    assert s.unknown == 1 and s.deferred == 2  # delete and search wait behind the blocklist
    assert len(world.arr.sim.blocklist) == 1 and world.qbt.store.torrents.get(h) is not None
    world.arr.faults.update({"method": "POST"})  # now the search's answer is lost
    s = rig.run(LATER)
    assert rig.statuses() == {
        f"blocklist:{h}": "done",
        f"delete:{h}": "done",
        f"search:{h}": "unknown",
    }
    assert "already blocklisted" in rig.journal.actions()[0].result
    world.arr.faults.clear()
    assert rig.run(LATER).done == 1
    assert "already sent" in rig.journal.actions()[2].result
    assert len(world.arr.sim.blocklist) == 1 and len(world.commands("MoviesSearch")) == 1
    assert h not in world.qbt.store.torrents


def test_a_command_queued_before_the_action_was_first_sent_is_not_ours(
    world: World, rig: Rig
) -> None:
    h = H(4)
    world.add(spec(h, "uploading"))
    world.wait_queued(h)
    rig.arr.scan(f"/downloads/{h}", h)  # someone scanned it before qbarr decided anything
    rig.journal.record([decision(h, import_of(h))], time.time(), False)
    (a,) = rig.journal.pending(time.time())
    # qbarr started sending it a while after that scan, then crashed before the answer
    rig.journal.mark(a.id, "sending", "", time.time() + 2 * CLOCK_SLACK + 1)
    assert rig.run(LATER).done == 1
    assert len(world.commands("DownloadedMoviesScan")) == 2  # the old one did not count


def test_same_command_matches_name_ids_and_time() -> None:
    def row(kind: str, params: dict[str, Any], first: float) -> ActionRow:
        return ActionRow(1, 1, "R", "ab" * 20, kind, "k", params, False, "unknown", 1, None,
                         first, first, first_sent_at=first)  # fmt: skip

    t0 = 1_700_000_000.0
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
    scan = {
        "name": "DownloadedMoviesScan",
        "queued": stamp,
        "body": {"downloadClientId": "AB" * 20},
    }
    imp = row("import", {"download_client_id": "AB" * 20}, t0)
    assert same_command(imp, scan)
    assert same_command(imp, {**scan, "queued": None})  # no time given: cannot rule it out
    assert not same_command(row("import", {"download_client_id": "AB" * 20}, t0 + 5), scan)
    assert not same_command(imp, {**scan, "body": {"downloadClientId": "CD" * 20}})
    search = {"name": "EpisodeSearch", "queued": stamp, "body": {"episodeIds": [1, 2, 3]}}
    assert same_command(row("search", {"media": [{"episodeId": 1}, {"episodeId": 3}]}, t0), search)
    assert not same_command(row("search", {"media": [{"episodeId": 4}]}, t0), search)
    assert not same_command(row("search", {"media": [{"episodeId": 1}]}, t0), scan)


def test_an_outage_abandons_nothing_and_everything_happens_once_after_it(
    world: World, rig: Rig
) -> None:
    complete, stalled = [H(10 + n) for n in range(4)], H(20)
    world.add(*(spec(h, "uploading") for h in complete), spec(stalled, "stalledDL", progress=0.1))
    item = world.wait_queued(stalled)
    for h in complete:
        world.wait_queued(h)
    now = time.time()
    rig.journal.record(
        [decision(h, import_of(h)) for h in complete]
        + [decision(stalled, *fail_of(stalled, item), rule="stalled")],
        now,
        False,
    )
    world.arr.faults.update({"outage": 3600})
    for n in range(3 * MAX_ATTEMPTS):  # far more tries than a refusal would get
        rig.run(LATER * n)
    statuses = set(rig.statuses().values())
    assert statuses <= {"planned", "unknown", "waiting"}, statuses
    assert not world.commands("DownloadedMoviesScan") and not world.arr.sim.blocklist
    world.arr.faults.clear()
    for _ in range(4):  # blocklist, delete, search: one wave each
        rig.run(LATER * 100)
    assert set(rig.statuses().values()) == {"done"}
    scans = [c.body["downloadClientId"].lower() for c in world.commands("DownloadedMoviesScan")]
    assert sorted(scans) == sorted(complete)
    assert len(world.arr.sim.blocklist) == 1 and len(world.commands("MoviesSearch")) == 1


def test_an_unreachable_arr_is_waited_for_a_refusal_is_failed(tmp_path: Path) -> None:
    closed = "http://127.0.0.1:9"  # discard port: connection refused
    with make_client("radarr", closed, KEY, timeout=2, retries=0) as arr:
        try:
            arr.scan("/d", "ab" * 20)
        except ArrUnavailable as exc:
            refused = exc
    assert outcome(refused) == "waiting" and not refused.maybe_applied
    assert outcome(ArrUnavailable("x answered 503", status=503, maybe_applied=True)) == "unknown"
    from qbarr.arr import ArrBadRequest

    assert outcome(ArrBadRequest("refused", status=400)) == "failed"
    j = Journal(open_db(tmp_path / "q.sqlite3"), "Radarr")
    with make_client("radarr", closed, KEY, timeout=2, retries=0) as arr:
        ex = Executor(j, None, arr)  # type: ignore[arg-type]
        j.record([decision(H(5), import_of(H(5)))], time.time(), False)
        for n in range(3 * MAX_ATTEMPTS):
            ex.run(j.pending(time.time() + LATER * n), False, 10)
    (row,) = j.actions()
    assert row.status == "waiting" and row.refusals == 0 and j.pending(time.time() + LATER)


# -- the search program ---------------------------------------------------------------------


def search_runner(tmp_path: Path, url: str, clock: Any) -> Any:
    from qbarr.search.runner import SearchRunner
    from qbarr.search.settings import SearchSettings

    settings = SearchSettings(
        kind="radarr", enabled=True, search_cutoff_unmet=False, search_limit=5, search_delay=0
    )
    db = open_db(tmp_path / "search.sqlite3")
    arr = make_client("radarr", url, KEY, timeout=5, retries=0)
    return SearchRunner("Radarr", settings, db, arr, clock=clock, backoff_cap=1)


def searched(sim: Any) -> list[int]:
    with sim.commands.lock:
        return [m for c in sim.commands.all.values() for m in c.body.get("movieIds", [])]


@pytest.mark.parametrize("applied", [True, False])
def test_a_search_program_search_whose_answer_was_lost_is_looked_up(
    tmp_path: Path, applied: bool
) -> None:
    """Answered 503 after the Arr queued it: found in the next command list, never sent
    again. Answered 503 without effect: not found, so the item is searched again, once."""
    from qbarr.sim.arr.engine import SimOptions
    from qbarr.sim.arr.launch import serve_in_thread

    arr = serve_in_thread(SimOptions("radarr", "radarr", search_duration=0.05), KEY)
    t = [time.time()]
    runner = search_runner(tmp_path, arr.url, lambda: t[0])
    try:
        fault = "apply_then_fail" if applied else "error_rate"
        arr.faults.update({fault: 1.0, "method": "POST"})
        runner.step()
        (first,) = rows_of(runner.db, "SELECT * FROM searches")
        assert first["status"] == "unknown" and runner.lost
        assert len(searched(arr.sim)) == (1 if applied else 0)
        arr.faults.clear()
        for _ in range(3):  # past the Arr back-off
            t[0] += 2
            runner.step()
        journal = {r["id"]: r for r in rows_of(runner.db, "SELECT * FROM searches")}
        movies = searched(arr.sim)
        assert len(movies) == len(set(movies)) >= 3  # no movie searched twice
        if applied:
            assert journal[first["id"]]["command_id"] is not None
            assert journal[first["id"]]["status"] in ("queued", "started", "completed")
        else:
            assert journal[first["id"]]["status"] == "error"
            assert int(first["item"].split(":")[1]) in movies  # searched again, once
    finally:
        runner.arr.close()
        runner.db.close()
        arr.stop()


def rows_of(db: Any, sql: str) -> list[dict[str, Any]]:
    from qbarr.db import rows

    return rows(db, sql)
