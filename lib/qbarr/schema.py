"""Numbered schema migrations (``PRAGMA user_version``).

Each entry of ``MIGRATIONS`` is a list of SQL statements; entry *n* (1-based) brings the
schema to version *n*. Never edit a released migration: append a new one.

Times are Unix seconds (REAL). JSON columns hold plain objects. No column ever holds a
secret (API keys and passwords stay in config.ini).
"""

from __future__ import annotations

MIGRATION_1 = [
    # One row per Arr instance (and per search program): written every cycle.
    """CREATE TABLE instances (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT '',
        program TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        status TEXT NOT NULL DEFAULT 'starting',
        started_at REAL,
        heartbeat_at REAL,
        cycles INTEGER NOT NULL DEFAULT 0,
        cycle_s REAL,
        counts TEXT NOT NULL DEFAULT '{}',
        torrents INTEGER NOT NULL DEFAULT 0,
        qbt_ok INTEGER,
        arr_ok INTEGER,
        last_error TEXT,
        last_error_at REAL,
        brake_engaged INTEGER NOT NULL DEFAULT 0,
        brake_reason TEXT,
        brake_at REAL,
        brake_released_at REAL,
        stats TEXT NOT NULL DEFAULT '{}'
    )""",
    # Crashes, FATALs, hung restarts and the watchdog's restarts.
    """CREATE TABLE crashes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        program TEXT NOT NULL,
        event TEXT NOT NULL,
        pid INTEGER,
        from_state TEXT,
        detail TEXT,
        at REAL NOT NULL
    )""",
    "CREATE INDEX crashes_program_at ON crashes(program, at)",
    # Per-torrent memory of an Arr manager: timers and flags that must survive restarts.
    """CREATE TABLE torrents (
        instance TEXT NOT NULL,
        hash TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        first_seen REAL NOT NULL,
        stalled_since REAL,
        slow_strikes INTEGER NOT NULL DEFAULT 0,
        rechecks INTEGER NOT NULL DEFAULT 0,
        import_sent_at REAL,
        failed_at REAL,
        paused_by_qbarr INTEGER NOT NULL DEFAULT 0,
        prev_category TEXT,
        last_rule TEXT,
        last_reason TEXT,
        last_decided_at REAL,
        state TEXT,
        progress REAL,
        ratio REAL,
        seeding_time REAL,
        size INTEGER,
        category TEXT,
        tags TEXT,
        added_on REAL,
        gone_at REAL,
        PRIMARY KEY (instance, hash)
    )""",
    "CREATE INDEX torrents_rule ON torrents(instance, last_rule)",
    # The decision journal: one row per decision that changed something or was new.
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        instance TEXT NOT NULL,
        hash TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        inputs TEXT NOT NULL DEFAULT '{}',
        dry_run INTEGER NOT NULL DEFAULT 0,
        at REAL NOT NULL
    )""",
    "CREATE INDEX decisions_hash ON decisions(hash, at)",
    "CREATE INDEX decisions_instance_at ON decisions(instance, at)",
    "CREATE INDEX decisions_rule_at ON decisions(rule, at)",
    # The action journal: planned -> done | failed | held | skipped. ``key`` makes actions
    # idempotent: e.g. one ``import:<hash>`` and one ``blocklist:<hash>`` per instance, ever.
    """CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        decision_id INTEGER REFERENCES decisions(id),
        instance TEXT NOT NULL,
        hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        destructive INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'planned',
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (instance, key)
    )""",
    "CREATE INDEX actions_status ON actions(instance, status)",
    "CREATE INDEX actions_hash ON actions(hash)",
    # Every search command sent (by the search program or a manager's re-search).
    """CREATE TABLE searches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        instance TEXT NOT NULL,
        item TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL,
        command TEXT NOT NULL,
        command_id INTEGER,
        status TEXT NOT NULL DEFAULT 'sent',
        result TEXT,
        hash TEXT,
        at REAL NOT NULL
    )""",
    "CREATE INDEX searches_instance_at ON searches(instance, at)",
    "CREATE INDEX searches_item ON searches(instance, item, at)",
    # Per-item cooldown: when an item may be searched again.
    """CREATE TABLE search_cooldowns (
        instance TEXT NOT NULL,
        item TEXT NOT NULL,
        last_at REAL NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (instance, item)
    )""",
    # Small key/value store (web UI session key, etc.).
    """CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
]

# Requests from the web UI to a manager (the web UI never talks to a manager directly):
# kind 'protect' | 'unprotect' adds / removes the ProtectedTag on a torrent. The manager
# applies pending rows (done_at IS NULL) and sets done_at and result ('ok' or an error).
# Plus indexes for the web UI's torrent list (sort / filter on 20,000 torrents).
MIGRATION_2 = [
    """CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        instance TEXT NOT NULL,
        hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        done_at REAL,
        result TEXT
    )""",
    "CREATE INDEX requests_pending ON requests(instance, done_at)",
    "CREATE INDEX torrents_name ON torrents(instance, name)",
    "CREATE INDEX torrents_state ON torrents(instance, state)",
    "CREATE INDEX actions_decision ON actions(decision_id)",
]

# The manager's journal (qbarr.journal): policy memory that has no column of its own (JSON),
# the reason class of the last decision (a new decision row is written only when rule or
# class change), and when a brake-held action was released by the operator.
MIGRATION_3 = [
    "ALTER TABLE torrents ADD COLUMN memory TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE torrents ADD COLUMN last_code TEXT",
    "ALTER TABLE actions ADD COLUMN released_at REAL",
    "CREATE INDEX actions_pending ON actions(instance, status, id)",
]

# The web UI's torrent list reads only live torrents (gone_at IS NULL): partial indexes let
# COUNT, the rule/state menus and the default name order use the index alone (20,000 rows).
MIGRATION_4 = [
    "DROP INDEX IF EXISTS torrents_name",
    "DROP INDEX IF EXISTS torrents_state",
    "CREATE INDEX torrents_live_name ON torrents(instance, name COLLATE NOCASE) "
    "WHERE gone_at IS NULL",
    "CREATE INDEX torrents_live_rule ON torrents(instance, last_rule) WHERE gone_at IS NULL",
    "CREATE INDEX torrents_live_state ON torrents(instance, state) WHERE gone_at IS NULL",
]

# Media checks (VerifyMedia): one ffprobe verdict per file content, keyed by the content
# fingerprint (SHA-256 of size, first and last 64 KiB) and the size, so a file is probed once
# whatever torrent, path or restart it comes back with (qbarr.media.pool).
MIGRATION_MEDIA_PROBES = [
    """CREATE TABLE media_probes (
        fingerprint TEXT NOT NULL,
        size INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        format_name TEXT,
        duration REAL,
        name TEXT NOT NULL DEFAULT '',
        probe_s REAL,
        probed_at REAL NOT NULL,
        PRIMARY KEY (fingerprint, size)
    )""",
]

# Lost answers (qbarr.executor): when an action was first sent (a command the Arr queued
# before that moment is not ours when an unknown outcome is looked up) and how often the
# remote refused it (only refusals end an action as failed for good; an unreachable remote
# never does). Actions that ended ``failed`` before this migration are retried, looked up
# first.
MIGRATION_LOST_ANSWERS = [
    "ALTER TABLE actions ADD COLUMN first_sent_at REAL",
    "ALTER TABLE actions ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0",
]

# The web UI's login sessions, so that logout and expiry end them on the server (a cookie
# alone stayed valid for 30 days, even after logout). ``id`` is the SHA-256 of the session
# id, so a copy of the database holds no usable session.
MIGRATION_WEBUI_SESSIONS = [
    """CREATE TABLE webui_sessions (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX webui_sessions_expiry ON webui_sessions(expires_at)",
]

# Retention (qbarr.retention) finds the torrents that left qBittorrent long ago.
MIGRATION_RETENTION = [
    "CREATE INDEX torrents_gone ON torrents(gone_at) WHERE gone_at IS NOT NULL",
]

# One qBittorrent, one reader (qbarr.reader): what it saw, published for every manager of that
# qBittorrent. ``seq`` numbers publications; a row carries the seq of its last change and
# ``data`` NULL marks a torrent gone (purged once every reader is past ``floor``).
MIGRATION_SHARED_READER = [
    """CREATE TABLE qbt_feed (
        client TEXT PRIMARY KEY,
        seq INTEGER NOT NULL DEFAULT 0,
        floor INTEGER NOT NULL DEFAULT 0,
        polls INTEGER NOT NULL DEFAULT 0,
        polled_at REAL,
        next_poll_by REAL,
        full_at REAL,
        pace TEXT,
        reader TEXT,
        reader_pid INTEGER,
        version TEXT,
        server_state TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        error_at REAL,
        stats TEXT
    )""",
    """CREATE TABLE qbt_torrents (
        client TEXT NOT NULL,
        hash TEXT NOT NULL,
        seq INTEGER NOT NULL,
        category TEXT,
        content_path TEXT,
        data TEXT,
        PRIMARY KEY (client, hash)
    ) WITHOUT ROWID""",
    "CREATE INDEX qbt_torrents_seq ON qbt_torrents(client, seq)",
    # the reader looks up, at every tick, the torrents acted on in the last minute
    "CREATE INDEX actions_updated ON actions(updated_at)",
]

# A migration statement that starts with this marker only moves rows that an older SQLite file
# can hold: a PostgreSQL database is made at a later version (qbarr db copy), so it skips it.
SQLITE_ONLY = "-- sqlite only\n"

# A decision's result code in its own column (it was the key "code" of the inputs JSON), so
# readers select and filter it like torrents.last_code; old rows are moved over.
MIGRATION_DECISION_CODE = [
    "ALTER TABLE decisions ADD COLUMN code TEXT",
    SQLITE_ONLY + "UPDATE decisions SET code = json_extract(inputs, '$.code'), "
    "inputs = json_remove(inputs, '$.code') "
    "WHERE json_valid(inputs) AND json_type(inputs, '$.code') IS NOT NULL",
]

# Notifications (qbarr.notify): the web UI's "send a test notification" asks the notify
# program with a row here (the web UI never loads Apprise); the program sends and sets
# done_at and result (how many URLs took it, never a URL).
MIGRATION_NOTIFY = [
    """CREATE TABLE notify_tests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,
        done_at REAL,
        result TEXT
    )""",
]

# One owner per instance (qbarr.lease): the holder of each program's lease, wherever it runs.
# DOUBLE PRECISION: Unix seconds need more than a 4-byte float (on engines where REAL is one).
MIGRATION_LEASES = [
    """CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        since DOUBLE PRECISION NOT NULL,
        renewed_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        fence INTEGER NOT NULL DEFAULT 1
    )""",
]

MIGRATIONS: list[list[str]] = [
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_MEDIA_PROBES,
    MIGRATION_LOST_ANSWERS,
    MIGRATION_WEBUI_SESSIONS,
    MIGRATION_RETENTION,
    MIGRATION_SHARED_READER,
    MIGRATION_DECISION_CODE,
    MIGRATION_NOTIFY,
    MIGRATION_LEASES,
]
