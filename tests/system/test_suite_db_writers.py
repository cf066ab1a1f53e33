"""Eight real processes write the shared database at once (BEGIN IMMEDIATE via write_txn)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qbarr import db as dbmod

pytestmark = pytest.mark.system

WRITERS = 8
TRANSACTIONS = 150

# Each writer connects, says "ready" and waits for a line on stdin (the test releases all of
# them at once), then does read-then-write transactions the way the programs do (a
# heartbeat-like upsert and an insert), each in its own BEGIN IMMEDIATE.
WRITER = r"""
import os, sys, time
from qbarr.db import connect, write_txn
path, me, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = connect(path)
print("ready", flush=True)
sys.stdin.readline()
for i in range(count):
    with write_txn(db) as tx:
        n = tx.execute("SELECT COUNT(*) FROM crashes WHERE program = ?", (me,)).fetchone()[0]
        tx.execute("INSERT INTO crashes (program, event, pid, detail, at) VALUES (?, 'test', ?, ?, ?)",
                   (me, os.getpid(), str(n), time.time()))
        tx.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                   (me, str(i), time.time()))
print("done", me)
"""  # noqa: E501 - the source of a script run as a subprocess, kept as written


def test_eight_writers_no_lock_errors_all_rows_present(tmp_path: Path) -> None:
    database = tmp_path / "qbarr.db"
    dbmod.open_migrated(database).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(database), f"w{n}", str(TRANSACTIONS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    try:
        for p in procs:  # every interpreter started and connected ...
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        for p in procs:  # ... then all are released together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    db = dbmod.connect(database)
    try:
        counts = dbmod.rows(db, "SELECT program, COUNT(*) AS n FROM crashes GROUP BY program")
        kv = dbmod.rows(db, "SELECT key, value FROM kv")
        seen = dbmod.rows(db, "SELECT program, detail FROM crashes ORDER BY id")
    finally:
        db.close()
    assert {r["program"]: r["n"] for r in counts} == {f"w{n}": TRANSACTIONS for n in range(WRITERS)}
    # read-then-write was serialised: each writer saw exactly its own previous rows
    for n in range(WRITERS):
        assert [int(r["detail"]) for r in seen if r["program"] == f"w{n}"] == list(
            range(TRANSACTIONS)
        )
    assert {r["key"]: r["value"] for r in kv} == {
        f"w{n}": str(TRANSACTIONS - 1) for n in range(WRITERS)
    }
