"""The Kubernetes manifests' pod shape, run here: what contrib/kubernetes says a pod does.

Each pod of contrib/kubernetes starts with an empty data dir (an emptyDir), gets config.ini
from a Secret through its init container, and the database URL from another Secret as
QBARR__SETTINGS__DATABASE. This test takes those commands and that environment from the
manifests themselves (paths moved into a temp dir, the Secrets' values pointed at the
simulators and a throwaway PostgreSQL) and checks that the manager pod becomes healthy by its
own probe, that a second pod of the same instance waits for the lease while the probe stays
green, and that both stop on SIGTERM; and that the web UI pod answers /health.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import free_port
from tests.support.waiting import wait_for
from tests.system.conftest import TEST_PASSWORD
from tests.system.manager_helpers import ARR_KEY, world

pytestmark = pytest.mark.system

KUBE = Path(__file__).resolve().parents[2] / "contrib" / "kubernetes"
CATEGORY = "radarr"


def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in KUBE.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def secret_config(docs: dict[str, dict[str, Any]], qbt_url: str, arr_url: str, port: int) -> str:
    """The qbarr-config Secret's config.ini, its placeholders filled in for this machine."""
    text = docs["Secret/qbarr-config"]["stringData"]["config.ini"]
    text = text.replace("http://qbittorrent:8080", qbt_url).replace("http://radarr:7878", arr_url)
    text = re.sub(r"Password = CHANGE_ME", f"Password = {TEST_PASSWORD}", text)
    text = re.sub(r"APIKey = CHANGE_ME", f"APIKey = {ARR_KEY}", text)
    text = text.replace("Host = 0.0.0.0", f"Host = 127.0.0.1\nPort = {port}")
    return text + "\n[Settings]\nLeaseTimeout = 3s\n"


class Pod:
    """One pod of a Deployment: its emptyDir under ``root``, its init container run, then its
    container's command with the manifest's environment."""

    def __init__(self, deployment: dict[str, Any], root: Path, secret_dir: Path, db_url: str):
        spec = deployment["spec"]["template"]["spec"]
        self.root = root
        self.data = root / "config"  # the emptyDir mounted at /config
        self.data.mkdir(parents=True)
        self.secret_dir = secret_dir
        (init,) = spec["initContainers"]
        subprocess.run(
            [self.path(part) for part in init["command"]], check=True, timeout=30
        )  # mkdir + cp + chmod, as in the pod
        (self.container,) = spec["containers"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("QBARR", "SUPER"))}
        for item in self.container["env"]:
            if "value" in item:
                self.env[item["name"]] = self.path(str(item["value"]))
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                assert (ref["name"], ref["key"]) == ("qbarr-database", "url")
                self.env[item["name"]] = db_url
        self.env.pop("QBARR__WEBUI__HOST", None)  # 0.0.0.0 in a pod; 127.0.0.1 here
        self.log = root / "pod.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def path(self, text: str) -> str:
        """The pod's absolute mount paths (/config, /secret) moved to this test's dirs."""
        mounts = {"config": str(self.data), "secret": str(self.secret_dir)}
        return re.sub(r"(?<![\w.])/(config|secret)(?=/|\s|$)", lambda m: mounts[m[1]], text)

    def cli(self, command: list[str]) -> list[str]:
        assert command[0] == "qbarr"
        return [sys.executable, "-m", "qbarr_programs.cli", *command[1:]]

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cli(self.container["command"]),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    def probe(self, kind: str = "livenessProbe") -> bool:
        command = self.container[kind]["exec"]["command"]
        return (
            subprocess.run(
                self.cli(command), env=self.env, capture_output=True, timeout=60
            ).returncode
            == 0
        )

    def says(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            return None


def test_a_manager_pod_and_its_surge_copy_run_as_the_manifests_say(
    tmp_path: Path, pg_cluster: Any
) -> None:
    docs = manifests()
    db_url = pg_cluster.create_database("kubepod")
    with world(tmp_path, [CATEGORY]) as (qbt, arrs):
        secret_dir = tmp_path / "secret"
        secret_dir.mkdir()
        (secret_dir / "config.ini").write_text(
            secret_config(docs, qbt.url, arrs[CATEGORY].url, free_port())
        )
        deployment = docs["Deployment/qbarr-arr-radarr-main"]
        first = Pod(deployment, tmp_path / "pod-a", secret_dir, db_url)
        home = Path(first.env["QBARR_HOME"])
        assert (home / "config.ini").stat().st_mode & 0o777 == 0o600  # the init container's copy
        assert not first.probe()  # nothing has beaten yet
        second = None
        try:
            first.start()
            wait_for(first.probe, 60, 0.5, "the first pod healthy by its own probe")
            wait_for(lambda: first.says("holds the lease"), 30, 0.2, "the first pod's lease")
            # a rolling update's surge: a second pod of the same instance, its own emptyDir
            second = Pod(deployment, tmp_path / "pod-b", secret_dir, db_url)
            second.start()
            wait_for(
                lambda: second.says("waiting for its lease"), 60, 0.2, "the second pod waiting"
            )
            assert second.proc is not None and second.proc.poll() is None  # waits, not exits
            assert second.probe()  # the holder's heartbeat: the instance is alive
            assert first.stop() == 0  # SIGTERM: the old pod stops and hands the lease over
            wait_for(lambda: second.says("holds the lease"), 60, 0.2, "the second pod taking over")
            assert second.stop() == 0
            for pod in (first, second):
                assert "Traceback" not in pod.log.read_text(errors="replace")
        finally:
            for pod in (first, second):
                if pod is not None:
                    pod.stop()


def test_the_web_ui_pod_answers_health(tmp_path: Path, pg_cluster: Any) -> None:
    docs = manifests()
    db_url = pg_cluster.create_database("kubewebui")
    port = free_port()
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / "config.ini").write_text(
        secret_config(docs, "http://127.0.0.1:9", "http://127.0.0.1:9", port)
    )
    pod = Pod(docs["Deployment/qbarr-webui"], tmp_path / "pod", secret_dir, db_url)
    probe = pod.container["livenessProbe"]["httpGet"]
    try:
        pod.start()

        def healthy() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{port}{probe['path']}", timeout=2).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, 0.3, "the web UI pod's /health")
        # a save would change only this pod's copy of config.ini: the manifest turns it off
        token = re.search(r"^Token = (\S+)$", secret_config(docs, "", "", port), re.M)
        assert token
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=10,
        ) as web:
            view = web.get("/api/config").json()
            assert view["editable"] is False
            saved = web.post(
                "/api/config",
                json={
                    "base": view["base"],
                    "apply": False,
                    "changes": [{"path": ["Settings"], "key": "LoopInterval", "value": "5s"}],
                },
            )
            assert saved.status_code == 403 and "qbarr-config Secret" in saved.text
        assert pod.stop() == 0
    finally:
        pod.stop()
