"""The torrent policy: a pure function from what qBittorrent and the Arr show to decisions.

    from qbarr.policy import decide, PolicySettings, Env, Memory, group_queue
    settings = PolicySettings.from_config(instance.section, config.settings, instance.kind)
    decisions = decide(
        torrents, group_queue(arr_items), files, memory, settings, Env(now=time.time())
    )

No I/O and no clock in here (``Env.now`` is an input): the manager's loop gathers the
inputs, the journal records the decisions and the executor carries out their actions.

The names below are loaded from their modules when first used, so that a program which only
needs ``qbarr.policy.model`` (the journal, in the watchdog) does not load the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbarr import lazy

if TYPE_CHECKING:
    from qbarr.policy.docs import FAIL_NOTE, RULE_DOCS, RULES
    from qbarr.policy.facts import (
        INFINITE_ETA,
        TorrentFacts,
        canonical_state,
        is_complete,
        needs_files,
        shared_content,
    )
    from qbarr.policy.files import judge_files
    from qbarr.policy.model import (
        EFFECT_FIELDS,
        Action,
        Decision,
        Env,
        MediaCheck,
        Memory,
        QueueView,
        group_queue,
    )
    from qbarr.policy.rules import RECHECK_GRACE, decide
    from qbarr.policy.settings import (
        PolicyConfigError,
        PolicySettings,
        TrackerRule,
        default_allowlist,
        normalize_host,
    )

_WHERE = {
    "Action": "model",
    "Decision": "model",
    "EFFECT_FIELDS": "model",
    "Env": "model",
    "FAIL_NOTE": "docs",
    "INFINITE_ETA": "facts",
    "MediaCheck": "model",
    "Memory": "model",
    "PolicyConfigError": "settings",
    "PolicySettings": "settings",
    "QueueView": "model",
    "RECHECK_GRACE": "rules",
    "RULES": "docs",
    "RULE_DOCS": "docs",
    "TorrentFacts": "facts",
    "TrackerRule": "settings",
    "canonical_state": "facts",
    "decide": "rules",
    "default_allowlist": "settings",
    "group_queue": "model",
    "is_complete": "facts",
    "judge_files": "files",
    "needs_files": "facts",
    "normalize_host": "settings",
    "shared_content": "facts",
}


__getattr__ = lazy.exports(__name__, _WHERE)


__all__ = [
    "Action",
    "Decision",
    "EFFECT_FIELDS",
    "Env",
    "FAIL_NOTE",
    "INFINITE_ETA",
    "MediaCheck",
    "Memory",
    "PolicyConfigError",
    "PolicySettings",
    "QueueView",
    "RECHECK_GRACE",
    "RULES",
    "RULE_DOCS",
    "TorrentFacts",
    "TrackerRule",
    "canonical_state",
    "decide",
    "default_allowlist",
    "group_queue",
    "is_complete",
    "judge_files",
    "needs_files",
    "normalize_host",
    "shared_content",
]
