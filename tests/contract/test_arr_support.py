"""Fixtures and helpers shared by the Arr contract tests (plus tests of the helpers).

- `qbt_server`: a real qbittorrent-nox started with the project's launcher (qbarr.qbittorrent.nox)
  (the qBittorrent side of every Arr simulator in these tests).
- `Exchanges`: records every request/response of an ArrClient (httpx event
  hook) and validates them against the published OpenAPI documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from qbarr.arr import ArrClient
from qbarr.qbittorrent.nox import Nox
from qbarr.qbittorrent.nox import binary as nox_binary
from tests.conftest import skip_missing_tool
from tests.support.arr_contract import ContractError, contract

KEY = "simKEY-5f1c0d9e7a3b4c2d8e6f"  # distinctive, so a leak is easy to find
QBT_USER, QBT_PASS = "arrsim", "arrsim-pass"


@dataclass
class QbtServer:
    url: str
    username: str
    password: str
    profile: Path
    info: dict[str, Any]
    nox: Nox


def start_qbt(profile: Path) -> QbtServer:
    if nox_binary() is None:
        skip_missing_tool("qbittorrent-nox", "apt-get install qbittorrent-nox")
    nox = Nox(profile, QBT_USER, QBT_PASS, refresh_ms=200).start()
    return QbtServer(nox.url, QBT_USER, QBT_PASS, profile, nox.info(), nox)


def stop_qbt(server: QbtServer) -> None:
    server.nox.stop()


@pytest.fixture(scope="module")
def qbt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QbtServer]:
    server = start_qbt(tmp_path_factory.mktemp("qbt"))
    try:
        yield server
    finally:
        stop_qbt(server)


class Exchanges:
    """Every request an ArrClient sent and every answer it got, for contract checks."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: list[tuple[str, str, Any, int, bytes, str]] = []

    def attach(self, client: ArrClient) -> ArrClient:
        client._http.event_hooks["response"].append(self._hook)
        return client

    def _hook(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        body = json.loads(request.content) if request.content else None
        self.items.append(
            (
                request.method,
                str(request.url),
                body,
                response.status_code,
                response.content,
                response.headers.get("content-type", ""),
            )
        )

    def operations(self) -> set[str]:
        checker = contract(self.kind)
        out = set()
        for method, url, *_ in self.items:
            path = httpx.URL(url).path
            out.add(f"{method} {checker.operation(method, path[path.index('/api/') :]).template}")
        return out

    def validate(self) -> int:
        """Check every recorded exchange; returns how many were checked."""
        checker = contract(self.kind)
        for method, url, body, status, content, ctype in self.items:
            checker.check_request(method, url, body)
            if 200 <= status < 300:
                if content.strip():
                    assert "application/json" in ctype, (method, url, ctype)
                data = json.loads(content) if content.strip() else None
                checker.check_response(method, url, 200 if status == 201 else status, data)
        return len(self.items)


# -- tests of the helpers themselves ----------------------------------------------


def test_contract_checker_rejects_what_the_documents_do_not_allow() -> None:
    checker = contract("sonarr")
    with pytest.raises(ContractError, match="undeclared query parameter"):
        checker.check_request("GET", "http://h/api/v3/queue?includeUnknownMovieItems=true")
    with pytest.raises(ContractError, match="not a documented operation"):
        checker.check_request("GET", "http://h/api/v3/nothing-here")
    with pytest.raises(ContractError):  # Radarr's state name is not Lidarr's
        contract("lidarr").check_response(
            "GET",
            "http://h/api/v1/queue",
            200,
            {"records": [{"id": 1, "trackedDownloadState": "failedPending"}]},
        )
    with pytest.raises(ContractError, match="Additional properties"):
        checker.check_response(
            "GET", "http://h/api/v3/system/status", 200, {"appName": "x", "bogus": 1}
        )
    with pytest.raises(ContractError):  # an unknown field in a command body is still refused
        checker.check_request(
            "POST", "http://h/api/v3/command", {"name": "EpisodeSearch", "bogus": 1}
        )
    checker.check_request(
        "POST",
        "http://h/api/v3/command",
        {
            "name": "DownloadedEpisodesScan",
            "path": "/d",
            "downloadClientId": "A" * 40,
            "importMode": "Auto",
        },
    )
    with pytest.raises(ContractError, match="downloadClientId"):  # must be the UPPER-case hash
        checker.check_request(
            "POST",
            "http://h/api/v3/command",
            {"name": "DownloadedEpisodesScan", "path": "/d", "downloadClientId": "a" * 40},
        )
