"""The rule chain: one Decision per owned torrent, first matching rule wins (pure).

No I/O and no clock: ``env.now`` is the time. Every rule either returns a Decision or lets
the next one try; notes left by rules that looked but did not act end up in the ``ok``
reason, so "why is nothing happening?" always has an answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qbarr.arr.kinds import FAILED_STATES
from qbarr.policy.facts import INFINITE_ETA, WAIT_STATES, TorrentFacts
from qbarr.policy.files import digest, judge_files
from qbarr.policy.freespace import Step
from qbarr.policy.freespace import plan as plan_free_space
from qbarr.policy.model import Action, Decision, Env, Memory, QueueView
from qbarr.policy.observe import effective_max_eta, observe
from qbarr.policy.seeding import Obligation, limits_for, obligation, seeding_done
from qbarr.policy.settings import PolicySettings, TrackerRule
from qbarr.policy.trackers import FAILING, matches, verdict
from qbarr.units import format_duration as fmt

# After a recheck of an errored torrent, wait this long for qBittorrent to start checking
# before looking at the state again (its state lags up to a few seconds).
RECHECK_GRACE = 60.0

REANNOUNCE_WAIT = 120.0  # ReannounceStalled: seconds a reannounce gets to find peers
NOT_IMPORTABLE = FAILED_STATES | {"imported", "importing", "ignored"}
IMPORT_DONE = FAILED_STATES | {"imported", "ignored"}


@dataclass
class Ctx:
    """Everything one torrent's rules look at; ``mem`` is the observed memory."""

    f: TorrentFacts
    q: QueueView | None
    files: Sequence[Mapping[str, Any]] | None
    mem: Memory
    s: PolicySettings
    env: Env
    step: Step | None
    tracker: TrackerRule | None
    ob: Obligation
    shared: bool
    young: bool
    age: float
    notes: list[str] = field(default_factory=list)

    @property
    def h(self) -> str:
        return self.f.hash

    def decide(
        self,
        rule: str,
        code: str,
        reason: str,
        actions: Sequence[Action] = (),
        extra: Mapping[str, Any] | None = None,
        **memory: Any,
    ) -> Decision:
        return Decision(
            hash=self.h,
            name=self.f.name,
            rule=rule,
            code=code,
            reason=reason,
            inputs=self.inputs(extra),
            actions=tuple(actions),
            memory=self.mem.replace(**memory),
        )

    def inputs(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        f = self.f
        data: dict[str, Any] = {
            "state": f.raw_state,
            "category": f.category,
            "progress": round(f.progress, 4),
            "amount_left": f.amount_left,
            "size": f.size,
            "ratio": round(f.ratio, 3),
            "seeding_time": int(f.seeding_time),
            "eta": f.eta,
            "availability": round(f.availability, 3),
            "age": int(self.age),
        }
        if f.tracker_host or self.mem.tracker:
            data["tracker"] = f.tracker_host or self.mem.tracker
        if self.q is not None:
            data["arr"] = {
                "queue_ids": list(self.q.ids),
                "tracked_state": self.q.tracked_state,
                "tracked_status": self.q.tracked_status,
            }
        if self.mem.stalled_since is not None:
            data["stalled_for"] = int(self.env.now - self.mem.stalled_since)
        if self.mem.slow_strikes:
            data["slow_strikes"] = self.mem.slow_strikes
        if not self.ob.met:
            data["obligation"] = self.ob.why
        if self.shared:
            data["content_shared"] = True
        if extra:
            data.update(extra)
        return data


# -- action builders ---------------------------------------------------------


def _blocklist(c: Ctx) -> list[Action]:
    if c.q is None:
        c.notes.append("not in the Arr queue: nothing to blocklist")
        return []
    return [
        Action(
            "blocklist",
            f"blocklist:{c.h}",
            {
                "queue_ids": list(c.q.ids),
                "remove_from_client": False,
                "blocklist": True,
                "skip_redownload": True,
            },
            destructive=True,
        )
    ]


def _search(c: Ctx, forced: bool = False) -> list[Action]:
    if not (c.s.re_search or forced):
        c.notes.append("ReSearch is off: no new search")
        return []
    if c.q is None or not any(c.q.media):
        c.notes.append("no media ids in the Arr queue: cannot search again")
        return []
    return [
        Action(
            "search",
            f"search:{c.h}",
            {"media": [dict(m) for m in c.q.media], "queue_ids": list(c.q.ids)},
        )
    ]


def _delete(c: Ctx) -> Action:
    if c.shared:
        c.notes.append("its data is shared with another torrent: removed without deleting files")
    return Action("delete", f"delete:{c.h}", {"delete_files": not c.shared}, destructive=True)


def _fail(
    c: Ctx,
    rule: str,
    why: str,
    blocklist: bool = True,
    search: bool = True,
    extra: Mapping[str, Any] | None = None,
    obligation: bool = True,
) -> Decision:
    """Blocklist, delete (unless an obligation holds it), search again. While the Arr does
    not answer, nothing: the blocklist must come first, and the search needs its queue.
    ``obligation=False``: a hit-and-run obligation does not hold the deletion (the tracker
    no longer knows the torrent)."""
    if not c.env.arr_reachable:
        reason = "; ".join([f"{why}: failing it waits until the Arr answers", *c.notes])
        return c.decide(rule, "wait-arr", reason, (), extra)
    actions: list[Action] = _blocklist(c) if blocklist else []
    code = "fail"
    if not obligation and not c.ob.met:
        c.notes.append(
            f"its hit-and-run obligation ({c.ob.why}) no longer holds: the tracker "
            "does not know the torrent"
        )
    if c.ob.met or not obligation:
        actions.append(_delete(c))
    else:
        code = "hold-hnr"
        c.notes.append(f"deletion held: hit-and-run obligation unmet ({c.ob.why})")
        if (
            c.ob.tracker is not None
            and c.ob.tracker.obligation_action == "pause"
            and not c.f.stopped
        ):
            actions.append(Action("pause", f"hnr-pause:{c.h}"))
            c.notes.append("paused (ObligationAction pause)")
    if search:
        actions += _search(c)
    reason = "; ".join([why] + c.notes)
    return c.decide(rule, code, reason, actions, extra, failed_at=c.mem.failed_at or c.env.now)


# -- the rules ---------------------------------------------------------------


def r_protected(c: Ctx) -> Decision | None:
    if c.s.protected_tag not in c.f.tags:
        return None
    return c.decide("protected", "tag", f"tagged {c.s.protected_tag}: qbarr never touches it")


def r_manual_fail(c: Ctx) -> Decision | None:
    if c.f.category != c.s.failed_category:
        return None
    return _fail(c, "manual-fail", f"moved to FailedCategory {c.s.failed_category!r} by hand")


def r_manual_recheck(c: Ctx) -> Decision | None:
    if c.f.category != c.s.recheck_category:
        return None
    changes: dict[str, Any]  # Memory fields, passed to decide() as keywords
    if c.mem.in_recheck:
        n, changes = max(c.mem.manual_rechecks - 1, 0), {}
    else:
        n, changes = (
            c.mem.manual_rechecks,
            {"in_recheck": True, "manual_rechecks": c.mem.manual_rechecks + 1},
        )
    actions = [
        Action("recheck", f"recheck:{c.h}:m{n}"),
        Action("set_category", f"set_category:{c.h}:m{n}", {"category": c.s.category}),
    ]
    why = (
        f"moved to RecheckCategory {c.s.recheck_category!r} by hand: rechecking, then back to "
        f"category {c.s.category!r}"
    )
    return c.decide("manual-recheck", "recheck", why, actions, **changes)


def r_missing_files(c: Ctx) -> Decision | None:
    if c.f.state != "missingFiles":
        return None
    search = True
    if c.mem.import_sent_at is not None or (c.q is not None and c.q.tracked_state == "imported"):
        search = False
        c.notes.append("already imported: not searching again")
    return _fail(
        c,
        "missing-files",
        "qBittorrent reports its files missing (no blocklist)",
        blocklist=False,
        search=search,
    )


def r_errored(c: Ctx) -> Decision | None:
    if c.f.state != "error":
        return None
    s, m, now = c.s, c.mem, c.env.now
    if (
        s.free_space > 0
        and c.env.free_space is not None
        and c.env.free_space - s.free_space < c.f.amount_left
    ):
        return c.decide(
            "errored",
            "disk-short",
            "in error while the download disk is short of FreeSpace: "
            "not failing it (the error is probably the full disk)",
        )
    if m.last_recheck_at is not None and now - m.last_recheck_at < RECHECK_GRACE:
        return c.decide(
            "errored",
            "recheck-wait",
            f"recheck {m.rechecks} of MaxRechecks {s.max_rechecks} "
            f"sent {fmt(now - m.last_recheck_at)} ago: waiting for it",
        )
    if m.rechecks < s.max_rechecks:
        n = m.rechecks
        return c.decide(
            "errored",
            "recheck",
            f"in error: recheck {n + 1} of MaxRechecks {s.max_rechecks}",
            [Action("recheck", f"recheck:{c.h}:{n}")],
            rechecks=n + 1,
            last_recheck_at=now,
        )
    return _fail(
        c, "errored", f"still in error after {m.rechecks} recheck(s) (MaxRechecks {s.max_rechecks})"
    )


def _tag(c: Ctx, tag: str, at: float) -> list[Action]:
    """Add ``tag`` once per tracker look-up (none when it is there or the tag is off)."""
    if not tag or tag in c.f.tags:
        return []
    return [Action("tag", f"tag:{c.h}:{tag}:{int(at)}", {"tags": [tag]})]


def r_unregistered(c: Ctx) -> Decision | None:
    s, view = c.s, c.f.trackers
    if s.unregistered == "off" or view is None:
        return None
    if verdict(view, c.f.tracker_host, s.unregistered_messages) != "unregistered":
        return None
    msg = next((r.msg for r in view.rows if r.status != 0), "")
    extra = {"tracker_msgs": view.messages()}
    said = f"every tracker says {msg!r}"
    tag = _tag(c, s.unregistered_tag, view.at)
    if s.unregistered == "tag":
        return c.decide(
            "unregistered",
            "tag",
            f"{said}: tagged {s.unregistered_tag} (Unregistered = tag)",
            tag,
            extra,
        )
    since = c.mem.unregistered_since if c.mem.unregistered_since is not None else c.env.now
    waited = c.env.now - since
    if c.young and not c.f.complete:  # like every other failure of a young download
        return c.decide(
            "unregistered",
            "grace",
            f"{said}, but it was added {fmt(c.age)} ago (IgnoreYoungerThan "
            f"{fmt(s.ignore_younger_than)}): not failed yet",
            tag,
            extra,
        )
    if waited < s.unregistered_grace:
        return c.decide(
            "unregistered",
            "grace",
            f"{said} for {fmt(waited)}: failed when UnregisteredGrace "
            f"{fmt(s.unregistered_grace)} runs out",
            tag,
            extra,
        )
    return _fail(
        c,
        "unregistered",
        f"{said} for {fmt(waited)} (UnregisteredGrace {fmt(s.unregistered_grace)})",
        extra=extra,
        obligation=False,
    )


def r_wait(c: Ctx) -> Decision | None:
    if c.f.state in WAIT_STATES:
        return c.decide("wait", c.f.state, f"{c.f.raw_state}: waiting until qBittorrent is done")
    if not c.young or c.f.complete:
        return None
    found = _unwanted(c, allow_fail=False) or r_free_space(c)
    if found is not None:
        return found
    return c.decide(
        "wait",
        "young",
        f"added {fmt(c.age)} ago, younger than IgnoreYoungerThan "
        f"{fmt(c.s.ignore_younger_than)}: not judged yet",
    )


def _unwanted(c: Ctx, allow_fail: bool) -> Decision | None:
    if not c.files or c.f.complete:
        return None
    verdicts = judge_files(c.files, c.s)
    excluded = [v for v in verdicts if v.why]
    if not excluded:
        return None
    example = f"{excluded[0].name}: {excluded[0].why}"
    if len(excluded) == len(verdicts):
        if not allow_fail:
            return None
        return _fail(
            c,
            "unwanted-files",
            f"every file is excluded ({len(verdicts)} files; e.g. {example})",
            extra={"excluded": len(excluded), "files": len(verdicts)},
        )
    to_set = sorted(v.index for v in excluded if v.priority != 0)
    if not to_set:
        return None
    dg = digest(to_set)
    if c.mem.prio0_digest == dg:
        return None  # already asked; the loop's file list may be older than the change
    return c.decide(
        "unwanted-files",
        "prio0",
        f"{len(to_set)} of {len(verdicts)} files excluded, set to priority 0 (e.g. {example})",
        [Action("file_prio", f"file_prio:{c.h}:{dg}", {"file_ids": to_set, "priority": 0})],
        {"excluded": len(excluded), "files": len(verdicts)},
        prio0_digest=dg,
    )


def r_unwanted(c: Ctx) -> Decision | None:
    return _unwanted(c, allow_fail=True)


def r_stalled(c: Ctx) -> Decision | None:
    since = c.mem.stalled_since
    if since is None:
        return None
    s, now = c.s, c.env.now
    stalled_for = now - since
    delay = s.stalled_delay
    if delay > 0 and stalled_for > delay:
        if s.reannounce_stalled and c.mem.reannounced_at is None:
            return c.decide(
                "stalled",
                "reannounce",
                f"stalled for {fmt(stalled_for)} (StalledDelay {fmt(delay)}): asking its "
                f"trackers for peers once more (ReannounceStalled); failed if still stalled "
                f"{fmt(REANNOUNCE_WAIT)} from now",
                [Action("reannounce", f"reannounce:{c.h}:{int(since)}")],
                reannounced_at=now,
            )
        if (
            s.reannounce_stalled
            and c.mem.reannounced_at is not None
            and now - c.mem.reannounced_at < REANNOUNCE_WAIT
        ):
            return c.decide(
                "stalled",
                "reannounced",
                f"stalled for {fmt(stalled_for)}: reannounced {fmt(now - c.mem.reannounced_at)} "
                f"ago, failed if still stalled {fmt(REANNOUNCE_WAIT)} after it",
            )
        return _fail(c, "stalled", f"stalled for {fmt(stalled_for)} (StalledDelay {fmt(delay)})")
    if (
        s.re_search_stalled
        and c.mem.researched_at is None
        and c.q is not None
        and c.env.arr_reachable
    ):
        actions = _blocklist(c) + _search(c, forced=True)
        tail = (
            f"failed after StalledDelay {fmt(delay)}"
            if delay > 0
            else "StalledDelay 0: never removed"
        )
        return c.decide(
            "stalled",
            "research",
            f"stalled for {fmt(stalled_for)}: ReSearchStalled blocklists "
            f"and searches again now, keeping the torrent ({tail})",
            actions,
            researched_at=now,
        )
    if delay <= 0:
        c.notes.append(f"stalled for {fmt(stalled_for)} (StalledDelay 0: never failed)")
        return None
    found = r_free_space(c)
    if found is not None and found.code == "pause":
        return found
    return c.decide(
        "stalled",
        "grace",
        f"stalled for {fmt(stalled_for)}: failed when it passes StalledDelay {fmt(delay)}",
    )


def r_slow(c: Ctx) -> Decision | None:
    strikes = c.mem.slow_strikes
    max_eta = effective_max_eta(c.f, c.mem, c.s)
    if max_eta <= 0:
        return None
    if c.env.at_global_dl_limit and c.f.eta > max_eta and c.f.state in ("downloading", "forcedDL"):
        c.notes.append(
            "ETA above MaximumETA but qBittorrent is at its global download limit: not counted"
        )
    if strikes <= 0:
        return None
    numbers = f"ETA {fmt(c.f.eta)} > MaximumETA {fmt(max_eta)}"
    if strikes >= c.s.slow_strikes:
        return _fail(
            c, "slow", f"{numbers} for {strikes} checks in a row (SlowStrikes {c.s.slow_strikes})"
        )
    c.notes.append(f"{numbers}: slow strike {strikes} of {c.s.slow_strikes}")
    return None


def r_free_space(c: Ctx) -> Decision | None:
    st, m = c.step, c.mem
    if st is None:
        return None
    extra = {"needs": st.needs, "budget": st.budget, "free_space": c.env.free_space}
    if st.what == "pause":
        if m.paused_by_qbarr:
            n, changes = max(m.pauses - 1, 0), {}
        else:
            n, changes = (
                m.pauses,
                {"paused_by_qbarr": True, "paused_at": c.env.now, "pauses": m.pauses + 1},
            )
        return c.decide(
            "free-space",
            "pause",
            f"paused: {st.why}",
            [Action("pause", f"pause:{c.h}:{n}")],
            extra,
            **changes,
        )
    if st.what == "hold":
        return c.decide("free-space", "hold", f"kept paused: {st.why}", (), extra)
    n = max(m.pauses - 1, 0)
    return c.decide(
        "free-space",
        "resume",
        f"resumed: {st.why}",
        [Action("resume", f"resume:{c.h}:{n}")],
        extra,
        paused_by_qbarr=False,
        paused_at=None,
    )


def _import_due(c: Ctx, notes: bool) -> bool:
    """Complete, not imported yet, listed as importable in the Arr's queue, data present."""
    f = c.f
    if not f.complete or c.mem.import_sent_at is not None:
        return False
    if not c.env.arr_reachable:
        if notes:
            c.notes.append("complete: the import waits until the Arr answers")
        return False
    if c.q is None:
        if notes:
            c.notes.append(
                "not in the Arr queue (imported already or not the Arr's): no import needed"
            )
        return False
    if c.q.tracked_state in NOT_IMPORTABLE:
        return False
    if not f.content_path:
        if notes:
            c.notes.append("complete but qBittorrent reports no content path yet")
        return False
    if c.h in c.env.content_missing:
        if notes:
            c.notes.append(f"complete but {f.content_path} does not exist (yet): import waits")
        return False
    return True


def r_bad_media(c: Ctx) -> Decision | None:
    """VerifyMedia: the import waits for the ffprobe check; an unreadable file fails the torrent."""
    if not c.s.verify_media or not _import_due(c, notes=False):
        return None
    check = c.env.media.get(c.h)
    if check is None or check.status == "pending":
        done = f" ({check.checked} of {check.files} files checked)" if check and check.files else ""
        return c.decide(
            "wait",
            "media-check",
            f"complete: its media files are checked with ffprobe before the import{done}",
        )
    if check.status != "bad":
        return None
    return _fail(
        c,
        "bad-media",
        f"ffprobe cannot read {check.detail}",
        extra={"media": {"files": check.files, "checked": check.checked}},
    )


def _media_note(c: Ctx) -> str:
    check = c.env.media.get(c.h) if c.s.verify_media else None
    if check is None:
        return ""
    if check.status == "ok":
        return f"; media checked by ffprobe: {check.files} file(s) readable"
    return f"; media not checked: {check.detail}" if check.detail else ""


def r_import(c: Ctx) -> Decision | None:
    f = c.f
    if not _import_due(c, notes=True):
        return None
    params = {
        "path": f.content_path,
        "download_client_id": c.h.upper(),
        "import_mode": c.s.import_mode,
    }
    return c.decide(
        "import",
        "scan",
        f"complete: the Arr imports {f.content_path} (importMode {c.s.import_mode})"
        + _media_note(c),
        [Action("import", f"import:{c.h}", params)],
        import_sent_at=c.env.now,
    )


def r_import_failed(c: Ctx) -> Decision | None:
    q = c.q
    if not c.env.arr_reachable:  # the queue is the last one read: judge it when it answers
        return None
    if q is None or not (q.tracked_state in FAILED_STATES or q.tracked_status == "error"):
        return None
    why = (
        f"the Arr reports trackedDownloadState {q.tracked_state}, "
        f"trackedDownloadStatus {q.tracked_status}"
    )
    if not c.f.complete:
        return _fail(c, "import-failed", why)
    actions = _blocklist(c) + _search(c)
    reason = "; ".join(
        [why + ": blocklisted and searched again, the torrent keeps seeding"] + c.notes
    )
    return c.decide(
        "import-failed", "blocklist", reason, actions, failed_at=c.mem.failed_at or c.env.now
    )


def r_seeding_done(c: Ctx) -> Decision | None:
    f, s = c.f, c.s
    if not f.complete or s.remove_mode == "never":
        return None
    limits = limits_for(s, c.tracker)
    done, text = seeding_done(f, s, limits)
    extra = {
        "ratio_limit": limits.ratio,
        "seeding_time_limit": limits.seeding_time,
        "remove_mode": s.remove_mode,
    }
    if not done:
        c.notes.append(f"seeding: {text}")
        return None
    if c.q is not None and c.q.tracked_state not in IMPORT_DONE:
        return c.decide(
            "seeding-done",
            "wait-import",
            f"seeding done ({text}) but the Arr has not imported it "
            f"yet (trackedDownloadState {c.q.tracked_state}): kept",
            (),
            extra,
        )
    if not c.ob.met:
        c.notes.append(
            f"seeding limits met ({text}) but the hit-and-run obligation is not: {c.ob.why}"
        )
        return None
    imported = c.q is not None or c.mem.import_sent_at is not None
    if s.seed_action == "remove" and not c.env.arr_reachable and not imported:
        return c.decide(
            "seeding-done",
            "wait-arr",
            f"seeding done ({text}) but the Arr does not answer and its queue is not known: "
            "kept until it confirms the import",
            (),
            extra,
        )
    if s.seed_action == "remove":
        action = _delete(c)
        reason = "; ".join([f"seeding done ({text}): removed"] + c.notes)
        return c.decide("seeding-done", "remove", reason, [action], extra)
    if f.stopped:
        return c.decide("seeding-done", "paused", f"seeding done ({text}): paused", (), extra)
    return c.decide(
        "seeding-done",
        "pause",
        f"seeding done ({text}): pausing (Action pause)",
        [Action("pause", f"seed-pause:{c.h}")],
        extra,
    )


def r_ok(c: Ctx) -> Decision:
    f = c.f
    if c.notes:
        return c.decide("ok", "note", "; ".join(c.notes))
    if f.complete:
        text = f"seeding ({f.raw_state}), ratio {f.ratio:.2f}"
    elif f.stopped:
        text = f"stopped by the user at {f.progress * 100:.1f}%"
    else:
        eta = "unknown" if f.eta >= INFINITE_ETA else fmt(f.eta)
        text = f"downloading ({f.raw_state}) {f.progress * 100:.1f}%, ETA {eta}"
    return c.decide("ok", "fine", text)


CHAIN: tuple[Callable[[Ctx], Decision | None], ...] = (
    r_protected,
    r_manual_fail,
    r_manual_recheck,
    r_missing_files,
    r_errored,
    r_unregistered,
    r_wait,
    r_unwanted,
    r_stalled,
    r_slow,
    r_free_space,
    r_bad_media,
    r_import,
    r_import_failed,
    r_seeding_done,
)


def _owned(
    torrents: Mapping[str, Mapping[str, Any]],
    queue: Mapping[str, QueueView],
    memory: Mapping[str, Memory],
    s: PolicySettings,
) -> list[str]:
    """This instance's torrents: its category, plus manual categories it still owns."""
    out = []
    for h, t in torrents.items():
        cat = str(t.get("category") or "")
        if cat == s.category:
            out.append(h)
        elif cat in (s.failed_category, s.recheck_category):
            m = memory.get(h)
            if (m is not None and m.prev_category == s.category) or h in queue:
                out.append(h)
    return sorted(out)


def decide(
    torrents: Mapping[str, Mapping[str, Any]],
    queue: Mapping[str, QueueView],
    files: Mapping[str, Sequence[Mapping[str, Any]]],
    memory: Mapping[str, Memory],
    settings: PolicySettings,
    env: Env,
) -> list[Decision]:
    """One Decision per torrent this instance owns, sorted by hash. Pure and deterministic.

    ``torrents`` may be every torrent of qBittorrent (hash -> torrent object); only this
    instance's category (and the failed / recheck categories when it owns the torrent) are
    decided. ``files`` holds ``torrents/files`` results for the torrents the loop fetched.
    """
    queue = {h.lower(): v for h, v in queue.items()}
    memory = {h.lower(): m for h, m in memory.items()}
    hashes = _owned({h.lower(): t for h, t in torrents.items()}, queue, memory, settings)
    lowered = {h.lower(): t for h, t in torrents.items()}
    observed: dict[str, tuple[TorrentFacts, Memory]] = {}
    for h in hashes:
        f = TorrentFacts.from_qbt(h, lowered[h])
        observed[h] = (f, observe(f, memory.get(h), settings, env))
    steps = plan_free_space(observed, settings, env)
    out = []
    for h in hashes:
        f, mem = observed[h]
        tracker_host = f.tracker_host or mem.tracker
        tracker = settings.tracker_for(tracker_host)
        age = f.age(env.now, mem.first_seen)
        c = Ctx(
            f=f,
            q=queue.get(h),
            files=files.get(h),
            mem=mem,
            s=settings,
            env=env,
            step=steps.get(h),
            tracker=tracker,
            ob=obligation(f, settings, tracker, bool(tracker_host)),
            shared=h in env.content_paths_shared,
            young=age < settings.ignore_younger_than,
            age=age,
        )
        out.append(_first(c))
    return out


def _first(c: Ctx) -> Decision:
    for rule in CHAIN:
        found = rule(c)
        if found is not None:
            return _tracker_error_tag(c, found)
    return _tracker_error_tag(c, r_ok(c))


def _tracker_error_tag(c: Ctx, d: Decision) -> Decision:
    """Whatever rule decided: TrackerErrorTag on a torrent whose trackers all fail (for
    another reason than "unregistered"), off again once one works. A tag only: the torrent
    stays under its rule (a private tracker down for maintenance is no reason to fail it).
    Trackers answering one of RemoveTrackerMessages are removed, when another one is left."""
    view = c.f.trackers
    if view is None or d.rule == "protected":
        return d
    extra: list[Action] = []
    notes: list[str] = []
    tag = c.s.tracker_error_tag
    seen = verdict(view, c.f.tracker_host, c.s.unregistered_messages)
    if tag and seen == "error" and tag not in c.f.tags:
        extra.append(Action("tag", f"tag:{c.h}:{tag}:{int(view.at)}", {"tags": [tag]}))
        notes.append(f"trackers failing ({'; '.join(view.messages())}): tagged {tag}")
    elif tag and seen == "ok" and tag in c.f.tags:
        extra.append(Action("untag", f"untag:{c.h}:{tag}:{int(view.at)}", {"tags": [tag]}))
        notes.append(f"a tracker works again: {tag} removed")
    deleting = any(a.kind == "delete" for a in d.actions)  # no call for a torrent going away
    if c.s.remove_tracker_messages and not deleting:
        dead = [
            r.url
            for r in view.rows
            if r.status in FAILING and matches(r.msg, c.s.remove_tracker_messages)
        ]
        left = [r for r in view.rows if r.status != 0 and r.url not in dead]
        if dead and left:
            key = f"remove_trackers:{c.h}:{int(view.at)}"
            extra.append(Action("remove_trackers", key, {"urls": dead}))
            notes.append(f"removed {len(dead)} dead tracker(s) (RemoveTrackerMessages)")
    if not extra:
        return d
    inputs = {**d.inputs, "tracker_msgs": view.messages()}
    reason = "; ".join([d.reason, *notes])
    return dataclasses.replace(d, actions=(*d.actions, *extra), reason=reason, inputs=inputs)
