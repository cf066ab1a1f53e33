"""The executor on a real SQLite journal with small in-process fake clients that record calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from qbarr.arr.kinds import RADARR
from qbarr.executor import Executor
from qbarr.journal import RETRY, Journal, release_brake
from qbarr.policy import Action, Decision, Env, Memory, PolicySettings, QueueView, decide
from tests.support.engines import location, open_db

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py: engine).
pytestmark = pytest.mark.usefixtures("engine")

NOW = 1_000_000.0
REPO = Path(__file__).resolve().parents[2]


def H(n: int) -> str:
    return f"{n:040x}"


class Boom(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Killed(BaseException):
    """Stands for SIGKILL right after a call took effect: nothing after it runs."""


class FakeQbt:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.fail: dict[str, Exception] = {}

    def _call(self, name: str, *args: Any) -> None:
        if name in self.fail:
            raise self.fail[name]
        self.calls.append((name, *args))

    def delete(self, hashes, delete_files):
        self._call("delete", tuple(hashes), delete_files)

    def recheck(self, hashes):
        self._call("recheck", tuple(hashes))

    def set_category(self, hashes, category):
        self._call("set_category", tuple(hashes), category)

    def pause(self, hashes):
        self._call("pause", tuple(hashes))

    def resume(self, hashes):
        self._call("resume", tuple(hashes))

    def reannounce(self, hashes):
        self._call("reannounce", tuple(hashes))

    def file_prio(self, hash, file_ids, priority):
        self._call("file_prio", hash, tuple(file_ids), priority)

    def add_tags(self, hashes, tags):
        self._call("add_tags", tuple(hashes), tuple(tags))

    def remove_tags(self, hashes, tags):
        self._call("remove_tags", tuple(hashes), tuple(tags))


class FakeArr:
    def __init__(self, queue_ids=(7,), downloads: dict[str, str] | None = None) -> None:
        self.queue_ids = set(queue_ids)
        # hash -> tracked state of downloads in the queue (for import look-ups)
        self.downloads = (
            {H(n): "importPending" for n in range(1, 10)} if downloads is None else downloads
        )
        self.calls: list[tuple] = []
        self.commands_list: list[dict] = []
        self.fail: dict[str, BaseException] = {}
        self.kill_after: str | None = None
        self.blocklisted: list[int] = []
        self.history: list[dict] = []  # GET history records (import events of lost answers)
        self.spec = RADARR

    def _maybe(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def _after(self, name: str) -> None:
        if self.kill_after == name:
            raise Killed(name)

    def scan(self, path, download_client_id, import_mode="Auto"):
        self._maybe("scan")
        self.calls.append(("scan", path, download_client_id, import_mode))
        cmd = {
            "id": len(self.commands_list) + 1,
            "name": "DownloadedMoviesScan",
            "status": "queued",
            "body": {
                "path": path,
                "downloadClientId": download_client_id.upper(),
                "importMode": import_mode,
            },
        }
        self.commands_list.append(cmd)
        self._after("scan")
        return cmd

    def delete_queue(self, item_id, remove_from_client=True, blocklist=True, skip_redownload=False):
        self._maybe("delete_queue")
        self.calls.append(("delete_queue", item_id, remove_from_client, blocklist, skip_redownload))
        if item_id not in self.queue_ids:
            raise Boom(f"queue item {item_id} not found", status=404)
        self.queue_ids.discard(item_id)
        self.blocklisted.append(item_id)
        self._after("delete_queue")

    def search_for(self, items):
        self._maybe("search_for")
        ids = sorted(i.media["movieId"] for i in items if "movieId" in i.media)
        self.calls.append(("search", tuple(ids)))
        if not ids:
            return None
        cmd = {"id": 99, "name": "MoviesSearch", "status": "queued", "body": {"movieIds": ids}}
        self.commands_list.append(cmd)
        self._after("search_for")
        return cmd

    def commands(self):
        self._maybe("commands")
        return list(self.commands_list)

    def download_history(self, download_id):
        self._maybe("history")
        self.calls.append(("history", download_id))
        return [r for r in self.history if r["downloadId"].lower() == download_id.lower()]

    def queue(self):
        self._maybe("queue")
        items = [
            SimpleNamespace(id=i, download_id="", tracked_state="downloading")
            for i in self.queue_ids
        ]
        items += [
            SimpleNamespace(id=1000 + n, download_id=h.upper(), tracked_state=state)
            for n, (h, state) in enumerate(self.downloads.items())
        ]
        return items


def decision(h: str, rule: str, code: str, *actions: Action) -> Decision:
    return Decision(
        hash=h,
        name="n",
        rule=rule,
        code=code,
        reason=code,
        inputs={},
        memory=Memory(first_seen=NOW),
        actions=actions,
    )


def fail_decision(h: str = H(1), qid: int = 7) -> Decision:
    blocklist = {"queue_ids": [qid], "remove_from_client": False, "skip_redownload": True}
    return decision(
        h,
        "stalled",
        "fail",
        Action("blocklist", f"blocklist:{h}", blocklist, True),
        Action("delete", f"delete:{h}", {"delete_files": True}, True),
        Action("search", f"search:{h}", {"media": [{"movieId": 3}]}),
    )


def import_decision(h: str = H(1)) -> Decision:
    scan = {"path": "/d/M", "download_client_id": h.upper(), "import_mode": "Copy"}
    return decision(h, "import", "scan", Action("import", f"import:{h}", scan))


def simple(kind: str, h: str, key: str | None = None, **params: Any) -> Decision:
    return decision(h, "free-space", kind, Action(kind, key or f"{kind}:{h}:0", params))


@pytest.fixture
def dbpath(tmp_path: Path) -> Path:
    return tmp_path / "qbarr.sqlite3"


def make(dbpath: Path, qbt=None, arr=None, t: float = NOW):
    db = open_db(dbpath)
    j = Journal(db, "Radarr")
    ex = Executor(j, qbt or FakeQbt(), arr or FakeArr(), clock=lambda: t)
    return j, ex


def test_fail_runs_blocklist_then_delete_then_search(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr()
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision()], NOW, False)
    s = ex.run(j.pending(NOW), dry_run=False, brake_max=10)
    assert (s.done, s.failed, s.held) == (3, 0, 0)
    assert s.counts == {
        "done": 3,
        "unknown": 0,
        "waiting": 0,
        "failed": 0,
        "held": 0,
        "skipped": 0,
        "deferred": 0,
    }
    assert arr.calls == [("delete_queue", 7, False, True, True), ("search", (3,))]
    assert qbt.calls == [("delete", (H(1),), True)]
    assert {a.status for a in j.actions()} == {"done"} and all(a.attempts == 1 for a in j.actions())


def test_a_done_action_is_never_run_again(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr()
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision()], NOW, False)
    ex.run(j.pending(NOW), False, 10)
    for cycle in range(3):  # the policy keeps deciding the same thing; a restart in between
        j, ex = make(dbpath, qbt, arr)
        j.load_memory()
        assert j.record([fail_decision()], NOW + cycle, False) == []
        assert ex.run(j.pending(NOW + cycle), False, 10).done == 0
    assert len(arr.blocklisted) == 1 and len(qbt.calls) == 1


def test_crash_between_record_and_run(dbpath) -> None:
    j, _ = make(dbpath)
    j.record([fail_decision(), import_decision(H(2))], NOW, False)
    del j  # the manager dies here
    qbt, arr = FakeQbt(), FakeArr()
    j2, ex2 = make(dbpath, qbt, arr)
    assert [a.kind for a in j2.pending(NOW)] == ["blocklist", "delete", "search", "import"]
    assert ex2.run(j2.pending(NOW), False, 10).done == 4
    assert ex2.run(j2.pending(NOW), False, 10).done == 0
    assert [c[0] for c in arr.calls] == ["delete_queue", "scan", "search"]


def test_crash_after_import_post_is_not_resent(dbpath) -> None:
    arr = FakeArr()
    arr.kill_after = "scan"
    j, ex = make(dbpath, FakeQbt(), arr)
    j.record([import_decision()], NOW, False)
    with pytest.raises(Killed):
        ex.run(j.pending(NOW), False, 10)
    assert [a.status for a in j.actions()] == ["sending"]
    arr.kill_after = None
    j2, ex2 = make(dbpath, FakeQbt(), arr)
    s = ex2.run(j2.pending(NOW), False, 10)
    assert s.done == 1 and [c[0] for c in arr.calls] == ["scan"]  # sent once only
    assert "already sent: the Arr lists DownloadedMoviesScan id 1" in j2.actions()[0].result


def test_crash_before_import_post_sends_it_once_after_restart(dbpath) -> None:
    arr = FakeArr()
    arr.fail["scan"] = Killed("killed before the POST")
    j, ex = make(dbpath, FakeQbt(), arr)
    j.record([import_decision()], NOW, False)
    with pytest.raises(Killed):
        ex.run(j.pending(NOW), False, 10)
    del arr.fail["scan"]
    j2, ex2 = make(dbpath, FakeQbt(), arr)
    assert ex2.run(j2.pending(NOW), False, 10).done == 1
    assert [c[0] for c in arr.calls] == ["scan"]


def test_interrupted_import_waits_when_the_command_list_is_unreadable(dbpath) -> None:
    arr = FakeArr()
    arr.kill_after = "scan"
    j, ex = make(dbpath, FakeQbt(), arr)
    j.record([import_decision()], NOW, False)
    with pytest.raises(Killed):
        ex.run(j.pending(NOW), False, 10)
    arr.kill_after = None
    arr.fail["commands"] = Boom("Arr unreachable")
    j2, ex2 = make(dbpath, FakeQbt(), arr)
    s = ex2.run(j2.pending(NOW), False, 10)
    assert s.waiting == 1 and len([c for c in arr.calls if c[0] == "scan"]) == 1
    assert j2.actions()[0].status == "waiting" and "cannot look up" in j2.actions()[0].result


def test_crash_between_blocklist_and_delete(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr()
    arr.kill_after = "delete_queue"
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision()], NOW, False)
    with pytest.raises(Killed):
        ex.run(j.pending(NOW), False, 10)
    arr.kill_after = None
    j2, ex2 = make(dbpath, qbt, arr)
    s = ex2.run(j2.pending(NOW), False, 10)
    assert s.done == 3
    assert arr.blocklisted == [7]  # the queue no longer lists the item: blocklisted once
    assert "already blocklisted" in j2.actions()[0].result
    assert [c[0] for c in arr.calls] == ["delete_queue", "search"]  # no second DELETE
    assert qbt.calls == [("delete", (H(1),), True)]


def test_crash_after_search_post_is_not_resent(dbpath) -> None:
    arr = FakeArr()
    arr.kill_after = "search_for"
    j, ex = make(dbpath, FakeQbt(), arr)
    j.record([fail_decision()], NOW, False)
    with pytest.raises(Killed):
        ex.run(j.pending(NOW), False, 10)
    arr.kill_after = None
    j2, ex2 = make(dbpath, FakeQbt(), arr)
    assert ex2.run(j2.pending(NOW), False, 10).done == 1
    assert [c[0] for c in arr.calls] == ["delete_queue", "search"]


def test_network_error_is_failed_then_retried_with_back_off(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr()
    arr.fail["delete_queue"] = Boom(
        "Radarr at http://127.0.0.1:7878 unreachable: connection refused"
    )
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision()], NOW, False)
    s = ex.run(j.pending(NOW), False, 10)
    assert (s.done, s.failed, s.deferred) == (0, 1, 2)  # delete and search wait for the blocklist
    row = j.actions()[0]
    assert row.status == "failed" and "connection refused" in row.result and row.attempts == 1
    assert qbt.calls == []
    # the next cycle, before the back-off: the delete still waits behind the blocklist
    s = ex.run(j.pending(NOW + 1), False, 10)
    assert s.done == 0 and qbt.calls == []
    del arr.fail["delete_queue"]
    later = NOW + RETRY.delay(1)
    j2, ex2 = make(dbpath, qbt, arr, t=later)
    assert ex2.run(j2.pending(later), False, 10).done == 3


def test_a_refused_action_is_retried_with_back_off_while_its_torrent_exists(dbpath) -> None:
    qbt = FakeQbt()
    qbt.fail["pause"] = Boom("qBittorrent refused it")
    t = NOW
    j, ex = make(dbpath, qbt)
    j.record([simple("pause", H(1))], NOW, False)
    for _ in range(10):
        ex = Executor(j, qbt, FakeArr(), clock=lambda t=t: t)
        ex.run(j.pending(t), False, 10)
        t += 1000  # past the longest back-off
    row = j.actions()[0]
    assert (row.status, row.attempts, row.refusals) == ("failed", 10, 10)
    j.forget_gone([], t)  # the torrent left qBittorrent: its pause is dropped
    assert j.actions()[0].status == "skipped" and j.pending(t + 1000) == []


def test_brake_engages_and_holds_every_destructive_action(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr(queue_ids=(1, 2, 3))
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision(H(n), qid=n) for n in (1, 2, 3)] + [import_decision(H(9))], NOW, False)
    s = ex.run(j.pending(NOW), False, brake_max=2)
    assert s.brake_engaged and s.held == 6 and s.done == 1  # the import is not destructive
    assert [c[0] for c in arr.calls] == ["scan"] and qbt.calls == []
    assert (
        j.brake_engaged()
        and "BrakeMaxRemovals 2" in j.db.execute("SELECT brake_reason FROM instances").fetchone()[0]
    )
    # still engaged next cycle: searches wait behind the held actions, nothing destructive runs
    s = ex.run(j.pending(NOW + 2), False, brake_max=2)
    assert s.done == 0 and s.deferred == 3 and qbt.calls == []
    release_brake(j.db, "Radarr", NOW + 60)
    wanted = {f"{kind}:{H(n)}" for n in (1, 2) for kind in ("blocklist", "delete", "search")}
    s = ex.run(j.pending(NOW + 61), False, brake_max=2, wanted=wanted)
    assert not s.brake_engaged  # released actions do not trip the brake again
    assert sorted(arr.blocklisted) == [1, 2] and qbt.calls == [("delete", (H(1), H(2)), True)]
    assert s.skipped == 3  # H(3) is no longer decided: its held actions and its search are dropped
    assert [c for c in arr.calls if c[0] == "search"] == [("search", (3,)), ("search", (3,))]


def test_brake_zero_is_off(dbpath) -> None:
    qbt = FakeQbt()
    j, ex = make(dbpath, qbt, FakeArr(queue_ids=range(30)))
    j.record([fail_decision(H(n), qid=n) for n in range(1, 21)], NOW, False)
    s = ex.run(j.pending(NOW), False, brake_max=0)
    assert not s.brake_engaged and s.done == 60


def test_dry_run_touches_nothing(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr()
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision(), import_decision(H(2))], NOW, True)
    s = ex.run(j.pending(NOW), dry_run=True, brake_max=10)
    assert s.skipped == 4 and qbt.calls == [] and arr.calls == []
    assert {a.status for a in j.actions()} == {"skipped"}
    # a dry-run plan left by a crash is not carried out by a manager running for real
    j.record([simple("pause", H(3))], NOW, True)
    assert ex.run(j.pending(NOW), dry_run=False, brake_max=10).skipped == 1 and qbt.calls == []


def test_qbittorrent_calls_are_batched_per_wave(dbpath) -> None:
    qbt = FakeQbt()
    j, ex = make(dbpath, qbt)
    j.record(
        [simple("pause", H(n)) for n in (1, 2, 3)]
        + [simple("resume", H(4))]
        + [simple("file_prio", H(5), file_ids=[1, 2], priority=0)]
        + [simple("set_category", H(6), category="radarr")]
        + [simple("tag", H(7), tags=["qbarr-unregistered"])]
        + [simple("untag", H(8), tags=["qbarr-tracker-error"])]
        + [simple("reannounce", H(n)) for n in (9, 10)],
        NOW,
        False,
    )
    assert ex.run(j.pending(NOW), False, 10).done == 10
    assert sorted(qbt.calls) == sorted(
        [
            ("pause", (H(1), H(2), H(3))),
            ("resume", (H(4),)),
            ("file_prio", H(5), (1, 2), 0),
            ("set_category", (H(6),), "radarr"),
            ("add_tags", (H(7),), ("qbarr-unregistered",)),
            ("remove_tags", (H(8),), ("qbarr-tracker-error",)),
            ("reannounce", (H(9), H(10))),
        ]
    )


def test_error_text_is_bounded(dbpath) -> None:
    qbt = FakeQbt()
    qbt.fail["pause"] = Boom("x" * 5000)
    j, ex = make(dbpath, qbt)
    j.record([simple("pause", H(1))], NOW, False)
    ex.run(j.pending(NOW), False, 10)
    assert len(j.actions()[0].result) <= 500


def test_policy_journal_executor_together(dbpath) -> None:
    """A stalled torrent: decide -> record -> run, then the next cycles plan nothing new."""
    h = H(1)
    torrent = {
        "name": "M",
        "state": "stalledDL",
        "category": "radarr",
        "progress": 0.3,
        "amount_left": 10,
        "completed": 5,
        "availability": 0.1,
        "added_on": NOW - 7200,
        "last_activity": NOW - 3600,
        "content_path": "/d/M",
        "eta": 8640000,
    }
    q = {
        h: QueueView(
            ids=(7,), tracked_state="downloading", tracked_status="ok", media=({"movieId": 3},)
        )
    }
    qbt, arr = FakeQbt(), FakeArr()
    j, ex = make(dbpath, qbt, arr)
    s = PolicySettings()
    for cycle in (0, 1, 901, 902):  # first seen stalled, grace, then past StalledDelay
        mem = j.load_memory()
        ds = decide({h: torrent}, q, {}, mem, s, Env(now=NOW + cycle))
        j.record(ds, NOW + cycle, False, {h: torrent})
        ex.run(
            j.pending(NOW + cycle),
            False,
            10,  # BrakeMaxRemovals
            {a.key for d in ds for a in d.actions},
        )
    assert arr.blocklisted == [7] and qbt.calls == [("delete", (h,), True)]
    assert [c[0] for c in arr.calls] == ["delete_queue", "search"]


CRASHER = textwrap.dedent("""
    import os, sys, time
    from qbarr.db import open_migrated
    from qbarr.journal import Journal
    from qbarr.policy import Action, Decision, Memory
    j = Journal(open_migrated(sys.argv[1]), "Radarr")
    h = "1" * 40
    d = Decision(hash=h, name="n", rule="import", code="scan", reason="r", inputs={}, memory=Memory(first_seen=1.0),
                 actions=(Action("import", "import:" + h, {"path": "/d", "download_client_id": h.upper()}),
                          Action("delete", "delete:" + h, {"delete_files": True}, True)))
    j.record([d], 1.0, False)
    print("recorded", flush=True)
    sys.stdin.readline()  # until the test kills it
""")  # noqa: E501 - the source of a script run as a subprocess, kept as written


def test_sigkill_between_journal_write_and_action(dbpath) -> None:
    """A real process is SIGKILLed after the journal commit: the restarted one acts exactly once."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(location(dbpath))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline() == "recorded\n"  # the journal is committed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stdin.close()
    qbt, arr = FakeQbt(), FakeArr()
    j, ex = make(dbpath, qbt, arr)
    assert ex.run(j.pending(NOW), False, 10).done == 2
    assert ex.run(j.pending(NOW), False, 10).done == 0
    assert [c[0] for c in arr.calls] == ["scan"] and qbt.calls == [("delete", ("1" * 40,), True)]
    if j.db.dialect == "sqlite":  # the file survived the SIGKILL (a server has no such file)
        assert j.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(
    "downloads, history, calls, result",
    [
        # the Arr took it over: no scan needed
        ({H(1): "importing"}, [], [], "already taken"),
        ({H(1): "imported"}, [], [], "already taken"),
        # still waiting to be imported: scan, without reading the history
        ({H(1): "importPending"}, [], ["scan"], "command"),
        # not listed (an Arr that just restarted, or one that imported it and forgot the
        # command): the history decides
        ({}, [], ["history", "scan"], "command"),
        ({}, ["grabbed"], ["history", "scan"], "command"),
        ({}, ["grabbed", "downloadFolderImported"], ["history"], "already imported"),
    ],
)
def test_an_interrupted_import_is_looked_up_in_the_queue_too(
    dbpath, downloads, history, calls, result
) -> None:
    arr = FakeArr(downloads=downloads)
    arr.history = [{"downloadId": H(1).upper(), "eventType": e, "date": "x"} for e in history]
    arr.fail["scan"] = Killed("killed before the POST")
    j, ex = make(dbpath, FakeQbt(), arr)
    j.record([import_decision()], NOW, False)
    with pytest.raises(Killed):
        ex.run(j.pending(NOW), False, 10)
    del arr.fail["scan"]
    j2, ex2 = make(dbpath, FakeQbt(), arr)
    assert ex2.run(j2.pending(NOW), False, 10).done == 1
    assert [c[0] for c in arr.calls] == calls
    assert j2.actions()[0].result.startswith(result)


def test_while_the_arr_is_down_its_actions_and_what_follows_them_wait(dbpath) -> None:
    qbt, arr = FakeQbt(), FakeArr()
    j, ex = make(dbpath, qbt, arr)
    j.record([fail_decision(), import_decision(H(2)), simple("pause", H(3))], NOW, False)
    s = ex.run(j.pending(NOW), False, 10, arr_up=False)
    assert (s.done, s.deferred) == (1, 4)  # the pause; blocklist, import, delete, search wait
    assert arr.calls == [] and qbt.calls == [("pause", (H(3),))]  # no delete before blocklist
    assert {a.kind: a.status for a in j.actions()} == {
        "blocklist": "planned", "delete": "planned", "search": "planned",
        "import": "planned", "pause": "done",
    }  # fmt: skip
    s = ex.run(j.pending(NOW), False, 10)
    assert s.done == 4 and [c[0] for c in arr.calls] == ["delete_queue", "scan", "search"]
