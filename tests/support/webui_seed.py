"""Seed a qbarr database and data dir with what the managers would write, for the web UI's
tests and benchmark (instances, torrents, decisions, actions, searches, crashes)."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

from qbarr import db as qdb
from qbarr import store
from qbarr.paths import Home

XSS_NAME = "<script>alert(1)</script>"
QBT_PASSWORD = "qbt-pass-S3cret%x"
ARR_KEY = "arrkey-0123456789abcdef"
TOKEN = "tok-" + "a1b2c3d4e5f6g7h8"
LOGIN_PASSWORD = "login-pw-Zq9!"
RULES = ("ok", "wait", "stalled", "import", "seeding-done", "slow", "protected", "errored")
STATES = ("downloading", "stalledDL", "uploading", "pausedUP", "queuedDL", "checkingDL", "error")


def config_text(
    host: str = "127.0.0.1",
    port: int = 6969,
    extra_webui: str = "",
    token: str = TOKEN,
    password: str = LOGIN_PASSWORD,
    instances: tuple[str, ...] = ("Radarr-Main", "Sonarr-TV"),
    qbt_url: str = "http://127.0.0.1:8080",
    arr_url: str = "http://127.0.0.1:7878",
) -> str:
    sections = []
    for name in instances:
        category = name.split("-", 1)[1].lower()
        sections.append(
            f"[{name}]\nURL = {arr_url}\nAPIKey = {ARR_KEY}{category}\nCategory = {category}\n"
            f"    [[Torrent]]\n    StalledDelay = 15m\n"
        )
    return (
        "# qbarr test config\n[Settings]\nLoopInterval = 2s\n\n"
        f"[qBittorrent]\nURL = {qbt_url}\nUsername = admin\nPassword = {QBT_PASSWORD}\n\n"
        f"[WebUI]\nHost = {host}\nPort = {port}\nToken = {token}\n"
        f"Password = {password}\n{extra_webui}\n" + "\n".join(sections)
    )


def make_home(root: Path, **kw: object) -> Home:
    home = Home(root)
    home.ensure()
    home.config.write_text(config_text(**kw), encoding="utf-8")  # type: ignore[arg-type]
    home.config.chmod(0o600)
    qdb.open_migrated(store.location(home)).close()
    return home


def thash(i: int, salt: str = "") -> str:
    return hashlib.sha1(f"{salt}{i}".encode()).hexdigest()


def seed(
    home: Home,
    torrents: int = 60,
    instance: str = "Radarr-Main",
    now: float | None = None,
    with_xss: bool = True,
    seed_value: int = 7,
    instance_rows: bool = True,
) -> dict[str, str]:
    """Fill the database; returns a few handy hashes (``xss``, ``first``).

    ``instance_rows=False`` leaves the ``instances`` table to a running manager."""
    rng = random.Random(seed_value)
    now = now if now is not None else time.time()
    db = qdb.open_migrated(store.location(home))
    try:
        with qdb.write_txn(db):
            for name, kind, program in (
                (
                    (instance, "radarr", "arr-" + instance.lower()),
                    ("Sonarr-TV", "sonarr", "arr-sonarr-tv"),
                )
                if instance_rows
                else ()
            ):
                stats = {
                    "api": {
                        "qbittorrent": {"calls": 120, "errors": 2},
                        "arr": {"calls": 40, "errors": 1},
                    },
                    "loop_interval": 2.0,
                }
                db.execute(
                    "INSERT OR REPLACE INTO instances (name, kind, program, pid, status, "
                    "started_at, heartbeat_at, "
                    "cycles, cycle_s, counts, torrents, qbt_ok, arr_ok, last_error, "
                    "last_error_at, brake_engaged, "
                    "brake_reason, brake_at, stats) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        name,
                        kind,
                        program,
                        4242,
                        "ok",
                        now - 3600,
                        now - 3,
                        1800,
                        0.042,
                        json.dumps({"ok": 3}),
                        torrents if name == instance else 0,
                        1,
                        0 if name == "Sonarr-TV" else 1,
                        "Arr unreachable: <b>connection refused</b>"
                        if name == "Sonarr-TV"
                        else None,
                        now - 60 if name == "Sonarr-TV" else None,
                        1 if name == instance else 0,
                        "one cycle would remove 12 torrents (limit 10)"
                        if name == instance
                        else None,
                        now - 120 if name == instance else None,
                        json.dumps(stats),
                    ),
                )
            rows = []
            for i in range(torrents):
                name = (
                    XSS_NAME
                    if (with_xss and i == 0)
                    else f"Movie.{i:05d}.2023.1080p.WEB-DL.x264-GRP"
                )
                rule = RULES[i % len(RULES)]
                rows.append(
                    (
                        instance,
                        thash(i),
                        name,
                        now - 86400 + i,
                        rule,
                        f"reason for {rule} #{i}",
                        now - rng.random() * 3600,
                        STATES[i % len(STATES)],
                        rng.random(),
                        rng.random() * 3,
                        rng.random() * 1e6,
                        rng.randint(10**8, 10**10),
                        "radarr",
                        "qbarr-protect" if rule == "protected" else "hd,<i>tag</i>",
                        now - 86400 + i,
                    )
                )
            db.executemany(
                "INSERT OR REPLACE INTO torrents (instance, hash, name, first_seen, last_rule, "
                "last_reason, "
                "last_decided_at, state, progress, ratio, seeding_time, size, category, tags, "
                "added_on) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            for i in range(min(torrents, 200)):
                h = thash(i)
                rule = RULES[i % len(RULES)]
                at = now - (i * 431) % 86000
                cur = db.execute(
                    "INSERT INTO decisions (instance, hash, name, rule, reason, inputs, at) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (
                        instance,
                        h,
                        rows[i][2],
                        rule,
                        f"{rule}: because <em>reasons</em> #{i}",
                        json.dumps({"state": rows[i][7]}),
                        at,
                    ),
                )
                kinds = {"stalled": ("blocklist", "delete"), "import": ("import",)}
                for kind in kinds.get(rule, ()):
                    db.execute(
                        "INSERT INTO actions (decision_id, instance, hash, kind, key, status, "
                        "attempts, result, "
                        "destructive, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            cur.lastrowid,
                            instance,
                            h,
                            kind,
                            f"{kind}:{h}",
                            "done" if i % 3 else "failed",
                            1,
                            None if i % 3 else "HTTP 500 from <Arr>",
                            1 if kind != "import" else 0,
                            at + 1,
                            at + 2,
                        ),
                    )
            db.execute(
                "INSERT INTO searches (instance, item, title, reason, command, hash, at) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    instance,
                    "movie:1",
                    "<b>Some Movie</b>",
                    "stalled",
                    "MoviesSearch",
                    thash(2),
                    now - 50,
                ),
            )
            for program, event in (
                ("arr-radarr-main", "crash"),
                ("arr-radarr-main", "restart"),
                ("webui", "fatal"),
            ):
                db.execute(
                    "INSERT INTO crashes (program, event, pid, from_state, detail, at) "
                    "VALUES (?,?,?,?,?,?)",
                    (program, event, 4000, "RUNNING", "exit status 1", now - 900),
                )
    finally:
        db.close()
    return {"xss": thash(0), "first": thash(1), "stalled": thash(2)}
