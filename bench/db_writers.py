"""Database writes per second with concurrent writers: SQLite vs PostgreSQL (qbarr.pgstore).

    python bench/db_writers.py [--writers 10] [--seconds 10] [--json PATH]

Each writer is a process that, for ``--seconds``, runs qbarr's write transaction
(:func:`qbarr.db.write_txn`) doing what the journal does most: read, then insert one
decision row (about 300 bytes of JSON). Counted: transactions committed, and errors of any
kind (a lock error included: there must be none).

- **SQLite**: every writer on one file (WAL, ``BEGIN IMMEDIATE``): one host only.
- **PostgreSQL**: a throwaway cluster (tests/support/postgres.py). As root, the writers are
  split between two network namespaces ("hosts") that reach the server over veth links by
  TCP, as two machines would; otherwise all of them use the unix socket. The cluster runs
  with ``synchronous_commit=off`` and ``fsync=off`` (a throwaway one; SQLite's
  ``synchronous=NORMAL`` in WAL does not sync each commit either).

Figures only; nothing is asserted. Every namespace, link and process is removed by name or
pid at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qbarr import db as dbmod  # noqa: E402

PAYLOAD = json.dumps(
    {"rule": "seeding", "inputs": {"ratio": 1.234, "seeding_time": 86400}}
    | {f"k{i}": "x" * 12 for i in range(12)}
)
NETNS = ("qbbench-h1", "qbbench-h2")
PORT = 55432


def open_target(target: str) -> dbmod.Database:
    if target.startswith("postgresql://"):
        from qbarr import pgstore

        return pgstore.connect(target)  # type: ignore[return-value]
    return dbmod.connect(target)


def writer(target: str, seconds: float, name: str) -> dict[str, int]:
    """One writer's loop (run in its own process)."""
    db = open_target(target)
    done = errors = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                with dbmod.write_txn(db):
                    dbmod.rows(
                        db, "SELECT MAX(id) AS top FROM decisions WHERE instance = ?", (name,)
                    )
                    db.execute(
                        "INSERT INTO decisions (instance, hash, at, rule, reason, inputs) "
                        "VALUES (?, ?, ?, 'seeding', 'bench', ?)",
                        (name, f"{done:040x}", time.time(), PAYLOAD),
                    )
                done += 1
            except Exception as exc:  # noqa: BLE001 - counted: a lock error must never happen
                errors += 1
                print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        db.close()
    return {"writes": done, "errors": errors}


def run_writers(targets: list[tuple[list[str], str]], seconds: float) -> dict[str, float]:
    """Start one process per (prefix argv, target); sum what they report."""
    procs = []
    for n, (prefix, target) in enumerate(targets):
        argv = [*prefix, sys.executable, __file__, "--writer", target, str(seconds), f"w{n}"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=seconds + 120)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    writes = sum(r["writes"] for r in results)
    return {
        "writers": len(targets),
        "writes": writes,
        "writes_per_s": round(writes / seconds, 1),
        "errors": sum(r["errors"] for r in results),
    }


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def make_hosts() -> list[str]:
    """Two network namespaces, each with a veth link to this one; returns the server-side
    addresses (one per link)."""
    addresses = []
    for n, ns in enumerate(NETNS, start=1):
        ip("netns", "add", ns)
        ip("link", "add", f"qbb{n}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("addr", "add", f"10.77.{n}.1/24", "dev", f"qbb{n}")
        ip("link", "set", f"qbb{n}", "up")
        ip("-n", ns, "addr", "add", f"10.77.{n}.2/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        addresses.append(f"10.77.{n}.1")
    return addresses


def remove_hosts() -> None:
    for n, ns in enumerate(NETNS, start=1):
        ip("link", "del", f"qbb{n}", check=False)
        ip("netns", "del", ns, check=False)


def bench_sqlite(writers: int, seconds: float) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="qbw-", dir="/tmp"))
    try:
        dbmod.open_migrated(root / "qbarr.db").close()
        return run_writers([([], str(root / "qbarr.db"))] * writers, seconds)
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def bench_postgresql(writers: int, seconds: float, hosts: bool) -> dict[str, float]:
    from qbarr import pgstore
    from tests.support.postgres import PgCluster

    if hosts:
        remove_hosts()
        addresses = make_hosts()
    try:
        listen = ",".join(addresses) if hosts else ""
        cluster = PgCluster.start(listen=listen, port=PORT, trust=("10.77.0.0/16",))
        try:
            cluster.create_database("bench")
            db = pgstore.connect(cluster.url("bench"))
            pgstore.migrate(db)
            db.close()
            if hosts:
                targets = [
                    (["ip", "netns", "exec", NETNS[i % 2]], cluster.url("bench", addresses[i % 2]))
                    for i in range(writers)
                ]
            else:
                targets = [([], cluster.url("bench"))] * writers
            result = run_writers(targets, seconds)
            result["hosts"] = 2 if hosts else 1
            return result
        finally:
            cluster.stop()
    finally:
        if hosts:
            remove_hosts()


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        print(json.dumps(writer(sys.argv[2], float(sys.argv[3]), sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    hosts = os.geteuid() == 0
    figures = {
        "sqlite": bench_sqlite(args.writers, args.seconds),
        "postgresql": bench_postgresql(args.writers, args.seconds, hosts),
    }
    for engine, f in figures.items():
        where = f"{f.get('hosts', 1)} host(s)"
        print(
            f"{engine:<11} {f['writers']} writers, {where}: {f['writes_per_s']:>8} writes/s, "
            f"{f['errors']} errors"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
