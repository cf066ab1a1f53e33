"""Checks of config.ini that a configspec cannot express (several keys together).

:func:`qbarr.config.load` runs them after the configspec validation and reports their lines
with every other problem, each naming the file, section and key:

- ``[[Search]]``: a request source (Overseerr, Ombi) enabled without a URL or API key, or
  enabled on a Lidarr instance (requests are for Radarr and Sonarr); ``UseTempForMissing``
  without a profile mapping, or with ``SearchMissing = false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

REQUEST_SOURCES = ("Overseerr", "Ombi")


def where(path: Path | str, sections: list[str], key: str | None = None) -> str:
    """``config.ini: [Radarr-4K][Search] SearchLimit``: how every problem line starts."""
    place = f"{path}: [{']['.join(sections)}]" if sections else f"{path}:"
    return f"{place} {key}" if key else place


def search_problems(
    path: Path | str, name: str, kind: str, section: Mapping[str, Any]
) -> list[str]:
    """Cross-field checks of one instance's ``[[Search]]``; one clear line per problem."""
    search = section.get("Search")
    if not isinstance(search, Mapping):
        return []
    problems: list[str] = _temp_profile_problems(path, name, search)
    for source in REQUEST_SOURCES:
        sec = search.get(source)
        if not isinstance(sec, Mapping) or sec.get("Enabled") is not True:
            continue  # not enabled (or not a boolean: configspec reports that one)
        problems += _request_problems(path, [name, "Search", source], kind, source, sec)
    return problems


def _temp_profile_problems(path: Path | str, name: str, search: Mapping[str, Any]) -> list[str]:
    if search.get("UseTempForMissing") is not True:
        return []
    problems = []
    at = where(path, [name, "Search"], "UseTempForMissing")
    mappings = search.get("QualityProfileMappings")
    if not isinstance(mappings, Mapping) or not any(
        str(k).strip() and str(v).strip() for k, v in mappings.items() if not isinstance(v, Mapping)
    ):
        problems.append(
            f"{at} = true needs at least one line in [{name}][Search][QualityProfileMappings] "
            "(Main profile = Temp profile)"
        )
    if search.get("SearchMissing") is False:
        problems.append(
            f"{at} = true is invalid with SearchMissing = false: "
            "the temporary profile is for missing items"
        )
    return problems


def _request_problems(
    path: Path | str, sections: list[str], kind: str, source: str, sec: Mapping[str, Any]
) -> list[str]:
    problems = []
    url = str(sec.get("URL", "") or "").strip()
    if kind not in ("radarr", "sonarr"):
        problems.append(
            f"{where(path, sections, 'Enabled')} = true is invalid: {source} requests are for "
            f"Radarr and Sonarr instances only (this one is {kind})"
        )
    if not url:
        problems.append(
            f"{where(path, sections, 'URL')} is empty: {source} is enabled, so set its address "
            f"(e.g. http://127.0.0.1:{5055 if source == 'Overseerr' else 3579}) "
            "or set Enabled = false"
        )
    elif not url.lower().startswith(("http://", "https://")):
        problems.append(
            f"{where(path, sections, 'URL')} = {url!r} is invalid: "
            "expected an http:// or https:// address"
        )
    if not str(sec.get("APIKey", "") or "").strip():
        problems.append(
            f"{where(path, sections, 'APIKey')} is empty: {source} is enabled, so set its API key "
            f"(Settings > General in {source}) or set Enabled = false"
        )
    return problems
