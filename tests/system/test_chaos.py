"""The chaos run: the whole suite under supervisord, everything that can go wrong, in one
seeded, bounded run; at the end nothing was lost and nothing was done twice.

A qBittorrent simulator holds the downloads of two Radarr instances (seeded RNG): complete
seeds, downloads that complete over the next four minutes, downloads that stall or hit an I/O
error, torrents with missing files. Instance A also runs its search program, which searches
the movies Radarr A lists as missing (one every second) for the whole run. Then, in order:

1. **SIGKILLs** (seeded) of managers, the search program, the web UI and the watchdog, at
   moments picked from their state (actions in flight, a random number of actions or cycles,
   a manager still starting); supervisord restarts each;
2. **supervisord is SIGKILLed**: every program of the suite must be gone within seconds (they
   die with it), then ``qbarr run`` starts the suite again in the same data dir;
3. **an outage**: Radarr A answers 503 to everything for ``OUTAGE`` seconds (5 minutes), while
   the manager and the search program of A are SIGKILLed once more;
4. **late answers**: Radarr A comes back slow: it carries out every POST but answers after the
   client's timeout, while the backlog of the outage goes out.

All along, a thread samples the process table (psutil) every ``SAMPLE_EVERY`` seconds and
records how many copies of each program of this data dir are alive.

At the end (faults off, the backlog drained, waited on): every completed torrent got exactly
one scan command, every failed one exactly one blocklist entry, torrents with missing files
none; no movie was searched twice (SearchCooldown 1d); every action in the journal is done or
skipped; never two copies of one program at any sample; ``PRAGMA integrity_check`` is ok.
The figures are printed at the end of the pytest run (tests/conftest.py), also under xdist;
the data dir's logs and database are kept in test-artifacts/chaos/.

``QBARR_CHAOS_SEED`` picks other kill points and torrents; ``QBARR_CHAOS_OUTAGE`` another
outage length in seconds (the default, 300, is what CI runs).
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest

from qbarr import db as dbmod
from qbarr.lifeline import wait_gone
from qbarr.sim.arr.launch import SimProcess as ArrSim
from tests.conftest import ARTIFACTS
from tests.system.conftest import Suite
from tests.system.manager_helpers import (
    Inst,
    Killer,
    blocklist_by_hash,
    commands,
    scans_by_hash,
    sim_hashes,
    spec,
    start_manager_suite,
    unfinished,
    world,
)

SEED = int(os.environ.get("QBARR_CHAOS_SEED", "20261201"))
OUTAGE = float(os.environ.get("QBARR_CHAOS_OUTAGE", "300"))
KILLS = 8  # phase 1
# bounded: the outage plus the phases around it
pytestmark = [pytest.mark.system, pytest.mark.chaos, pytest.mark.timeout(int(OUTAGE) + 900)]
SAMPLE_EVERY = 0.1
MIB = 2**20
A, B = "Radarr-Chaos-A", "Radarr-Chaos-B"
MANAGERS = {A: "arr:arr-radarr-chaos-a", B: "arr:arr-radarr-chaos-b"}
SEARCH = "search:search-radarr-chaos-a"
VICTIMS = [MANAGERS[A], MANAGERS[A], MANAGERS[B], SEARCH, "webui", "watchdog"]
PROGRAMS = [*MANAGERS.values(), SEARCH]


# -- the torrents ---------------------------------------------------------------------------


def lifecycle(rnd: random.Random, category: str, count: int) -> tuple[list[dict], dict]:
    """``count`` torrent specs of ``category`` and their hashes by fate; completions and
    stalls spread over four minutes, so that they go on through every phase."""
    shares = {"seed": 0.2, "complete": 0.45, "stall": 0.15, "error": 0.1, "missing": 0.1}
    fates = [f for f, share in shares.items() for _ in range(round(count * share))]
    specs, by_fate = [], {f: [] for f in shares}
    for i, fate in enumerate(fates):
        h = f"{rnd.getrandbits(160):040x}"
        by_fate[fate].append(h)
        size = rnd.randint(64, 512) * MIB
        if fate == "seed":
            s = spec(h, category, "stalledUP", size=size, ratio=round(rnd.uniform(0, 1), 2))
        elif fate == "complete":
            s = spec(h, category, "downloading", size=size, progress=0.4,
                     dl_speed=int(size * 0.6 / rnd.uniform(2, 240)))  # fmt: skip
        elif fate in ("stall", "error"):
            s = spec(h, category, "downloading", size=size, progress=0.3, dl_speed=64 * 1024,
                     **{f"{fate}_after": rnd.uniform(2, 240)})  # fmt: skip
        else:
            s = spec(h, category, "missingFiles", size=size)
        s["name"] = f"Chaos.{category}.{fate}.{i:03d}.2020.1080p"
        specs.append(s)
    return specs, by_fate


# -- watching the process table -------------------------------------------------------------


class Sampler(threading.Thread):
    """Counts the live copies of each program of one data dir, every ``SAMPLE_EVERY`` s, from
    the process table (psutil). A copy of program P is a process that holds the data dir's
    ``run/P.lock`` (every program claims its lock first, qbarr.lifeline; supervisord its
    ``supervisord.lock``); orphans of a killed supervisord still hold theirs. Holding, not
    only having the file open: the kernel lists the flock of an open file description in
    ``/proc/PID/fdinfo/FD`` of each process that shares it, and only there. A copy started
    while another holds the lock has the file open while it tries it, then exits 75 without
    doing anything (supervisord retries it); counting that moment as a second copy made the
    run fail under load while the lock did its job. A lock file deleted and made again while
    held would still show two holders. This does not lean on what qbarr.lifeline reads (the
    environment, which setproctitle could blank, see qbarr.runtime.set_title), and the title
    (``qbarr-webui``) does not name the data dir. The gunicorn worker, child of its master
    with the same lock, is part of that copy. The reader's lock (``qbt-*``, taken by one
    manager at a time) is not a program's."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(daemon=True)
        self.run_dir = str(run_dir)
        self.most: Counter[str] = Counter()
        self.samples = 0
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def program_of(self, proc: psutil.Process) -> str | None:
        for f in proc.open_files():
            where, _, name = f.path.rpartition("/")
            ours = where == self.run_dir and name.endswith(".lock")
            if ours and not name.startswith("qbt-") and self.holds(proc.pid, f.fd):
                return name.removesuffix(".lock")
        return None

    @staticmethod
    def holds(pid: int, fd: int) -> bool:
        """Whether the open file description behind ``fd`` holds a lock (fdinfo's lock lines)."""
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                return any(line.startswith("lock:") for line in info)
        except OSError:  # gone meanwhile
            return False

    def sample(self) -> Counter[str]:
        programs: dict[int, str] = {}
        for proc in psutil.process_iter(["cmdline", "status"]):
            text = " ".join(proc.info["cmdline"] or [])
            if proc.info["status"] == psutil.STATUS_ZOMBIE or not (
                "qbarr" in text or "supervisord" in text or "gunicorn" in text
            ):
                continue
            try:
                program = self.program_of(proc)
            except psutil.Error:
                continue
            if program is not None:
                programs[proc.pid] = program
        copies: Counter[str] = Counter()
        for pid, program in programs.items():
            try:
                parent = psutil.Process(pid).ppid()
            except psutil.Error:
                continue
            if programs.get(parent) != program:  # a child of its own program is that copy
                copies[program] += 1
        return copies

    def run(self) -> None:
        try:
            while not self.halt.wait(SAMPLE_EVERY):
                for name, n in self.sample().items():
                    self.most[name] = max(self.most[name], n)
                self.samples += 1
        except BaseException as exc:  # reported by the test, never lost in a thread
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


# -- the run --------------------------------------------------------------------------------


def restart_suite(suite_factory: Callable[..., Suite], suite: Suite) -> tuple[Suite, float]:
    """SIGKILL supervisord; every program must die with it; then `qbarr run` again in the
    same data dir. Returns the new suite and the seconds the programs took to go."""
    suite.states()
    supervisord = suite.supervisord
    supervisord.kill()
    suite.proc.wait(30)
    gone_at = time.monotonic()
    left = wait_gone(suite.home, timeout=15)
    assert left == [], f"programs outlived their SIGKILLed supervisord: {left}"
    took = time.monotonic() - gone_at
    return suite_factory(home=suite.home, arrs=suite.arrs), took


def test_chaos_nothing_lost_nothing_twice_never_two_copies(
    suite_factory: Callable[..., Suite], tmp_path: Path, record_property: Callable[..., None]
) -> None:
    started = time.monotonic()
    rnd = random.Random(SEED)
    specs_a, fate_a = lifecycle(rnd, "radarr-a", 120)
    specs_b, fate_b = lifecycle(rnd, "radarr-b", 40)
    options = {"grab_probability": 0.0, "library": 400, "missing_fraction": 0.5}
    with world(
        tmp_path, ["radarr-a", "radarr-b"], arr_options={"radarr-a": options, "radarr-b": options}
    ) as (qbt, arrs):
        arr_a, arr_b = arrs["radarr-a"], arrs["radarr-b"]
        qbt.control("POST", "/sim/torrents", specs_a + specs_b)
        for arr in (arr_a, arr_b):
            arr.control("POST", "/sim/poll")
        torrent = {"IgnoreYoungerThan": "0", "StalledDelay": "3s", "MaxRechecks": "0"}
        seeding = {"MaxUploadRatio": "0.5", "RemoveMode": "ratio", "Action": "remove"}
        search = {"Enabled": "true", "SearchDelay": "1s", "SearchLimit": "3",
                  "MaxSearchesPerDay": "0", "SearchCooldown": "1d"}  # fmt: skip
        instances = [
            Inst(
                A,
                "radarr-a",
                arr_a.url,
                timeout="2s",
                torrent=torrent,
                seeding=seeding,
                search=search,
            ),  # fmt: skip
            Inst(B, "radarr-b", arr_b.url, timeout="2s", torrent=torrent, seeding=seeding),
        ]
        suite = start_manager_suite(
            suite_factory,
            qbt.url,
            instances,
            {"LoopInterval": "0.5s", "QueueRefresh": "1s", "BrakeMaxRemovals": "0"},
        )
        suite.wait_running([*suite.expected_programs(), SEARCH])
        sampler = Sampler(suite.home.run)
        expected = {"supervisord", "webui", "watchdog", *(p.split(":")[-1] for p in PROGRAMS)}
        # the sampler sees every program once each, titles set (both managers cycling)
        suite.wait_for(lambda: all((suite.heartbeat(i) or {}).get("cycles") for i in (A, B)),
                       "both managers cycling")  # fmt: skip
        first = sampler.sample()
        assert set(first) == expected and set(first.values()) == {1}, first
        sampler.start()
        killer = Killer(rnd, {MANAGERS[A]: A, MANAGERS[B]: B, SEARCH: A, "webui": A, "watchdog": A})
        try:
            # 1. SIGKILLs while torrents complete, stall, error (wider windows in the executor)
            arr_a.control("POST", "/sim/faults", json={"latency": 0.03})
            for _ in range(KILLS):
                killer.kill(suite, rnd.choice(VICTIMS))
            suite.wait_running([*suite.expected_programs(), SEARCH], timeout=120)

            # 2. supervisord SIGKILLed, the suite started again
            suite, programs_gone_s = restart_suite(suite_factory, suite)
            suite.wait_running([*suite.expected_programs(), SEARCH], timeout=120)

            # 3. Radarr A down for OUTAGE seconds; its manager and search program killed
            # 4. ... and comes back slow: every POST carried out, answered after the client's
            # timeout (2 s), while the backlog of the outage goes out. Set now, with the
            # outage, so that the backlog cannot go out before it (the outage answers first).
            # (Not before the outage: a search whose answer was lost then is looked up in the
            # Arr's command list after it, and the Arrs list finished commands for a few
            # minutes only, so it would be searched again; an import is found in the Arr's
            # history, tests/unit/test_lost_answers.py; see qbarr.lookup.)
            arr_a.control("DELETE", "/sim/faults")
            arr_a.control(
                "POST",
                "/sim/faults",
                json={"outage": OUTAGE, "latency_after": 2.5, "method": "POST"},
            )
            outage_from = time.monotonic()
            scans_before = len(scans_by_hash(arr_a))  # none can be carried out from here on
            suite.wait_for(
                lambda: (suite.heartbeat(A) or {}).get("status") == "arr-down",
                "manager A reporting Radarr down",
                timeout=60,
            )
            killer.kill(suite, MANAGERS[A], "random")
            killer.kill(suite, SEARCH, "random")
            suite.wait_for(
                lambda: arr_a.control("GET", "/sim/faults")["outage"] == 0,
                "the outage over",
                timeout=OUTAGE + 60,
                poll=1.0,
            )
            outage_s = time.monotonic() - outage_from

            suite.wait_for(
                lambda: len(scans_by_hash(arr_a)) >= scans_before + 5,
                "5 scans sent through late answers",
                timeout=180,
                poll=0.5,
            )
            arr_a.control("DELETE", "/sim/faults")

            # the backlog drains
            complete = fate_a["complete"] + fate_b["complete"]
            gone = [
                h for f in (fate_a, fate_b) for k in ("stall", "error", "missing") for h in f[k]
            ]

            def settled() -> bool:
                scans = scans_by_hash(arr_a) + scans_by_hash(arr_b)
                return (
                    unfinished(suite) == 0
                    and not sim_hashes(qbt) & set(gone)
                    and all(scans[h] >= 1 for h in complete)
                )

            suite.wait_for(settled, "every torrent at the end of its life", timeout=300, poll=1)
            suite.wait_for(lambda: unfinished(suite) == 0, "nothing left to do", timeout=60)
        finally:
            sampler.stop()
        suite.stop()
        figures = outcome(suite, arr_a, arr_b)
        keep_evidence(suite, tmp_path)
        left = sim_hashes(qbt)
        logs = {p: suite.log(p) for p in (*MANAGERS.values(), SEARCH)}

    duration = time.monotonic() - started
    scans, blocked, searched = figures["scans"], figures["blocked"], figures["searched"]
    figures_text = (
        f"chaos (seed {SEED}): {duration:.0f} s; kills: {len(killer.hits)} + supervisord "
        f"(its programs gone in {programs_gone_s:.1f} s); outage {outage_s:.0f} s; "
        f"actions: {dict(figures['actions'])}; scans {sum(scans.values())}, blocklists "
        f"{sum(blocked.values())}, searches {sum(searched.values())}; max copies seen: "
        f"{dict(sampler.most)} in {sampler.samples} samples\n  kills: {killer.hits}"
    )
    print(figures_text)
    record_property("figures", figures_text)  # printed at the end of the run (conftest)

    assert sampler.error is None, repr(sampler.error)
    assert sampler.samples > 100
    assert set(sampler.most) == expected, sampler.most
    assert max(sampler.most.values()) == 1, f"two copies of one program: {sampler.most}"
    for program, log in logs.items():
        assert "Traceback" not in log, f"{program}:\n{log[-3000:]}"
    assert figures["integrity"] == [{"integrity_check": "ok"}]
    assert figures["dupes"] == []
    assert set(figures["statuses"]) <= {"done", "skipped"}, figures["statuses"]

    # 0 lost, 0 duplicated
    complete_or_seed = {h for f in (fate_a, fate_b) for k in ("complete", "seed") for h in f[k]}
    failed = {h for f in (fate_a, fate_b) for k in ("stall", "error") for h in f[k]}
    missing = {h for f in (fate_a, fate_b) for h in f["missing"]}
    twice = {h: n for h, n in scans.items() if n != 1}
    assert twice == {}, f"a torrent scanned twice: {evidence(figures, twice)}"
    assert set(scans) == complete_or_seed, "exactly one scan per completed torrent"
    twice = {h: n for h, n in blocked.items() if n != 1}
    assert twice == {}, f"a torrent blocklisted twice: {evidence(figures, twice)}"
    assert set(blocked) == failed, "exactly one blocklist per failed torrent"
    assert not missing & set(blocked), "missing files: searched, never blocklisted"
    assert not left & (failed | missing)
    assert searched and max(searched.values()) == 1, {m: n for m, n in searched.items() if n > 1}


def outcome(suite: Suite, arr_a: ArrSim, arr_b: ArrSim) -> dict[str, Any]:
    """What the simulators saw and the database holds, after the suite stopped."""
    db = dbmod.connect(suite.home.database)
    try:
        integrity = dbmod.rows(db, "PRAGMA integrity_check")
        journal = dbmod.rows(db, "SELECT * FROM actions ORDER BY id")
        dupes = dbmod.rows(
            db, "SELECT key, COUNT(*) AS n FROM actions GROUP BY instance, key HAVING n > 1"
        )
    finally:
        db.close()
    searches = commands(arr_a, "MoviesSearch")
    return {
        "journal": journal,
        "commands": commands(arr_a) + commands(arr_b),
        "integrity": integrity,
        "dupes": dupes,
        "actions": Counter(f"{a['kind']}:{a['status']}" for a in journal),
        "statuses": Counter(a["status"] for a in journal),
        "scans": scans_by_hash(arr_a) + scans_by_hash(arr_b),
        "blocked": blocklist_by_hash(arr_a) + blocklist_by_hash(arr_b),
        # every search of Radarr A's movies: the search program's and the managers' re-searches
        "searched": Counter(m for c in searches for m in c["body"].get("movieIds", [])),
    }


def evidence(figures: dict[str, Any], hashes: Mapping[str, int]) -> str:
    """The journal's actions and the Arrs' commands of these torrents (a failure's story)."""
    lines = []
    for h in hashes:
        lines += [f"{h}:"]
        lines += [
            f"  action {a['id']} {a['kind']} {a['status']} attempts={a.get('attempts')} "
            f"first_sent_at={a.get('first_sent_at')} updated_at={a.get('updated_at')}: "
            f"{a.get('result')}"
            for a in figures["journal"]
            if a["hash"] == h
        ]
        lines += [
            f"  command {c['id']} {c['name']} {c.get('status')} queued={c.get('queued')}"
            for c in figures["commands"]
            if h in str(c.get("body", {})).lower()
        ]
    return "\n".join(lines)


def keep_evidence(suite: Suite, tmp_path: Path) -> None:
    """Copy the data dir's logs and database, and the simulators' logs, to
    test-artifacts/chaos/ (the data dir is removed at teardown): what a failure needs."""
    target = ARTIFACTS / "chaos"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(suite.home.logs, target / "logs")
    for path in [*suite.home.root.glob("qbarr.db*"), *tmp_path.glob("*.log")]:
        shutil.copy2(path, target)
