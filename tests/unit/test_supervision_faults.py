"""qbarr talks to supervisord without importing supervisor.xmlrpc (memory): the fault codes and
names it relies on must still be supervisor's."""

from __future__ import annotations

from supervisor.xmlrpc import Faults

from qbarr import supervision
from qbarr.webui import supervisor as webui_supervisor


def test_not_running_is_supervisors_code() -> None:
    assert supervision.NOT_RUNNING == Faults.NOT_RUNNING
    assert supervision.NO_FILE == Faults.NO_FILE


def test_fault_names_come_from_supervisor() -> None:
    assert supervision.fault_name(Faults.BAD_NAME) == "BAD_NAME"
    assert supervision.fault_name(12345) == "12345"
    assert supervision.SupervisorFault(Faults.SPAWN_ERROR, "x").name == "SPAWN_ERROR"


def test_webui_fault_table_names_exist() -> None:
    assert set(webui_supervisor._FAULT_CLASSES) <= set(vars(Faults))


def test_proxy_refuses_a_non_unix_url() -> None:
    try:
        supervision.proxy("http://127.0.0.1:9001")
    except supervision.SupervisorUnreachable as exc:
        assert "unix" in str(exc)
    else:
        raise AssertionError("an http:// supervisord URL was accepted")
