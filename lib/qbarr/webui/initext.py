"""Line-level editing of config.ini text that keeps the user's comments and layout.

configobj can write a file back, but it re-indents and re-quotes everything, so the diff a
user sees before saving would be full of noise. Instead, an edit here replaces (or inserts,
or deletes) exactly the line of one key; everything else stays byte for byte. The section
tracking follows configobj's syntax: ``[A]``, ``[[B]]``, ``[[[C]]]`` nest by bracket count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from configobj import ConfigObj, ConfigObjError

from qbarr.config import MASK, SECRET_KEYS

_SECTION = re.compile(r"^(\s*)(\[+)\s*(.*?)\s*(\]+)\s*(#.*)?$")
_KEY = re.compile(r"^(\s*)([^#\[\s=][^=]*?)\s*=\s*(.*?)\s*$")


_SPLITS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines() breaks lines there too


class EditError(ValueError):
    """A value cannot be written as configobj syntax (e.g. a newline in it)."""


@dataclass(frozen=True)
class KeyLine:
    index: int
    path: tuple[str, ...]
    key: str
    indent: str
    value_text: str


def scan(
    lines: list[str],
) -> Iterator[tuple[int, tuple[str, ...], re.Match[str] | None, re.Match[str] | None]]:
    """Yield (index, section path at that line, section match, key match) for every line."""
    stack: list[str] = []
    for index, line in enumerate(lines):
        sec = _SECTION.match(line)
        if sec and len(sec.group(2)) == len(sec.group(4)):
            depth = len(sec.group(2))
            stack = stack[: depth - 1] + [sec.group(3)]
            yield index, tuple(stack), sec, None
            continue
        key = _KEY.match(line) if not line.lstrip().startswith("#") else None
        yield index, tuple(stack), None, key


def key_lines(lines: list[str]) -> list[KeyLine]:
    found = []
    for index, path, _sec, key in scan(lines):
        if key:
            found.append(KeyLine(index, path, key.group(2), key.group(1), key.group(3)))
    return found


def find_key(lines: list[str], path: tuple[str, ...], key: str) -> KeyLine | None:
    for line in key_lines(lines):
        if line.path == path and line.key == key:
            return line
    return None


def quote_value(value: str | list[str]) -> str:
    """A value in configobj syntax (quoted only when needed)."""
    for item in value if isinstance(value, list) else [value]:
        if "\n" in item or "\r" in item:
            raise EditError("cannot contain a line break")
        if any(ch in _SPLITS or (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in item):
            raise EditError("cannot contain control characters (only tab)")
    if isinstance(value, list):
        if not value:
            return ","
        try:
            parts = [ConfigObj(list_values=True)._quote(str(v), multiline=False) for v in value]
        except ConfigObjError as exc:
            raise EditError(f"cannot be written to config.ini: {exc}") from None
        return ", ".join(parts) + ("," if len(parts) == 1 else "")
    try:
        # multiline=True lets configobj use triple quotes for a value with both quote kinds
        return ConfigObj(list_values=True)._quote(value, multiline=not isinstance(value, list))
    except ConfigObjError as exc:
        raise EditError(f"cannot be written to config.ini: {exc}") from None


def parse_list(text: str) -> list[str] | str:
    """Parse text typed in a list field as configobj would read it in the file."""
    if "\n" in text:
        raise EditError("cannot contain a line break")
    try:
        return ConfigObj([f"k = {text}"], list_values=True, interpolation=False)["k"]
    except ConfigObjError:
        raise EditError(f"is not a valid list: {text!r}") from None


def _section_span(lines: list[str], path: tuple[str, ...]) -> tuple[int, int, int] | None:
    """(header index, index after the section's own keys, end of the whole section) or None."""
    header: int | None = None
    own_end = 0  # set with header
    for index, here, sec, key in scan(lines):
        if header is None:
            if sec and here == path:
                header, own_end = index, index + 1
            continue
        if sec and len(here) <= len(path):
            return header, own_end, index
        if key and here == path:
            own_end = index + 1
    if header is None:
        return None
    return header, own_end, len(lines)


def set_value(
    lines: list[str], path: tuple[str, ...], key: str, value_text: str | None
) -> list[str]:
    """Return new lines with ``key`` in section ``path`` set to ``value_text`` (configobj syntax).

    ``None`` deletes the key's line (back to the default). A missing key is inserted after
    the section's own keys; a missing section is created at the end of its parent.
    """
    out = list(lines)
    existing = find_key(out, path, key)
    if existing is not None:
        if value_text is None:
            del out[existing.index]
        else:
            out[existing.index] = f"{existing.indent}{key} = {value_text}"
        return out
    if value_text is None:
        return out
    span = _section_span(out, path)
    if span is None:
        out = _add_section(out, path)
        span = _section_span(out, path)
        assert span is not None
    header, own_end, _end = span
    indent = _indent_for(out, path, header)
    out.insert(own_end, f"{indent}{key} = {value_text}")
    return out


def _indent_for(lines: list[str], path: tuple[str, ...], header: int) -> str:
    for line in key_lines(lines):
        if line.path == path:
            return line.indent
    match = _SECTION.match(lines[header])
    base = match.group(1) if match else ""
    return base + ("    " if len(path) > 1 else "")


def _add_section(lines: list[str], path: tuple[str, ...]) -> list[str]:
    out = list(lines)
    if len(path) > 1 and _section_span(out, path[:-1]) is None:
        out = _add_section(out, path[:-1])
    brackets = len(path)
    indent = "    " * (brackets - 1)
    header = f"{indent}{'[' * brackets}{path[-1]}{']' * brackets}"
    if len(path) == 1:
        if out and out[-1].strip():
            out.append("")
        out.append(header)
        return out
    parent = _section_span(out, path[:-1])
    assert parent is not None
    out.insert(parent[2], header)
    return out


def mask_text(text: str, reference: str | None = None) -> str:
    """The text with every non-empty secret value replaced by the mask.

    With ``reference`` (the stored file), a secret whose value differs from the stored one
    is shown as ``******** (changed)`` so a diff tells that it changed without showing it.
    """
    lines = text.split("\n")
    stored = _secret_values(reference.split("\n")) if reference is not None else None
    for line in key_lines(lines):
        if line.key.lower() not in SECRET_KEYS or _unquote(line.value_text) == "":
            continue
        shown = MASK
        if stored is not None and stored.get((line.path, line.key)) != line.value_text:
            shown = f"{MASK} (changed)"
        lines[line.index] = f"{line.indent}{line.key} = {shown}"
    return "\n".join(lines)


def unmask_text(
    text: str, stored_text: str
) -> tuple[str, list[tuple[tuple[str, ...], str]], set[tuple[tuple[str, ...], str]]]:
    """Put the stored secrets back where the submitted text still has the mask.

    Returns the text, the (path, key) of masked secrets that have no stored value, and the
    (path, key) of the secrets that were put back (kept as stored).
    """
    lines = text.split("\n")
    stored = _secret_values(stored_text.split("\n"))
    orphans = []
    kept = set()
    for line in key_lines(lines):
        if line.key.lower() not in SECRET_KEYS or _unquote(line.value_text) != MASK:
            continue
        original = stored.get((line.path, line.key))
        if original is None:
            orphans.append((line.path, line.key))
            continue
        lines[line.index] = f"{line.indent}{line.key} = {original}"
        kept.add((line.path, line.key))
    return "\n".join(lines), orphans, kept


def _secret_values(lines: list[str]) -> dict[tuple[tuple[str, ...], str], str]:
    return {
        (line.path, line.key): line.value_text
        for line in key_lines(lines)
        if line.key.lower() in SECRET_KEYS
    }


def _unquote(value_text: str) -> str:
    text = value_text.split(" #", 1)[0].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text
