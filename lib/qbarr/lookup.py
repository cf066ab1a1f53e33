"""Did the Arr get it? Looking up an Arr action before it is sent again.

An import (``Downloaded*Scan``), a re-search (``MoviesSearch`` ...) or a blocklist
(``DELETE queue/{id}``) is not idempotent: sent twice, the Arr scans or searches twice.
When an earlier try may have reached the Arr (the answer was lost: a timeout, a connection
lost after sending, a 5xx, or a crash while ``sending``), the executor asks this module
first:

- import: is there a ``*Scan`` command for this download id in ``GET command``, queued
  after the action was first sent? Or does the queue show the download being imported or
  imported (the Arr took it)? Or, once the Arr has forgotten the command and dropped the
  download from its queue, does its history (``GET history?downloadId=``, kept for months)
  hold an import event of this download?
- search: is there a ``*Search`` command for (a superset of) these media ids in
  ``GET command``, queued after the action was first sent?
- blocklist: which of its queue items does ``GET queue`` still list? None left: it was
  blocklisted (only those left are deleted again).

A command queued before the action was first sent is not ours. The Arr's timestamps are
compared with ours with ``CLOCK_SLACK`` of tolerance (the Arrs round to the second), so
the two clocks must agree to about a second. The Arrs list finished commands for a few
minutes only: a search whose answer was lost longer ago than that cannot be found and is
sent again (an import is found in the history). Each list is read at most once per executor
run; errors propagate (the executor then leaves the action waiting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from qbarr.journal import ActionRow

CLOCK_SLACK = 1.0
# Queue states meaning the Arr took the download over: an import is no longer needed.
IMPORT_TAKEN = frozenset({"importing", "imported"})
# Media id fields of the search actions' ``media`` -> the command body's list field.
MEDIA_FIELDS = ("movieId", "episodeId", "albumId")


class ArrReader(Protocol):
    def commands(self) -> list[dict]: ...
    def queue(self) -> Iterable[Any]: ...
    def download_history(self, download_id: str) -> list[dict]: ...

    spec: Any  # the ArrKind: which history events are imports


def imported_event(
    records: Iterable[Mapping[str, Any]], download_id: str, events: Iterable[str]
) -> Mapping[str, Any] | None:
    """The newest history record that says this download was imported, if any."""
    wanted, kinds = download_id.lower(), set(events)
    return next(
        (
            r
            for r in records
            if str(r.get("downloadId") or "").lower() == wanted and r.get("eventType") in kinds
        ),
        None,
    )


def queued_at(cmd: Mapping[str, Any]) -> float | None:
    """The Unix time a command was queued (None when the Arr does not say)."""
    raw = cmd.get("queued")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _name(cmd: Mapping[str, Any]) -> str:
    body = cmd.get("body") or {}
    return str(cmd.get("name") or body.get("name") or "")


def _since(cmd: Mapping[str, Any], since: float) -> bool:
    """Queued since ``since`` (a command whose time the Arr does not give counts)."""
    when = queued_at(cmd)
    return when is None or when >= since - CLOCK_SLACK


def search_covers(cmd: Mapping[str, Any], ids: Mapping[str, Iterable[int]], since: float) -> bool:
    """Whether ``cmd`` is a ``*Search`` queued since ``since`` whose body covers these ids
    (body field -> ids: ``{"movieIds": [3]}``; a scalar field: ``{"seriesId": [7]}``)."""
    if not _name(cmd).endswith("Search") or not _since(cmd, since):
        return False
    body = cmd.get("body") or {}
    for field, wanted in ids.items():
        want = set(wanted)
        sent = body.get(field)
        got = set(sent) if isinstance(sent, list) else {sent}
        if want and want <= got:
            return True
    return False


def same_command(a: ActionRow, cmd: Mapping[str, Any]) -> bool:
    """Whether ``cmd`` is this import or search, sent since the action was first sent."""
    if a.kind == "import":
        want = str(a.params.get("download_client_id", a.hash)).lower()
        body = cmd.get("body") or {}
        return (
            _name(cmd).endswith("Scan")
            and str(body.get("downloadClientId", "")).lower() == want
            and _since(cmd, a.sent_since)
        )
    if a.kind != "search":
        return False
    media = a.params.get("media", [])
    ids = {f + "s": [m[f] for m in media if isinstance(m.get(f), int)] for f in MEDIA_FIELDS}
    return search_covers(cmd, ids, a.sent_since)


def describe(cmd: Mapping[str, Any]) -> str:
    return f"{_name(cmd) or 'command'} id {cmd.get('id')}"


class ArrLookup:
    """The Arr's command list and queue, read once per run, and the questions above."""

    def __init__(self, arr: ArrReader) -> None:
        self.arr = arr
        self._commands: list[dict] | None = None
        self._queue: list[Any] | None = None

    def commands(self) -> list[dict]:
        if self._commands is None:
            self._commands = list(self.arr.commands())
        return self._commands

    def queue(self) -> list[Any]:
        if self._queue is None:
            self._queue = list(self.arr.queue())
        return self._queue

    def sent_command(self, a: ActionRow) -> dict | None:
        """The command of this import or search the Arr lists, if any."""
        return next((c for c in self.commands() if same_command(a, c)), None)

    def import_taken(self, a: ActionRow) -> str | None:
        """Why this import needs no sending again (None: send it)."""
        cmd = self.sent_command(a)
        if cmd is not None:
            return f"already sent: the Arr lists {describe(cmd)}"
        # Only positive evidence counts: a download missing from the queue may be one the Arr
        # has not picked up again yet (after its own restart), and a missed import is worse
        # than a second scan of an imported one (which finds nothing to do).
        items = [q for q in self.queue() if str(getattr(q, "download_id", "")).lower() == a.hash]
        states = {getattr(q, "tracked_state", None) for q in items}
        if states & IMPORT_TAKEN:
            return f"already taken: the Arr's queue shows it {'/'.join(sorted(map(str, states)))}"
        if items:
            return None  # still waiting in the queue: not imported
        download_id = str(a.params.get("download_client_id", a.hash))
        event = imported_event(
            self.arr.download_history(download_id), download_id, self.arr.spec.import_events
        )
        if event is not None:
            return (
                f"already imported: the Arr's history shows {event.get('eventType')} "
                f"at {event.get('date')}"
            )
        return None

    def queue_ids_left(self, ids: Iterable[int]) -> list[int]:
        """The queue items among ``ids`` the Arr still lists."""
        present = {int(q.id) for q in self.queue()}
        return [i for i in ids if i in present]
