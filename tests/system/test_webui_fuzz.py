"""Schemathesis against /api/openapi.json, in-process over WSGI, with a real supervisord
behind the app (so program routes answer for real).

Strict and complete: every operation of the document; schema-valid and schema-violating
data (mode "all": positive and negative); the examples, coverage and fuzzing phases, then a
stateful run along the document's links; every built-in check. Bounded and repeatable: at
most 25 examples per operation and phase, a fixed seed (derandomized), no state kept
between runs; about a minute and a half.

Two expectations are widened, each for a documented reason (nothing is switched off):
- a config edit can fit the schema and still not be a valid config.ini (422), conflict
  with a newer file (409) or lack its base (428): those count as accepted;
- a body over the size limit is refused with 413 (Content Too Large): a rejection.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.support import webui_supervisord
from tests.support.webui_client import BEARER, build

pytestmark = pytest.mark.system

MAX_EXAMPLES = 25
SEED = 20240501

CONFIG = f"""
seed = {SEED}

[cache]
enabled = false  # every run starts from nothing: repeatable

[generation]
mode = "all"
deterministic = true
max-examples = {MAX_EXAMPLES}

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = true

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]

[[operations]]
include-path-regex = "^/api/config"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409",
                                                     "422", "428"]
"""


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    app, home = build(root, supervisor_url=f"unix://{root}/run/supervisor.sock")
    suite = webui_supervisord.start(home, managers=("radarr-main",))
    try:
        yield app
    finally:
        suite.stop()


@pytest.fixture(scope="module")
def api_schema(api_app):
    config = SchemathesisConfig.from_str(CONFIG)
    return schemathesis.openapi.from_wsgi("/api/openapi.json", api_app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_fuzz(case):
    case.call_and_validate(headers=BEARER)


def test_api_stateful(api_schema):
    machine = api_schema.as_state_machine()
    machine.run(
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )
