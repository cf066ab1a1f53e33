"""contrib/kubernetes/*.yaml and the Compose files, validated offline against their schemas.

The schemas come with the validators' PyPI packages (no network): the Kubernetes OpenAPI
JSON schemas shipped by ``kubernetes-validate`` (strict: an unknown field is an error), and
the Compose specification vendored by ``check-jsonschema`` (``vendor.compose-spec``). Beyond
the schemas, each program's container must be the one `qbarr run-program` runs, with the
probe `qbarr health` for that same program.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "contrib" / "kubernetes"
KUBE_VERSION = "1.30.0"  # the oldest Kubernetes release still supported upstream
COMPOSE_FILES = [ROOT / "contrib" / "compose-scaled.yml", ROOT / "docker-compose.yml"]


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((f"{path.name}:{doc['kind']}:{doc['metadata']['name']}", doc))
    return found


DOCS = documents()


def test_the_manifests_hold_a_deployment_per_program_a_service_and_the_secrets() -> None:
    kinds = sorted(doc["kind"] for _, doc in DOCS)
    assert kinds.count("Deployment") >= 2 and "Service" in kinds
    secrets = {doc["metadata"]["name"]: doc for _, doc in DOCS if doc["kind"] == "Secret"}
    assert secrets["qbarr-database"]["stringData"]["url"].startswith("postgresql://")
    assert "[qBittorrent]" in secrets["qbarr-config"]["stringData"]["config.ini"]


@pytest.mark.parametrize("doc", [d for _, d in DOCS], ids=[i for i, _ in DOCS])
def test_each_manifest_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    """The validator really checks: a misspelt field fails."""
    doc = next(d for _, d in DOCS if d["kind"] == "Deployment")
    broken = {**doc, "spec": {**doc["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("doc", [d for _, d in DOCS if d["kind"] == "Deployment"])
def test_each_deployment_runs_one_program_probed_by_its_own_health(doc: dict[str, Any]) -> None:
    spec = doc["spec"]
    assert spec["replicas"] == 1
    (container,) = spec["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:2] == ["qbarr", "run-program"]
    program = command[2]
    for probe in ("livenessProbe", "readinessProbe"):
        assert probe in container, f"{doc['metadata']['name']}: no {probe}"
        if program == "webui":
            assert container[probe]["httpGet"]["path"] == "/health"
        else:
            assert container[probe]["exec"]["command"] == ["qbarr", "health", program]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    # PostgreSQL is the only shared state: the data dir is the pod's own, config.ini comes
    # from the qbarr-config Secret (through the init container), the URL from qbarr-database
    assert mounts["data"] == "/config" and "emptyDir" in volumes["data"]
    assert volumes["config"]["secret"]["secretName"] == "qbarr-config"
    env = {e["name"]: e for e in container["env"]}
    assert env["QBARR_HOME"]["value"].startswith("/config/")
    ref = env["QBARR__SETTINGS__DATABASE"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("qbarr-database", "url")
    (init,) = spec["template"]["spec"]["initContainers"]
    assert env["QBARR_HOME"]["value"] + "/config.ini" in init["command"][-1]
    # a second copy during a rolling update waits for the lease (tests/system/
    # test_kubernetes_pod.py runs it), so the old pod may stay until the new one is up
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_scaled_runs_each_program_in_its_own_container() -> None:
    services = yaml.safe_load((ROOT / "contrib" / "compose-scaled.yml").read_text())["services"]
    programs = {name: s for name, s in services.items() if name.startswith("qbarr-")}
    assert "qbarr-webui" in programs and any(n.startswith("qbarr-arr-") for n in programs)
    for name, service in programs.items():
        program = name.removeprefix("qbarr-")
        assert service["entrypoint"] == ["qbarr", "run-program"] and service["command"] == [program]
        assert service["healthcheck"]["test"] == ["CMD", "qbarr", "health", program]


def test_compose_scaled_shares_one_postgresql_and_keeps_its_password_out_of_the_file() -> None:
    text = (ROOT / "contrib" / "compose-scaled.yml").read_text()
    services = yaml.safe_load(text)["services"]
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    for name, service in services.items():
        if name.startswith("qbarr-"):
            assert service["env_file"] == ["./qbarr-database.env"], name
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
    assert "postgresql://" not in "".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    )


def test_the_web_ui_pod_does_not_save_config_ini() -> None:
    """Each pod holds its own copy of the qbarr-config Secret: a save would be lost."""
    (web,) = [
        d for _, d in DOCS if d["metadata"]["name"] == "qbarr-webui" and d["kind"] == "Deployment"
    ]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["QBARR__WEBUI__CONFIGEDITABLE"] == "false"
