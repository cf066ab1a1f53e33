"""Check Arr requests and responses against the published OpenAPI documents.

Used by the contract tests (and usable by benchmarks) to prove that what the
clients send and what the simulators answer is what Radarr v3, Sonarr v3 and
Lidarr v1 document: operation and path, query parameter names and types,
request bodies and response bodies (OpenAPI 3.0 schemas with `nullable`,
`$ref`, `additionalProperties: false`, formats).

One documented relaxation: the published `CommandResource`/`Command` schemas
describe only the abstract command base class (`additionalProperties:
false`), while every real Arr takes and returns the concrete command's
fields (`movieIds`, `path`, `downloadClientId`, ...) at the top of the POST
body and inside `body`. Those known command fields are checked against
COMMAND_FIELDS below and removed before the rest is checked against the
document, so anything else that is not documented still fails.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SPEC_FILES = {"radarr": "radarr-v3.json", "sonarr": "sonarr-v3.json", "lidarr": "lidarr-v1.json"}

_INT_LIST = {"type": "array", "items": {"type": "integer", "format": "int32"}}
COMMAND_FIELDS: dict[str, dict[str, Any]] = {
    "movieIds": _INT_LIST,
    "episodeIds": _INT_LIST,
    "albumIds": _INT_LIST,
    "seriesId": {"type": "integer", "format": "int32"},
    "seasonNumber": {"type": "integer", "format": "int32"},
    "artistId": {"type": "integer", "format": "int32"},
    "monitored": {"type": "boolean"},
    "path": {"type": "string"},
    "downloadClientId": {"type": "string", "pattern": "^[0-9A-F]{40}$"},
    "importMode": {"type": "string", "enum": ["Auto", "Move", "Copy"]},
}


class ContractError(AssertionError):
    """A request or response that the OpenAPI document does not allow."""


# The published OpenAPI documents, kept in the repository as test data (see specs/README.md).
SPECS_DIR = Path(__file__).resolve().parent.parent / "contract" / "specs"


def specs_dir() -> Path:
    return SPECS_DIR


@cache
def load_spec(kind: str) -> dict[str, Any]:
    return json.loads((specs_dir() / SPEC_FILES[kind]).read_text())


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]


class ArrContract:
    """Validator for one Arr kind's OpenAPI document."""

    def __init__(self, kind: str) -> None:
        from openapi_schema_validator import (
            OAS30ReadValidator,
            OAS30WriteValidator,
            oas30_format_checker,
        )
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.kind = kind
        self.spec = load_spec(kind)
        uri = f"urn:qbarr:{kind}"
        self._uri = uri
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self._registry = Registry().with_resource(uri, resource)
        self._read_cls = OAS30ReadValidator
        self._write_cls = OAS30WriteValidator
        self._formats = oas30_format_checker
        self._routes = self._compile_routes()

    # -- lookup ------------------------------------------------------------

    def _compile_routes(self) -> list[tuple[re.Pattern[str], str, int]]:
        routes = []
        for template in self.spec["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
            routes.append((re.compile(pattern), template, template.count("{")))
        routes.sort(key=lambda r: r[2])  # literal paths win over templated ones
        return routes

    def operation(self, method: str, path: str) -> Operation:
        """The documented operation for an API path such as /api/v3/queue/12."""
        for pattern, template, _ in self._routes:
            if pattern.match(path):
                ops = self.spec["paths"][template]
                if method.lower() in ops:
                    return Operation(template, method.upper(), ops[method.lower()])
        raise ContractError(f"{self.kind}: {method} {path} is not a documented operation")

    # -- schema checks -------------------------------------------------------

    def check(
        self, schema: dict[str, Any], instance: Any, what: str, *, write: bool = False
    ) -> None:
        """Validate instance against a schema fragment of this document."""
        cls = self._write_cls if write else self._read_cls
        validator = cls(
            _anchor(schema, self._uri), registry=self._registry, format_checker=self._formats
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            raise ContractError(
                f"{self.kind} {what}: {where}: {first.message} ({len(errors)} error(s))"
            )

    def schema_ref(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def check_request(
        self, method: str, url: str, body: Any = None, *, api_prefix_at: str = "/api/"
    ) -> Operation:
        """Validate a request's operation, query parameters and JSON body."""
        parts = urlsplit(url)
        path = (
            parts.path[parts.path.index(api_prefix_at) :]
            if api_prefix_at in parts.path
            else parts.path
        )
        op = self.operation(method, path)
        declared = {p["name"]: p for p in op.spec.get("parameters", []) if p.get("in") == "query"}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name not in declared:
                raise ContractError(
                    f"{self.kind} {method} {op.template}: undeclared query parameter {name!r}"
                )
            schema = declared[name].get("schema", {})
            self.check(
                schema, _coerce(self._resolve(schema), value), f"{method} {op.template} ?{name}"
            )
        content = op.spec.get("requestBody", {}).get("content", {})
        if body is not None:
            schema = (content.get("application/json") or {}).get("schema")
            if schema is None:
                raise ContractError(f"{self.kind} {method} {op.template}: no JSON body documented")
            if schema == self.schema_ref("CommandResource"):
                body = self._split_command(body, f"{method} {op.template} body")
            self.check(schema, body, f"{method} {op.template} request body", write=True)
        return op

    def check_response(self, method: str, url: str, status: int, body: Any) -> Operation:
        """Validate a JSON response body against the documented 2xx response."""
        parts = urlsplit(url)
        path = parts.path[parts.path.index("/api/") :] if "/api/" in parts.path else parts.path
        op = self.operation(method, path)
        responses = op.spec.get("responses", {})
        documented = responses.get(str(status)) or responses.get("200") or responses.get("default")
        if documented is None:
            raise ContractError(f"{self.kind} {method} {op.template}: status {status} undocumented")
        content = documented.get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None:
            if body not in (None, b"", ""):
                raise ContractError(
                    f"{self.kind} {method} {op.template}: body where none is documented"
                )
            return op
        body = self._strip_commands(schema, body, f"{method} {op.template}")
        self.check(schema, body, f"{method} {op.template} response")
        return op

    # -- helpers -----------------------------------------------------------

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if ref and ref.startswith("#/components/schemas/"):
            return self.spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return schema

    def _split_command(self, payload: Any, what: str) -> Any:
        """Check and remove the concrete command fields (see the module docstring)."""
        if not isinstance(payload, dict):
            return payload
        payload = dict(payload)
        for name in list(payload):
            if name in COMMAND_FIELDS:
                self.check(COMMAND_FIELDS[name], payload.pop(name), f"{what} .{name}")
        return payload

    def _strip_commands(self, schema: dict[str, Any], body: Any, what: str) -> Any:
        ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
        if ref != "#/components/schemas/CommandResource":
            return body
        body = copy.deepcopy(body)
        for resource in body if isinstance(body, list) else [body]:
            if isinstance(resource, dict) and isinstance(resource.get("body"), dict):
                resource["body"] = self._split_command(resource["body"], f"{what} body")
        return body


def _anchor(schema: dict[str, Any], uri: str) -> dict[str, Any]:
    """Make local '#/...' refs of a fragment resolve inside the whole document."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    f"{uri}{v}"
                    if k == "$ref" and isinstance(v, str) and v.startswith("#")
                    else walk(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _coerce(schema: dict[str, Any], value: str) -> Any:
    """A query string value as the JSON type its schema declares."""
    typ = schema.get("type")
    try:
        if typ == "integer":
            return int(value)
        if typ == "number":
            return float(value)
    except ValueError:
        return value
    if typ == "boolean":
        return {"true": True, "false": False}.get(value.lower(), value)
    if typ == "array":
        items = schema.get("items", {})
        return [_coerce(items, v) for v in value.split(",")] if value else []
    return value


@cache
def contract(kind: str) -> ArrContract:
    """The shared validator for one kind (building one compiles ~160 routes)."""
    return ArrContract(kind)
