"""Shared test fixtures: free ports, the shared tools folder, data dirs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# ../shared/tools beside the project (CI lays shared/ beside the clone); QBT_TOOLS overrides.
SHARED_TOOLS = Path(os.environ.get("QBT_TOOLS", REPO.parent / "shared" / "tools"))
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()
