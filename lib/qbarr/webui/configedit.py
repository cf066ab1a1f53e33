"""Viewing, validating, diffing and saving config.ini from the web UI.

An edit is either a list of field changes (the form) or a whole text (the raw editor).
Both become new file text by line-level patching (:mod:`qbarr.webui.initext`), so comments
and layout survive and the diff shows exactly what changes. The new text is validated by
:func:`qbarr.config.load` on a temp copy beside config.ini - the same configspec the
programs use - and only a clean result is saved: a backup ``config.ini.bak-<timestamp>``,
then write + fsync + ``os.replace``. A secret shown as the mask is kept as stored.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configobj import ConfigObj

from qbarr import config as qconfig
from qbarr import fileio
from qbarr.config import MASK, SECRET_KEYS, ConfigError
from qbarr.webui import initext

BACKUPS_KEPT = 10
_SAVE_LOCK = threading.Lock()
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
    for name in path:
        if not hasattr(node, "sections"):
            return {}
        node = node[name] if name in node.sections else node.get("__many__", {})
    return node


def _is_list(check: str) -> bool:
    return check.startswith(("string_list", "list", "force_list"))


def _default_of(check: str) -> str:
    match = re.search(r"default=(list\(.*\)|\"[^\"]*\"|[^,)]*)", check)
    if not match:
        return ""
    value = match.group(1)
    if value.startswith("list("):
        inner = value[5:-1]
        return ", ".join(x.strip().strip("\"'") for x in inner.split('", "')) if inner else ""
    return "" if value in ('""', "None") else value


def form(text: str) -> list[dict[str, Any]]:
    """The edit form: one entry per section present in the file, fields from the configspec
    (with defaults) plus any key present in the file; secret values are masked."""
    raw = ConfigObj(text.split("\n"), list_values=True, interpolation=False, _inspec=False)
    spec = _spec()
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
                    "default": "" if secret else _default_of(check),
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
                and path[0] not in qconfig.FIXED_SECTIONS
            ):
                child_names.append(name)
        for name in child_names:
            walk(node[name] if name in node.sections else ConfigObj(), (*path, name))

    for name in raw.sections:
        walk(raw[name], (name,))
    return sections


def apply_changes(stored: str, changes: list[Change]) -> str:
    """New text with each changed field patched; unchanged fields and masked secrets are skipped."""
    raw = ConfigObj(stored.split("\n"), list_values=True, interpolation=False, _inspec=False)
    spec = _spec()
    lines = stored.split("\n")
    problems = []
    for change in changes:
        current = _current(raw, change.path, change.key)
        secret = change.key.lower() in SECRET_KEYS
        if secret and change.value == MASK:
            continue
        shown = ", ".join(current) if isinstance(current, list) else current
        if change.value is None or (change.value == "" and not secret):
            if current is None:
                continue
            lines = initext.set_value(lines, change.path, change.key, None)
            continue
        if change.value == shown and not secret:
            continue
        if secret and change.value == current:
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
    if problems:
        raise EditRefused(problems)
    return "\n".join(lines)


def _current(raw: ConfigObj, path: tuple[str, ...], key: str) -> Any:
    node: Any = raw
    for name in path:
        if name not in getattr(node, "sections", []):
            return None
        node = node[name]
    return node.get(key)


def text_from_raw(stored: str, submitted: str) -> str:
    """The raw editor's text with masked secrets replaced by the stored ones."""
    submitted = submitted.replace("\r\n", "\n")
    text, orphans = initext.unmask_text(submitted, stored)
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
    return text


def validate(text: str, config_path: Path) -> Outcome:
    """Validate ``text`` as config.ini with the real loader on a temp copy beside the file."""
    config_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.ini.check-", dir=config_path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            loaded = qconfig.load(tmp)
        except ConfigError as exc:
            return Outcome(
                text, "", problems=[_problem(line, tmp, config_path) for line in exc.problems]
            )
        return Outcome(text, "", config=loaded)
    finally:
        os.unlink(tmp)


def _problem(line: str, tmp: str, real: Path) -> dict[str, Any]:
    message = line.replace(tmp, str(real))
    match = _PROBLEM.match(message)
    field_name = None
    if match:
        sections = match.group("sections")[1:-1].split("][")
        if match.group("key") and match.group("key") not in ("section", "has", "is"):
            field_name = field_id(sections, match.group("key"))
        else:
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
    config_path: Path, base: str | None, changes: list[Change] | None, text: str | None
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
    new = text_from_raw(stored, text) if text is not None else apply_changes(stored, changes or [])
    outcome = validate(new, config_path)
    outcome.diff = diff(stored, new)
    return outcome


def save(config_path: Path, text: str, now: float | None = None) -> Path | None:
    """Back up config.ini, then replace it atomically (write, fsync, rename). Returns the backup."""
    now = now if now is not None else time.time()
    with _SAVE_LOCK:
        backup = None
        if config_path.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
            backup = config_path.with_name(f"{config_path.name}.bak-{stamp}")
            n = 1
            while backup.exists():
                backup = config_path.with_name(f"{config_path.name}.bak-{stamp}-{n}")
                n += 1
            fileio.write_atomic(backup, config_path.read_bytes())
        fileio.write_atomic(config_path, text.encode("utf-8"))
        _prune_backups(config_path)
    return backup


def _prune_backups(config_path: Path) -> None:
    backups = sorted(
        config_path.parent.glob(f"{config_path.name}.bak-*"), key=lambda p: p.stat().st_mtime
    )
    for old in backups[:-BACKUPS_KEPT]:
        old.unlink(missing_ok=True)
