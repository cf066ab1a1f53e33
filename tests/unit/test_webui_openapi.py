"""The OpenAPI document is honest: it lists exactly the app's API routes and it is a valid
OpenAPI 3 document (the Schemathesis run is tests/system/test_webui_fuzz.py)."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from tests.support.webui_client import build, client


def bottle_to_openapi(path: str) -> str:
    return re.sub(r"<([^:>]+)(:[^>]*)?>", r"{\1}", path)


def test_every_route_is_documented_and_every_documented_route_exists(tmp_path):
    app, _home = build(tmp_path, seed=False)
    doc = client(app).get("/api/openapi.json").json()
    validate(doc)
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (r.method, bottle_to_openapi(r.rule))
        for r in app.routes
        if r.rule.startswith(("/api/", "/metrics", "/health"))
    }
    assert served == documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "200" in op["responses"], (method, path)
            if path not in ("/health", "/api/openapi.json", "/api/session"):
                assert "401" in op["responses"], (method, path)
