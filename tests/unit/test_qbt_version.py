"""Version parsing and the switches the client derives from the WebAPI version."""

from __future__ import annotations

import pytest

from qbarr.qbittorrent import QbtProtocolError, QbtVersion, states
from qbarr.qbittorrent.version import parse_webapi


@pytest.mark.parametrize(
    "text, v5, inactive, action, json_add",
    [
        ("2.8.19", False, False, False, False),  # 4.5.2
        ("2.9.3", False, True, False, False),  # 4.6.7
        ("2.11.2", True, True, False, False),  # 5.0
        ("2.11.4", True, True, False, False),  # 5.1
        ("2.15.1", True, True, True, True),  # 5.2
    ],
)
def test_switches(text: str, v5: bool, inactive: bool, action: bool, json_add: bool) -> None:
    v = QbtVersion(app="vX", webapi=parse_webapi(text + "\n"))
    assert (
        v.v5,
        v.needs_inactive_seeding_limit,
        v.needs_share_limit_action,
        v.json_add_result,
    ) == (v5, inactive, action, json_add)
    assert str(v) == f"vX (WebAPI {text})"


def test_the_version_text_names_the_product_once() -> None:
    """Callers write "qBittorrent %s": the text itself must not say qBittorrent again."""
    v = QbtVersion(app="v4.5.2", webapi=(2, 8, 19))
    assert f"connected: qBittorrent {v}" == "connected: qBittorrent v4.5.2 (WebAPI 2.8.19)"


@pytest.mark.parametrize("text", ["", "abc", "2", "2.x.1", "<html>"])
def test_bad_version_text(text: str) -> None:
    with pytest.raises(QbtProtocolError):
        parse_webapi(text)


def test_state_groups_cover_both_spellings() -> None:
    assert {"pausedUP", "stoppedUP"} <= states.COMPLETE and "stoppedDL" in states.DOWNLOADING
    assert states.STOPPED == states.STOPPED_UP | states.STOPPED_DL
    assert "forcedMetaDL" in states.METADATA and "missingFiles" in states.ERRORED
