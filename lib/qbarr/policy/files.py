"""Which files of a torrent the exclusion settings reject (pure).

A file is excluded when one of its folders matches FolderExclusionRegex, its name matches
FileNameExclusionRegex, or its extension is not in the allowlist. The torrent's own root
folder (the first path component shared by every file) is never judged: it is the release
name, and a release called "Movie.Extras.Edition" must not lose every file to ``\\bextras?\\b``.
qBittorrent's ``.!qB`` suffix of incomplete files is stripped before matching.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qbarr.policy.settings import ALWAYS_ALLOWED, PARTIAL_SUFFIXES, PolicySettings


@dataclass(frozen=True)
class FileVerdict:
    index: int
    name: str
    priority: int
    why: str  # "" = wanted, else the reason it is excluded


def _strip_partial(name: str) -> str:
    lower = name.lower()
    for suffix in PARTIAL_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def judge_files(files: Sequence[Mapping[str, Any]], settings: PolicySettings) -> list[FileVerdict]:
    """One verdict per file, in file order."""
    parts = [str(f.get("name") or "").replace("\\", "/").split("/") for f in files]
    roots = {p[0] for p in parts if len(p) > 1}
    skip_root = len(roots) == 1 and all(len(p) > 1 for p in parts)
    allow = settings.allowlist
    out = []
    for position, (f, comps) in enumerate(zip(files, parts, strict=True)):
        folders = comps[1:-1] if skip_root else comps[:-1]
        base = _strip_partial(comps[-1])
        why = ""
        folder_re, name_re = settings.folder_re, settings.name_re
        bad_folder = next(
            (d for d in folders if folder_re is not None and folder_re.search(d)), None
        )
        if bad_folder is not None:
            why = f"folder {bad_folder!r} matches FolderExclusionRegex"
        elif name_re is not None and name_re.search(base):
            why = "name matches FileNameExclusionRegex"
        elif "*" not in allow and not base.lower().endswith(tuple(allow) + ALWAYS_ALLOWED):
            ext = base.rsplit(".", 1)[-1] if "." in base else ""
            why = f"extension {'.' + ext if ext else '(none)'} not in FileExtensionAllowlist"
        index = f.get("index", position)
        priority = f.get("priority", 1)
        out.append(
            FileVerdict(
                index=int(index) if isinstance(index, int) else position,
                name="/".join(comps),
                priority=int(priority) if isinstance(priority, int) else 1,
                why=why,
            )
        )
    return out


def digest(indexes: Sequence[int]) -> str:
    """A short stable id of a set of file indexes (part of the file_prio action key)."""
    text = ",".join(str(i) for i in sorted(indexes))
    return hashlib.sha1(text.encode()).hexdigest()[:12]
