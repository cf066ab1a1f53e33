"""Typed errors of the Arr clients against a simulator with injected faults.

401 bad key, 404, 400, 5xx (with retries for GETs only), timeouts, refused
connections, an HTML login page, malformed JSON and redirects all become
ArrError subclasses with a clear message; the API key never appears in a
message, a repr, a chained cause or a log line.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest

from qbarr.arr import (
    ArrAuthError,
    ArrBadRequest,
    ArrError,
    ArrNotFound,
    ArrProtocolError,
    ArrUnavailable,
    make_client,
)
from qbarr.sim.arr.launch import SimProcess, free_port, start_sim
from tests.contract.test_arr_support import KEY

WRONG = "wrongKEY-9a8b7c6d5e4f3a2b1c0d"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = start_sim("radarr", api_key=KEY, library=50, url_base="/radarr")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def no_faults(sim: SimProcess) -> Iterator[None]:
    sim.control("DELETE", "/sim/faults")
    yield
    sim.control("DELETE", "/sim/faults")


def leaks(error: BaseException, *secrets: str) -> list[str]:
    """Every text a user could see from this error (message, repr, chained causes, traceback)."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    cause = error.__cause__
    while cause is not None:
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__
    return [s for s in secrets for text in texts if s in text]


def test_wrong_key_is_an_auth_error_that_names_the_url_not_the_key(
    sim: SimProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client("radarr", sim.url, WRONG, timeout=5) as client:
        with pytest.raises(ArrAuthError) as caught:
            client.system_status()
        assert f"wrong API key for {sim.url}" in str(caught.value)
        assert caught.value.status == 401
        assert not leaks(caught.value, WRONG)
        assert WRONG not in repr(client) and WRONG not in str(vars(client).get("url"))
        assert client.stats["errors"] == 1 and client.stats["calls"] == 1  # no retry on 401
    assert WRONG not in caplog.text and KEY not in caplog.text


def test_the_right_key_works_below_a_url_base(
    sim: SimProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client("radarr", sim.url + "/", KEY, timeout=5) as client:
        assert client.system_status()["urlBase"] == "/radarr"
        assert client.stats["calls"] == 1 and client.stats["bytes_in"] > 100
    assert KEY not in caplog.text


def test_not_found_and_bad_request(sim: SimProcess) -> None:
    with make_client("radarr", sim.url, KEY, timeout=5) as client:
        with pytest.raises(ArrNotFound, match="404"):
            client.get_command(987654)
        with pytest.raises(ArrNotFound):
            client.delete_queue(987654)
        with pytest.raises(ArrBadRequest, match="Unknown command"):
            client.command("NoSuchCommand")
        with pytest.raises(ArrBadRequest, match="movieIds"):
            client.command("MoviesSearch", movieIds="all of them")
        with (
            pytest.raises(ArrNotFound),  # wrong URL base: the API is not there
            make_client("radarr", sim.root + "/elsewhere", KEY, timeout=5) as other,
        ):
            other.system_status()


def test_server_errors_are_retried_for_gets_only(sim: SimProcess) -> None:
    with make_client("radarr", sim.url, KEY, timeout=5, retries=2, backoff=0.01) as client:
        sim.control(
            "POST", "/sim/faults", json={"error_rate": 1.0, "error_status": 503, "count": 2}
        )
        assert client.system_status()["appName"] == "Radarr"  # third attempt succeeds
        assert client.stats["calls"] == 3 and client.stats["errors"] == 0

        sim.control("POST", "/sim/faults", json={"error_rate": 1.0, "error_status": 500})
        with pytest.raises(ArrUnavailable, match="answered 500") as caught:
            client.queue()
        assert caught.value.status == 500
        calls = client.stats["calls"]
        with pytest.raises(ArrUnavailable):
            client.rss_sync()  # a POST is never retried
        assert client.stats["calls"] == calls + 1
        assert not leaks(caught.value, KEY)
    assert sim.control("GET", "/sim/faults")["injected"] >= 5


def test_timeouts_and_refused_connections_are_unavailable(sim: SimProcess) -> None:
    sim.control("POST", "/sim/faults", json={"latency": 1.5})
    with make_client("radarr", sim.url, KEY, timeout=0.3, retries=1, backoff=0.01) as client:
        with pytest.raises(
            ArrUnavailable, match="did not answer GET system/status within 0.3 s"
        ) as caught:
            client.system_status()
        assert not leaks(caught.value, KEY)
        assert client.stats["calls"] == 2
    sim.control("DELETE", "/sim/faults")
    closed = f"http://127.0.0.1:{free_port()}"
    with make_client("sonarr", closed, KEY, timeout=2, retries=1, backoff=0.01) as client:
        with pytest.raises(ArrUnavailable, match="unreachable") as caught:
            client.queue()
        assert closed in str(caught.value) and not leaks(caught.value, KEY)


def test_html_pages_and_malformed_json_are_protocol_errors(sim: SimProcess) -> None:
    with make_client("radarr", sim.url, KEY, timeout=5) as client:
        sim.control("POST", "/sim/faults", json={"html": True})
        with pytest.raises(ArrProtocolError, match="text/html, not JSON") as caught:
            client.wanted_missing()
        assert not leaks(caught.value, KEY)
        sim.control("POST", "/sim/faults", json={"html": False, "malformed": True})
        with pytest.raises(ArrProtocolError, match="malformed JSON") as caught:
            client.queue()
        assert not leaks(caught.value, KEY)
        sim.control(
            "POST", "/sim/faults", json={"malformed": False, "unauthorized": True, "path": "/queue"}
        )
        with pytest.raises(ArrAuthError):
            client.queue()
        assert client.system_status()["appName"] == "Radarr"  # the path filter spares others


def test_every_error_is_an_arr_error_with_the_same_base(sim: SimProcess) -> None:
    for cls in (ArrAuthError, ArrBadRequest, ArrNotFound, ArrProtocolError, ArrUnavailable):
        assert issubclass(cls, ArrError)
    sim.control("POST", "/sim/faults", json={"error_rate": 1.0, "error_status": 502})
    with (
        make_client("radarr", sim.url, KEY, timeout=5, retries=0) as client,
        pytest.raises(ArrError),
    ):
        client.tags()


def test_a_redirect_to_a_login_page_is_a_protocol_error(sim: SimProcess) -> None:
    """A reverse proxy that redirects to its login page (the Location may carry a token)."""
    sim.control("POST", "/sim/faults", json={"redirect": True})
    with make_client("radarr", sim.url, KEY, timeout=5) as client:
        with pytest.raises(ArrProtocolError, match="redirected GET system/status") as caught:
            client.system_status()
        assert "sso-abc123" not in str(caught.value) and not leaks(caught.value, KEY)
