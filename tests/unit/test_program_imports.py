"""What each program imports: every module costs each process that imports it memory (PSS,
docs/performance.md "Memory: where the bytes are"), so a program imports only what it uses.

Each check runs a fresh interpreter (this test process has imported everything already) and
reads its ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# httpx's command-line client (click, rich, pygments; qbarr/__init__.py keeps it out)
HTTPX_CLI = {"httpx._main", "click", "rich", "pygments"}


def modules_after(code: str, cwd: Path = REPO) -> set[str]:
    """The modules a new interpreter holds after running ``code`` (not the names marked
    missing, as qbarr/__init__.py marks ``httpx._main``)."""
    script = textwrap.dedent(code) + (
        "\nimport json, sys\n"
        "print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_watchdog_never_loads_an_http_client_the_journal_or_the_policy(tmp_path: Path) -> None:
    """The watchdog journals nothing and calls no Arr: the journal, the policy, the Arr
    client and httpx stay out of it, also once it has read config.ini and pruned the
    database."""
    (tmp_path / "config.ini").write_text("[Settings]\n[qBittorrent]\n[WebUI]\n")
    loaded = modules_after(
        f"""
        from qbarr_programs import watchdog
        from qbarr import config, db, heartbeat, retention
        cfg = config.load({str(tmp_path / "config.ini")!r})
        conn = db.open_migrated({str(tmp_path / "qbarr.db")!r})
        heartbeat.by_program(conn)
        retention.Housekeeper().step(conn)
        """
    )
    assert "qbarr_programs.watchdog" in loaded and "qbarr.retention" in loaded
    unwanted = {"httpx", "httpcore", "qbarr.arr.client", "qbarr.journal", "qbarr.policy"}
    unwanted |= HTTPX_CLI
    assert loaded & unwanted == set()


def test_the_arr_package_loads_its_client_only_when_asked() -> None:
    loaded = modules_after("from qbarr.arr.kinds import KINDS\nfrom qbarr.arr import ArrError")
    assert "qbarr.arr" in loaded and "httpx" not in loaded and "qbarr.arr.client" not in loaded
    loaded = modules_after("from qbarr.arr import make_client\nassert callable(make_client)")
    assert {"qbarr.arr.client", "httpx"} <= loaded


def test_the_policy_package_loads_a_module_when_one_of_its_names_is_used() -> None:
    loaded = modules_after("from qbarr.policy.model import Memory")
    assert "qbarr.policy.rules" not in loaded and "qbarr.policy.settings" not in loaded
    loaded = modules_after(
        "import qbarr.policy as p\nassert p.decide.__module__ == 'qbarr.policy.rules'\n"
        "assert p.RULES and p.Memory is __import__('qbarr.policy.model').policy.model.Memory"
    )
    assert "qbarr.policy.rules" in loaded


def test_a_manager_never_loads_the_httpx_command_line_client() -> None:
    loaded = modules_after(
        """
        from qbarr_programs import arr
        from qbarr.arrmanager import ArrManager
        from qbarr.qbittorrent import QbtClient
        from qbarr.arr import make_client
        import httpx
        httpx.Client().close()
        """
    )
    assert "httpx" in loaded
    assert loaded & HTTPX_CLI == set()


def test_qbarr_supervisord_adds_only_its_own_small_module_to_supervisord() -> None:
    """supervisord's process holds supervisor's modules; qbarr's entry point adds itself and
    nothing else (no dataclasses, ctypes, subprocess, config or database code)."""
    plain = modules_after("import supervisor.supervisord")
    ours = modules_after("import supervisor.supervisord\nimport qbarr_programs.supervisord")
    assert ours - plain == {
        "qbarr",
        "qbarr.launcher",
        "qbarr_programs",
        "qbarr_programs.supervisord",
    }


def test_the_web_ui_builds_its_app_without_an_http_client_and_loads_prometheus_for_metrics(
    tmp_path: Path,
) -> None:
    """The web UI reads the database and supervisord; it never polls qBittorrent or an Arr,
    so httpx stays out of it (master and worker), and prometheus_client comes in with the
    first scrape of /metrics."""
    code = f"""
        import json, sys, wsgiref.util
        from pathlib import Path
        from qbarr import config as qconfig
        from qbarr.webui.app import make_app
        from tests.support import webui_seed as seedmod
        import qbarr_programs.webui, gunicorn.app.base, qbarr.webui.worker

        home = seedmod.make_home(Path({str(tmp_path)!r}))
        seedmod.seed(home)
        app = make_app(home, qconfig.load(home.config), "unix://{tmp_path}/none.sock")

        def get(path):
            environ = {{"PATH_INFO": path, "HTTP_HOST": "127.0.0.1",
                       "HTTP_AUTHORIZATION": "Bearer " + seedmod.TOKEN}}
            wsgiref.util.setup_testing_defaults(environ)
            status = []
            body = b"".join(app(environ, lambda s, h, *e: status.append(s)))
            return status[0], body

        answers = {{p: get(p)[0] for p in ("/health", "/api/overview")}}
        before = sorted(n for n, m in sys.modules.items() if m is not None)
        answers["/metrics"], body = get("/metrics")
        print(json.dumps({{"answers": answers, "before": before,
                          "metrics": body.decode()[:2000]}}))
    """
    script = textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert {p: s[:3] for p, s in result["answers"].items()} == {
        "/health": "200",
        "/api/overview": "200",
        "/metrics": "200",
    }
    assert "qbarr_" in result["metrics"]
    before = set(result["before"])
    assert "bottle" in before and "gunicorn.app.base" in before
    assert before & {"httpx", "httpcore", "qbarr.qbittorrent.client", "prometheus_client"} == set()


def test_a_web_ui_reload_lets_the_frozen_old_app_be_collected() -> None:
    """pre_fork freezes the master's objects (gunicorn's fork shares them with the worker);
    a HUP builds a new app, and the old one, full of reference cycles, must not stay frozen
    for ever."""
    code = """
        import gc, weakref
        from qbarr_programs import webui

        class App:
            pass

        class Holder:
            callable = None

        holder = Holder()
        holder.callable = App()
        holder.callable.me = holder.callable  # a cycle, as a bottle app has
        old = weakref.ref(holder.callable)
        webui.pre_fork(None, None)
        assert gc.get_freeze_count() > 0
        webui.forget_app(holder)
        assert holder.callable is None
        gc.collect()
        print("collected" if old() is None else "kept")
    """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["collected"]
