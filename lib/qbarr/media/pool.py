"""The manager's media checker: probes run in a small worker pool, collected across cycles.

The policy asks for a check by deciding ``wait`` / ``media-check`` for a complete torrent;
the loop then calls :meth:`MediaChecker.request` with those hashes, and every cycle
:meth:`MediaChecker.checks` collects what finished and returns a
:class:`qbarr.policy.MediaCheck` per requested torrent for ``Env.media``. Nothing here
blocks a cycle: the file reads and ffprobe runs happen in at most ``ProbeConcurrency``
worker threads, each ffprobe bounded by ``ProbeTimeout``.

Per file: (1) fingerprint (128 KiB read, in a worker), (2) look the fingerprint up in
``media_probes`` (main thread), (3) if unknown, ffprobe (in a worker) and remember the
verdict there. A file is therefore probed once per content, even across restarts, re-adds
and cross-seeds. A timed-out probe is not remembered: the import goes ahead unchecked.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbarr.db import Database, rows, write_txn
from qbarr.media.judge import MediaFile, Verdict, media_files
from qbarr.media.probe import ProbeResult, Runner, ffprobe_path, fingerprint
from qbarr.policy.model import MediaCheck
from qbarr.units import format_duration

log = logging.getLogger("qbarr.media")

FILE_LISTS_PER_CYCLE = 10  # torrents/files calls per cycle for new checks


@dataclass
class FileJob:
    """One media file of a torrent on its way through fingerprint -> lookup -> probe."""

    file: MediaFile
    path: Path
    future: Future[Any] | None = None
    stage: str = "fingerprint"  # fingerprint | probe | done
    fingerprint: str | None = None
    verdict: Verdict | None = None
    unchecked: str = ""  # why this file could not be judged


@dataclass
class TorrentJob:
    files: list[FileJob] = field(default_factory=list)
    unchecked: str = ""  # the whole torrent could not be checked (set at request time)


class MediaChecker:
    """Media checks of one manager (one Arr instance); see the module docstring."""

    def __init__(
        self,
        db: Database,
        kind: str,
        concurrency: int = 2,
        timeout: float = 60.0,
        exe: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.kind = kind
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.exe = exe
        self.clock = clock
        self.jobs: dict[str, TorrentJob] = {}
        self.runner = Runner(exe) if exe else None
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ffprobe")

    @property
    def signature(self) -> tuple[Any, ...]:
        return (self.kind, self.concurrency, self.timeout, self.exe)

    # -- requests -----------------------------------------------------------------------

    def request(
        self,
        hashes: Iterable[str],
        torrents: Mapping[str, Mapping[str, Any]],
        list_files: Callable[[str], list[dict[str, Any]]],
    ) -> None:
        """Start checks for these complete torrents (those not started yet), reading at most
        FILE_LISTS_PER_CYCLE file lists now (the others on the next calls)."""
        new = sorted(h for h in hashes if h not in self.jobs and h in torrents)
        for h in new[:FILE_LISTS_PER_CYCLE]:
            self.jobs[h] = self._start(h, torrents[h], list_files)

    def _start(
        self, h: str, torrent: Mapping[str, Any], list_files: Callable[[str], list[dict]]
    ) -> TorrentJob:
        if self.runner is None:
            return TorrentJob(unchecked="ffprobe not found on PATH (install the ffmpeg package)")
        save = str(torrent.get("save_path") or "")
        if not save or not os.path.isdir(save):
            return TorrentJob(unchecked=f"qbarr cannot see {save or 'the save path'} from here")
        wanted = media_files(list_files(h), self.kind)
        if not wanted:
            return TorrentJob(unchecked="no video or audio file to check")
        job = TorrentJob([FileJob(f, Path(save) / f.name) for f in wanted])
        for fj in job.files:
            fj.future = self.pool.submit(fingerprint, fj.path)
        log.info("checking %d media file(s) of %s with ffprobe", len(job.files), h)
        return job

    def forget(self, present: Iterable[str]) -> None:
        """Drop the state of torrents that are gone (their remembered verdicts stay)."""
        keep = set(present)
        for h in [h for h in self.jobs if h not in keep]:
            for fj in self.jobs[h].files:
                if fj.future is not None:
                    fj.future.cancel()
            del self.jobs[h]

    # -- collection ------------------------------------------------------------------------

    def checks(self) -> dict[str, MediaCheck]:
        """Collect finished work (remembering new verdicts) and return every torrent's check."""
        out = {}
        for h, job in self.jobs.items():
            for fj in job.files:
                self._advance(fj)
            out[h] = summarize(job)
        return out

    def _advance(self, fj: FileJob) -> None:
        if fj.stage == "done" or fj.future is None or not fj.future.done():
            return
        future, fj.future = fj.future, None
        if future.cancelled():
            fj.stage, fj.unchecked = "done", "the check was cancelled"
            return
        error = future.exception()
        if fj.stage == "fingerprint":
            if error is not None:
                fj.stage = "done"
                fj.unchecked = f"{fj.file.name}: cannot be read ({type(error).__name__})"
                return
            fj.fingerprint = future.result()
            known = self._remembered(fj.fingerprint, fj.file.size)
            if known is not None:
                fj.stage, fj.verdict = "done", known
                return
            assert self.runner is not None
            fj.stage = "probe"
            fj.future = self.pool.submit(self.runner.probe, fj.path, self.timeout)
            return
        fj.stage = "done"
        result: ProbeResult | None = None if error is not None else future.result()
        if result is None or result.verdict is None:
            why = (
                f"ffprobe timed out after {format_duration(self.timeout)}"
                if result is not None
                else f"ffprobe could not run ({type(error).__name__})"
            )
            fj.unchecked = f"{fj.file.name}: {why}"
            log.warning("media check of %s: %s", fj.path, why)
            return
        fj.verdict = result.verdict
        self._remember(fj, result)
        if not result.verdict.ok:
            log.warning("ffprobe cannot read %s: %s", fj.path, result.verdict.detail)

    def _remembered(self, fp: str, size: int) -> Verdict | None:
        found = rows(
            self.db,
            "SELECT ok, detail, format_name, duration FROM media_probes "
            "WHERE fingerprint = ? AND size = ?",
            (fp, size),
        )
        if not found:
            return None
        r = found[0]
        return Verdict(bool(r["ok"]), r["detail"] or "", r["format_name"] or "", r["duration"])

    def _remember(self, fj: FileJob, result: ProbeResult) -> None:
        v = result.verdict
        assert v is not None and fj.fingerprint is not None
        with write_txn(self.db) as db:
            db.execute(
                "INSERT OR REPLACE INTO media_probes (fingerprint, size, ok, detail, format_name, "
                "duration, name, probe_s, probed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fj.fingerprint,
                    fj.file.size,
                    int(v.ok),
                    v.detail,
                    v.format_name,
                    v.duration,
                    fj.file.name,
                    round(result.seconds, 4),
                    self.clock(),
                ),
            )

    def close(self) -> None:
        """Kill running probes and stop the workers (shutdown, reconnect, setting change)."""
        if self.runner is not None:
            self.runner.kill_all()
        self.pool.shutdown(wait=False, cancel_futures=True)


def summarize(job: TorrentJob) -> MediaCheck:
    """One torrent's check from its files: any bad file -> bad; all judged -> ok; else pending.

    A file that could not be judged makes the whole check ``unchecked`` (the import goes
    ahead and the reason says why)."""
    if job.unchecked:
        return MediaCheck("unchecked", job.unchecked)
    total = len(job.files)
    done = [fj for fj in job.files if fj.stage == "done"]
    bad = [fj for fj in done if fj.verdict is not None and not fj.verdict.ok]
    if bad:
        first = bad[0]
        assert first.verdict is not None
        return MediaCheck("bad", f"{first.file.name}: {first.verdict.detail}", total, len(done))
    if len(done) < total:
        return MediaCheck("pending", "", total, len(done))
    skipped = [fj.unchecked for fj in done if fj.unchecked]
    if skipped:
        return MediaCheck("unchecked", skipped[0], total, len(done))
    return MediaCheck("ok", "", total, len(done))


def configure(
    current: MediaChecker | None,
    db: Database,
    kind: str,
    torrent_section: Mapping[str, Any],
) -> MediaChecker | None:
    """The checker for an instance's ``[[Torrent]]`` settings: None when VerifyMedia is off,
    the current one when nothing changed, else a new one (the old one closed)."""
    # a validated section: the configspec gives every key its default
    if not bool(torrent_section["VerifyMedia"]):
        if current is not None:
            current.close()
        return None
    wanted = MediaChecker(
        db,
        kind,
        int(torrent_section["ProbeConcurrency"]),
        float(torrent_section["ProbeTimeout"]),
        ffprobe_path(),
    )
    if current is not None and current.signature == wanted.signature:
        wanted.close()
        return current
    if current is not None:
        current.close()
    if wanted.exe is None:
        log.error("VerifyMedia is on but ffprobe is not on PATH: imports go ahead unchecked")
    return wanted
