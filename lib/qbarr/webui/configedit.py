"""Viewing, validating, diffing and saving config.ini from the web UI.

An edit is either a list of field changes (the form) or a whole text (the raw editor).
Both become new file text by line-level patching (:mod:`qbarr.webui.initext`), so comments
and layout survive and the diff shows exactly what changes. The new text is validated by
:func:`qbarr.config.load` on a temp copy beside config.ini - the same configspec the
programs use, with ``suite=True``: exactly what ``qbarr check`` accepts - plus the web UI's
own checks (can it listen on the new Host/Port?), and only a clean result is saved, under
an exclusive lock and only if config.ini is still what the editor was shown (``base``): a
backup ``config.ini.bak-<timestamp>``, then :func:`qbarr.fileio.write_atomic`. A secret
shown as the mask is kept as stored, unless its section's URL moves to another host.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from configobj import ConfigObj

from qbarr import config as qconfig
from qbarr import fileio, settings_doc
from qbarr.config import MASK, SECRET_KEYS, ConfigError
from qbarr.webui import initext

BACKUPS_KEPT = 10
# What an edit may contain (also the API document's patterns). configobj splits lines with
# str.splitlines(), which also breaks at \x0b \x0c \x1c-\x1e \x85 \u2028 \u2029: such a
# character would make the file read differently from the text that was checked.
_CONTROL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\x85\\u2028\\u2029"
TEXT_PATTERN = f"^[^{_CONTROL}]*$"
VALUE_PATTERN = f"^[^\\n\\r{_CONTROL}]*$"
NAME_PATTERN = f"^(?!\\s)(?!.*\\s$)[^\\[\\]=#\\t\\n\\r{_CONTROL}]+$"
_PROBLEM = re.compile(
    r"^(?P<path>.*?): (?P<sections>(?:\[[^\]\n]*\])+)(?: (?P<key>[A-Za-z0-9_.-]+))?"
)


class EditRefused(Exception):
    """The edit cannot be saved; ``problems`` are dicts with ``field`` (or None) and ``message``."""

    def __init__(self, problems: list[dict[str, Any]], status: int = 422) -> None:
        self.problems = problems
        self.status = status
        super().__init__("; ".join(p["message"] for p in problems))


@dataclass
class Change:
    """One form field: section path, key, and the value as typed (None = back to default)."""

    path: tuple[str, ...]
    key: str
    value: str | None


@dataclass
class Outcome:
    text: str
    diff: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    config: qconfig.Config | None = None


def field_id(path: tuple[str, ...] | list[str], key: str) -> str:
    return "/".join([*path, key])


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _spec() -> ConfigObj:
    return ConfigObj(str(qconfig.spec_path()), _inspec=True, list_values=False, interpolation=False)


def _spec_node(spec: Any, path: tuple[str, ...]) -> Any:
    node = spec
    for depth, name in enumerate(path):
        if depth == 0:
            name = qconfig.spec_section(name)  # [qBittorrent-<name>] is a qBittorrent
        if not hasattr(node, "sections"):
            return {}
        node = node[name] if name in node.sections else node.get("__many__", {})
    return node


def _is_list(check: str) -> bool:
    return check.startswith(("string_list", "list", "force_list"))


def form(text: str) -> list[dict[str, Any]]:
    """The edit form: one entry per section present in the file, fields from the configspec
    (with defaults and config.ini.example's explanation) plus any key present in the file;
    secret values are masked."""
    raw = ConfigObj(text.split("\n"), list_values=True, interpolation=False, _inspec=False)
    spec = _spec()
    meanings = settings_doc.meanings()
    sections: list[dict[str, Any]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        spec_node = _spec_node(spec, path)
        keys = [k for k in getattr(spec_node, "scalars", []) if k != "__many__"]
        keys += [k for k in node.scalars if k not in keys]
        fields = []
        for key in keys:
            check = spec_node.get(key, "") if isinstance(spec_node.get(key, ""), str) else ""
            present = key in node.scalars
            value = node[key] if present else None
            secret = key.lower() in SECRET_KEYS
            if isinstance(value, list):
                value = ", ".join(value)
            if secret and value:
                value = MASK
            fields.append(
                {
                    "id": field_id(path, key),
                    "path": list(path),
                    "key": key,
                    "present": present,
                    "value": value,
                    "default": "" if secret or not check else qconfig.spec_default(check) or "",
                    "help": meanings.get((settings_doc.generic_section(list(path)), key), ""),
                    "check": check,
                    "secret": secret,
                    "list": _is_list(check),
                }
            )
        sections.append({"path": list(path), "title": " / ".join(path), "fields": fields})
        child_names = list(node.sections)
        for name in getattr(spec_node, "sections", []):
            if (
                name != "__many__"
                and name not in child_names
                and path
                and qconfig.spec_section(path[0]) == "__many__"
            ):
                child_names.append(name)
        for name in child_names:
            walk(node[name] if name in node.sections else ConfigObj(), (*path, name))

    for name in raw.sections:
        walk(raw[name], (name,))
    return sections


Kept = set[tuple[tuple[str, ...], str]]
"""(section path, key) of secrets an edit keeps as stored (masked, or not sent at all)."""


def apply_changes(stored: str, changes: list[Change]) -> tuple[str, Kept]:
    """New text with each changed field patched, and the secrets kept as stored.

    A field whose value is what the form showed is not touched (the browser sends every
    field, changed or not); a secret sent as the mask keeps its stored value.
    """
    raw = ConfigObj(stored.split("\n"), list_values=True, interpolation=False, _inspec=False)
    spec = _spec()
    lines = stored.split("\n")
    problems = []
    retyped: Kept = set()
    for change in changes:
        current = _current(raw, change.path, change.key)
        secret = change.key.lower() in SECRET_KEYS
        if secret and change.value == MASK:
            continue
        if change.value == _shown(current):
            continue  # untouched (an absent key shows as empty)
        if change.value is None or (change.value == "" and not secret):
            lines = initext.set_value(lines, change.path, change.key, None)  # back to default
            continue
        check = _spec_node(spec, change.path).get(change.key, "")
        try:
            if isinstance(check, str) and _is_list(check):
                parsed = initext.parse_list(change.value)
                value_text = initext.quote_value(parsed if isinstance(parsed, list) else [parsed])
            else:
                value_text = initext.quote_value(change.value)
        except initext.EditError as exc:
            problems.append(
                {"field": field_id(change.path, change.key), "message": f"{change.key} {exc}"}
            )
            continue
        lines = initext.set_value(lines, change.path, change.key, value_text)
        if secret:
            retyped.add((change.path, change.key))
    if problems:
        raise EditRefused(problems)
    kept = {
        (line.path, line.key)
        for line in initext.key_lines(stored.split("\n"))
        if line.key.lower() in SECRET_KEYS and (line.path, line.key) not in retyped
    }
    return "\n".join(lines), kept


def _shown(value: Any) -> str:
    """A stored value as the form shows it (None: the key is absent)."""
    if value is None:
        return ""
    return ", ".join(value) if isinstance(value, list) else str(value)


def _current(raw: ConfigObj, path: tuple[str, ...], key: str) -> Any:
    node: Any = raw
    for name in path:
        if name not in getattr(node, "sections", []):
            return None
        node = node[name]
    return node.get(key)


def text_from_raw(stored: str, submitted: str) -> tuple[str, Kept]:
    """The raw editor's text with masked secrets replaced by the stored ones, and those."""
    submitted = submitted.replace("\r\n", "\n")
    text, orphans, kept = initext.unmask_text(submitted, stored)
    if orphans:
        raise EditRefused(
            [
                {
                    "field": field_id(path, key),
                    "message": (
                        f"[{']['.join(path)}] {key} shows the mask but has no stored value: "
                        "type the secret"
                    ),
                }
                for path, key in orphans
            ]
        )
    return text, kept


def secrets_left_behind(stored: str, new: str, kept: Kept) -> list[dict[str, Any]]:
    """Kept secrets whose section's URL now points to another host: they must be retyped.

    Otherwise changing a URL while its key stays masked would send the stored password or
    API key to the new host (whoever controls it).
    """
    old_raw, new_raw = _lenient(stored), _lenient(new)
    problems = []
    for path, key in sorted(kept):
        before = _endpoint(_url_of(old_raw, path))
        after = _endpoint(_url_of(new_raw, path))
        if before is None or after is None or before == after:
            continue
        value = _current(old_raw, path, key)
        if not value:
            continue  # nothing stored: nothing to leak
        problems.append(
            {
                "field": field_id(path, key),
                "message": (
                    f"[{']['.join(path)}] {key}: URL now points to {after[0]}:{after[1]} (was "
                    f"{before[0]}:{before[1]}): type the {key} again; a stored secret is never "
                    "sent to a new host"
                ),
            }
        )
    return problems


def _lenient(text: str) -> ConfigObj:
    try:
        return ConfigObj(text.split("\n"), list_values=True, interpolation=False, _inspec=False)
    except Exception:  # noqa: BLE001 - unparsable text is reported by validation
        return ConfigObj()


def _url_of(raw: ConfigObj, path: tuple[str, ...]) -> str | None:
    value = _current(raw, path, "URL")
    if value is None and path == ("qBittorrent",):
        return qconfig.QBT_DEFAULT_URL
    return value if isinstance(value, str) else None


def _endpoint(url: str | None) -> tuple[str, int] | None:
    """(host, port) a URL connects to, or None when it has no host."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    return (parts.hostname.lower(), port) if parts.hostname else None


Check = Callable[[qconfig.Config], list[str]]
"""Extra problems of a valid config (the web UI's own: can it listen there?), as lines."""


def validate(text: str, config_path: Path, extra: Check | None = None) -> Outcome:
    """Validate ``text`` as config.ini: ``qbarr check``'s checks (``load(suite=True)``), then
    ``extra``. Problems name config.ini, and the form field when there is one."""
    try:
        loaded = qconfig.load(config_path, suite=True, text=text)
    except ConfigError as exc:
        return Outcome(text, "", problems=[_problem(line) for line in exc.problems])
    more = extra(loaded) if extra is not None else []
    if more:
        return Outcome(text, "", problems=[_problem(line) for line in more])
    return Outcome(text, "", config=loaded)


def _problem(message: str) -> dict[str, Any]:
    match = _PROBLEM.match(message)
    field_name = None
    if match:
        sections = match.group("sections")[1:-1].split("][")
        if match.group("key") and match.group("key") not in ("section", "has", "is", "needs"):
            field_name = field_id(sections, match.group("key"))
        elif match.group("key") not in ("needs",):
            field_name = field_id(sections[:-1], sections[-1])
    return {"field": field_name, "message": message}


def diff(stored: str, new: str) -> str:
    """A unified diff of the masked texts (a changed secret shows as ``(changed)``)."""
    before = initext.mask_text(stored).split("\n")
    after = initext.mask_text(new, reference=stored).split("\n")
    return "\n".join(
        difflib.unified_diff(before, after, "config.ini", "config.ini (new)", lineterm="")
    )


def prepare(
    config_path: Path,
    base: str | None,
    changes: list[Change] | None,
    text: str | None,
    extra: Check | None = None,
) -> Outcome:
    """Build and validate the new text; refuse when config.ini changed since ``base``."""
    stored = read_text(config_path)
    if base and base != digest(stored):
        raise EditRefused(
            [
                {
                    "field": None,
                    "message": "config.ini changed since this page was loaded: reload it",
                }
            ],
            status=409,
        )
    if text is not None:
        new, kept = text_from_raw(stored, text)
    else:
        new, kept = apply_changes(stored, changes or [])
    left_behind = secrets_left_behind(stored, new, kept)
    if left_behind:
        raise EditRefused(left_behind)
    outcome = validate(new, config_path, extra)
    outcome.diff = diff(stored, new)
    return outcome


@dataclass
class Saved:
    outcome: Outcome
    backup: Path | None
    old: qconfig.Config | None


def save_edit(
    config_path: Path,
    base: str | None,
    changes: list[Change] | None,
    text: str | None,
    extra: Check | None = None,
) -> Saved:
    """Validate and save an edit as one step under the config lock: concurrent saves from
    the same base give one success and 409 for the others; a refused edit writes nothing.

    Raises:
        EditRefused: 409 (config.ini changed since ``base``) or 422 (problems).
    """
    with config_lock(config_path):
        outcome = prepare(config_path, base, changes, text, extra)
        if outcome.problems:
            raise EditRefused(outcome.problems)
        if not outcome.diff:
            return Saved(outcome, None, None)
        try:
            old = qconfig.load(config_path)
        except ConfigError:
            old = None
        backup = _write(config_path, outcome.text)
    return Saved(outcome, backup, old)


@contextlib.contextmanager
def config_lock(config_path: Path) -> Iterator[None]:
    """An exclusive lock on ``.config.ini.lock`` beside config.ini (flock: between
    processes, and between threads of one process, which open the file separately)."""
    lock_path = config_path.with_name(f".{config_path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write(config_path: Path, text: str, now: float | None = None) -> Path | None:
    """Back up config.ini, then replace it atomically. Returns the backup (None: no old file)."""
    now = now if now is not None else time.time()
    backup = None
    if config_path.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        backup = config_path.with_name(f"{config_path.name}.bak-{stamp}")
        n = 1
        while backup.exists():
            backup = config_path.with_name(f"{config_path.name}.bak-{stamp}-{n}")
            n += 1
        fileio.write_atomic(backup, config_path.read_bytes())
    fileio.write_atomic(config_path, text)
    _prune_backups(config_path)
    return backup


def _prune_backups(config_path: Path) -> None:
    backups = sorted(
        config_path.parent.glob(f"{config_path.name}.bak-*"), key=lambda p: p.stat().st_mtime
    )
    for old in backups[:-BACKUPS_KEPT]:
        old.unlink(missing_ok=True)
