"""Failure mapping over real sockets: refused port, a server that never answers,
5xx (retried for GETs only), malformed JSON. Every failure is a typed QbtError whose
message names the API path and never the credentials."""

from __future__ import annotations

import socket
import threading

import pytest

from qbarr.qbittorrent import QbtClient, QbtError, QbtProtocolError, QbtUnavailable
from qbarr.sim.qbittorrent import SimConfig, serve_in_thread
from tests.conftest import free_port

PASSWORD = "very-secret-password"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim():
    server = serve_in_thread(SimConfig(username="u", password=PASSWORD, refresh_ms=20))
    try:
        yield server
    finally:
        server.stop()


def no_secret(exc: BaseException) -> None:
    assert PASSWORD not in str(exc) and PASSWORD not in repr(exc.args)


def test_refused_port_is_unavailable_after_bounded_retries() -> None:
    port = free_port()  # nothing listens there
    with QbtClient(f"http://127.0.0.1:{port}", "u", PASSWORD, retries=2, backoff=0.01) as c:
        with pytest.raises(QbtUnavailable) as exc:
            c.transfer_info()
        assert "cannot connect" in str(exc.value) and "transfer/info" in str(exc.value)
        no_secret(exc.value)
        with pytest.raises(QbtUnavailable):
            c.torrents_info()
    assert c.stats["retries"] == 4 and c.stats["errors"] == 2


def test_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:  # accept and then say nothing, ever
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with (
            QbtClient(url, "u", PASSWORD, timeout=0.3, retries=1, backoff=0.01) as c,
            pytest.raises(QbtUnavailable) as exc,
        ):
            c.version()
        assert "did not answer" in str(exc.value) and "0.3 s" in str(exc.value)
        no_secret(exc.value)
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_latency_beyond_the_timeout(sim) -> None:  # type: ignore[no-untyped-def]
    with QbtClient(sim.url, "u", PASSWORD, timeout=0.3, retries=0) as c:
        c.login()
        sim.faults.update({"hang": 1.0, "path": "sync/maindata"})
        with pytest.raises(QbtUnavailable) as exc:
            c.sync()
        assert "sync/maindata" in str(exc.value)
        sim.faults.reset()
        assert c.sync().full_update


def test_5xx_retried_for_gets_only(sim) -> None:  # type: ignore[no-untyped-def]
    with QbtClient(sim.url, "u", PASSWORD, retries=2, backoff=0.01) as c:
        c.login()
        sim.faults.update({"error_next": 2, "error_status": 503})
        assert c.sync().full_update  # two 503s, then success
        assert c.stats["retries"] == 2
        sim.faults.update({"error_next": 3, "error_status": 502})
        with pytest.raises(QbtUnavailable) as exc:
            c.transfer_info()
        assert exc.value.status == 502 and "transfer/info" in str(exc.value)
        sim.faults.update({"error_next": 1, "error_status": 500})
        with pytest.raises(QbtUnavailable) as post:
            c.recheck(["0" * 40])  # a POST is never repeated
        assert post.value.status == 500 and sim.faults.view()["error_next"] == 0
        no_secret(post.value)


def test_malformed_json_is_a_protocol_error(sim) -> None:  # type: ignore[no-untyped-def]
    with QbtClient(sim.url, "u", PASSWORD) as c:
        snap = c.sync()
        rid = snap.rid
        sim.faults.update({"malformed_next": 1})
        with pytest.raises(QbtProtocolError) as exc:
            c.sync()
        assert "malformed JSON" in str(exc.value) and "sync/maindata" in str(exc.value)
        assert snap.rid == rid  # the snapshot is untouched
        assert c.sync().rid == rid + 1
        sim.faults.update({"malformed_next": 1})
        with pytest.raises(QbtProtocolError):
            c.torrents_info()
        assert isinstance(exc.value, QbtError)
        assert c.stats["errors"] == 2


def test_login_server_errors_are_unavailable_not_auth(sim) -> None:  # type: ignore[no-untyped-def]
    sim.faults.update({"error_next": 1, "path": "auth/login"})
    with QbtClient(sim.url, "u", PASSWORD) as c:
        with pytest.raises(QbtUnavailable) as exc:
            c.login()
        no_secret(exc.value)
        c.login()
        assert c.stats["logins"] == 2
