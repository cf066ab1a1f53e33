"""The torrent policy: a pure function from what qBittorrent and the Arr show to decisions.

    from qbarr.policy import decide, PolicySettings, Env, Memory, group_queue
    settings = PolicySettings.from_config(instance.section, config.settings, instance.kind)
    decisions = decide(
        torrents, group_queue(arr_items), files, memory, settings, Env(now=time.time())
    )

No I/O and no clock in here (``Env.now`` is an input): the manager's loop gathers the
inputs, the journal records the decisions and the executor carries out their actions.
"""

from __future__ import annotations

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
