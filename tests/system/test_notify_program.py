"""Notifications end to end: the suite under supervisord with the notify program, a real HTTP
receiver on 127.0.0.1 (Apprise ``json://``) and a dead one (a closed port).

- 50 torrents failing in one cycle arrive as exactly one message;
- the dead receiver is tried a bounded number of times and dropped, while the manager's cycles
  go on untouched;
- the web UI's "send a test notification" reaches the live receiver;
- no part of a notification URL appears in any log, rendered file, the database, the web UI or
  a command line.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import free_port
from tests.system.manager_helpers import Inst, spec, start_manager_suite, wait_cycles, world

pytestmark = pytest.mark.system

TOKEN = "tok3n-Receiver-7f3a9c"  # in the live URL's path
PASSWORD = "rcv-Pa55word-q8"  # in the live URL's userinfo
DEAD_TOKEN = "dead-Tok3n-55e1b2"


class Receiver:
    """A real HTTP server on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.got: list[tuple[float, str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.got.append((time.time(), self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def titles(self) -> list[str]:
        return [body.get("title", "") for _, _, body in self.got]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.stop()


def test_a_burst_is_one_message_a_dead_target_stalls_nothing_no_secret_leaks(
    suite_factory, tmp_path: Path, receiver: Receiver
) -> None:
    live = f"json://qbarr:{PASSWORD}@127.0.0.1:{receiver.port}/hook/{TOKEN}"
    dead = f"json://127.0.0.1:{free_port()}/dead/{DEAD_TOKEN}"
    with world(tmp_path, ["radarr"], arr_options={"radarr": {"grab_probability": 0.0}}) as (
        qbt,
        arrs,
    ):
        inst = Inst("Radarr-One", "radarr", arrs["radarr"].url)
        suite = start_manager_suite(
            suite_factory, qbt.url, [inst], {"BrakeMaxRemovals": "100", "LoopInterval": "0.5s"}
        )
        text = suite.home.config.read_text()
        suite.home.config.write_text(
            text + f"[Notifications]\nURLs = {live}, {dead}\nBatchWindow = 3s\n"
            "MinInterval = 5s\nRetries = 2\n"
        )
        render = suite.qbarr("render")
        assert render.returncode == 0, render.stdout + render.stderr
        suite.wait_state("notify", "RUNNING")
        suite.wait_for(
            lambda: "config loaded: 2 notification URL(s)" in suite.log("notify"),
            "the notify program ready",
        )
        wait_cycles(suite, inst.name, 2)

        # a burst: 50 torrents whose files are gone, failed in one cycle
        qbt.control(
            "POST",
            "/sim/torrents",
            [spec(f"{i + 1:040x}", "radarr", "missingFiles") for i in range(50)],
        )
        suite.wait_for(lambda: receiver.got, "the message at the receiver", timeout=60)
        cycles_before = suite.heartbeat(inst.name)["cycles"]
        # the dead receiver: tried 1 + Retries times, then dropped; the manager goes on
        suite.wait_for(
            lambda: "refused it 3 times: dropped" in suite.log("notify"),
            "the dead URL given up",
            timeout=90,
        )
        wait_cycles(suite, inst.name, 3)
        beat = suite.heartbeat(inst.name)
        decided = suite.query(
            "SELECT MIN(at) AS first, COUNT(*) AS n FROM decisions WHERE rule = 'missing-files'"
        )[0]

        # the web UI's test button (its API) reaches the live receiver only
        port = re.search(r"^Port = (\d+)$", suite.home.config.read_text(), re.M)
        assert port
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port.group(1)}",
            headers={"Authorization": "Bearer test-token-abcdefgh"},
            timeout=30,
        ) as web:
            asked = web.post("/api/notifications/test")
            assert asked.status_code == 200, asked.text
            ident = asked.json()["id"]
            result = suite.wait_for(
                lambda: web.get(f"/api/notifications/test/{ident}").json()["result"],
                "the test notification's result",
                timeout=60,
            )
            seen_by_web = web.get("/api/config").text + web.get("/").text

        logs = "".join(p.read_text(errors="replace") for p in suite.home.logs.glob("*.log*"))
        rendered = "".join(p.read_text() for p in suite.home.programs_dir.glob("*.conf"))
        with sqlite3.connect(suite.home.database) as conn:
            dumped = "\n".join(conn.iterdump())
        argv = " ".join(" ".join(p.cmdline()) for p in suite.descendants() if p.is_running())
        pss = {
            name: psutil.Process(suite.pid(name)).memory_full_info().pss / 2**20
            for name in ("notify", "arr:arr-radarr-one", "watchdog")
        }
        notify_log = suite.log("notify")

    titles = receiver.titles()
    assert titles[0] == "qbarr: 50 torrents failed", titles
    assert titles[1:] == ["qbarr: test notification"], titles  # nothing else, nothing twice
    body = receiver.got[0][2]["message"]
    assert body.count("Radarr-One: missing-files: ") == 20 and "... and 30 more" in body
    assert {path for _, path, _ in receiver.got} == {f"/hook/{TOKEN}"}
    assert decided["n"] == 50
    assert beat["status"] == "ok" and beat["cycles"] > cycles_before
    assert result.startswith("sent to 1 of 2 URL(s); failed: URL #2 (json://...)"), result
    for secret in (TOKEN, PASSWORD, DEAD_TOKEN, live, dead):
        for where, text in (
            ("logs", logs),
            ("programs.d", rendered),
            ("qbarr.db", dumped),
            ("web UI", seen_by_web),
            ("argv", argv),
        ):
            assert secret not in text, f"{secret!r} in {where}"
    latency = receiver.got[0][0] - decided["first"]
    print(f"\nnotification latency, event -> receiver: {latency:.2f} s (BatchWindow 3 s)")
    print("PSS MiB: " + ", ".join(f"{k} {v:.1f}" for k, v in pss.items()))
    assert "INFO notify: qbarr: 50 torrents failed (50 event(s))" in notify_log


def test_an_outage_a_crash_loop_and_the_daily_digest_reach_the_receiver(
    suite_factory, tmp_path: Path, receiver: Receiver
) -> None:
    """The other kinds end to end: Radarr down longer than UnreachableAfter (and back), a
    manager SIGKILLed three times in a row (the watchdog's crash records: a crash loop), and
    the daily digest at DigestHour; each once."""
    url = f"json://127.0.0.1:{receiver.port}/hook/{TOKEN}"
    manager = "arr:arr-radarr-one"
    with world(tmp_path, ["radarr"]) as (qbt, arrs):
        arr = arrs["radarr"]
        inst = Inst("Radarr-One", "radarr", arr.url)
        suite = start_manager_suite(
            suite_factory, qbt.url, [inst], {"LoopInterval": "0.5s", "QueueRefresh": "1s"}
        )  # the manager asks Radarr every second: it sees the outage at once
        # the digest is due in the hour DigestHour names: not in the last minutes of one
        suite.wait_for(lambda: time.localtime().tm_min < 57, "an hour with time left", 240, 5)
        hour = time.localtime().tm_hour
        suite.home.config.write_text(
            suite.home.config.read_text()
            + f"[Notifications]\nURLs = {url}\nUnreachableAfter = 2s\nDailyDigest = true\n"
            f"DigestHour = {hour}\nBatchWindow = 1s\nMinInterval = 1s\n"
        )
        render = suite.qbarr("render")
        assert render.returncode == 0, render.stdout + render.stderr
        suite.wait_state("notify", "RUNNING")

        def bodies() -> str:
            return "\n".join(body.get("message", "") for _, _, body in receiver.got)

        suite.wait_for(lambda: "last 24 h: decisions per rule" in bodies(), "the digest", 60)

        wait_cycles(suite, inst.name, 2)
        arr.control("POST", "/sim/faults", json={"outage": 12})
        suite.wait_for(
            lambda: "Radarr-One: Radarr unreachable for" in bodies(), "the outage told", 60
        )
        suite.wait_for(lambda: "Radarr-One: Radarr answers again" in bodies(), "the return", 90)

        last = 0
        for _ in range(3):  # supervisord restarts it each time (startsecs passed: no FATAL)
            info = suite.wait_state(manager, "RUNNING", not_pid=last, timeout=60)
            last = int(info["pid"])
            psutil.Process(last).kill()
        suite.wait_state(manager, "RUNNING", not_pid=last, timeout=60)
        suite.wait_for(
            lambda: "arr-radarr-one crash loop: 3 unexpected exits" in bodies(),
            "the crash loop told",
            60,
        )
        wait_cycles(suite, inst.name, 4)  # time for anything told twice to arrive
        text = bodies()

    assert text.count("last 24 h: decisions per rule") == 1, text
    assert text.count("Radarr unreachable for") == 1, text
    assert text.count("Radarr answers again") == 1, text
    assert text.count("crash loop") == 1, text
    assert {path for _, path, _ in receiver.got} == {f"/hook/{TOKEN}"}
