"""A real supervisord in a temp data dir for the web UI's system tests.

It runs the real ``qbarr-webui`` (gunicorn) when asked, and small stand-in managers
(``arr:arr-<slug>``) that log a line on SIGHUP, so tests can see a manager pick up a config
change. Started with ``Popen``; stopped by pid in ``stop()`` (SIGTERM, then SIGKILL of
whatever is left of the process tree).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

import psutil
from supervisor.xmlrpc import SupervisorTransport

from qbarr.paths import Home
from tests.support.waiting import wait_for

DUMMY_MANAGER = r"""
import os, signal, sys
name = sys.argv[1]
def hup(signum, frame):
    print(f"{name}: SIGHUP: config reloaded", flush=True)
def term(signum, frame):
    print(f"{name}: stopping", flush=True)
    sys.exit(0)
signal.signal(signal.SIGHUP, hup)
signal.signal(signal.SIGTERM, term)
print(f"{name}: started pid {os.getpid()}", flush=True)
while True:
    signal.pause()
"""


def rpc(url: str) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(
        "http://127.0.0.1", transport=SupervisorTransport(None, None, url)
    )


@dataclass
class Suite:
    home: Home
    proc: subprocess.Popen
    url: str

    def processes(self) -> dict[str, dict]:
        return {
            f"{p['group']}:{p['name']}" if p["group"] != p["name"] else p["name"]: p
            for p in rpc(self.url).supervisor.getAllProcessInfo()
        }

    def wait_running(self, names: list[str], timeout: float = 60.0) -> dict[str, dict]:
        def running() -> dict[str, dict] | None:
            found = self.processes()
            return (
                found
                if all(found.get(n, {}).get("statename") == "RUNNING" for n in names)
                else None
            )

        return wait_for(
            running, timeout, 0.2, f"{names} RUNNING", ignore=(OSError, xmlrpc.client.Error)
        )

    def stop(self) -> None:
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def write_conf(home: Home, managers: tuple[str, ...], webui: bool) -> Path:
    home.ensure()
    (home.root / "dummy_manager.py").write_text(DUMMY_MANAGER)
    webui_bin = Path(sys.executable).with_name("qbarr-webui")
    webui_cmd = (
        str(webui_bin) if webui_bin.exists() else f"{sys.executable} -m qbarr_programs.webui"
    )
    parts = [
        "[supervisord]",
        "nodaemon = true",
        f"logfile = {home.logs}/supervisord.log",
        f"pidfile = {home.run}/supervisord.pid",
        f"childlogdir = {home.logs}",
        f"directory = {home.root}",
        f'environment = QBARR_HOME="{home.root}",PYTHONUNBUFFERED="1"',
        "",
        "[unix_http_server]",
        f"file = {home.socket}",
        "chmod = 0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl = {home.supervisor_url}",
        "",
    ]
    common = [
        "startsecs = 1",
        "startretries = 3",
        "autorestart = unexpected",
        "stopsignal = TERM",
        "stopwaitsecs = 15",
        "stopasgroup = true",
        "killasgroup = true",
        "redirect_stderr = true",
    ]
    if webui:
        parts += [
            "[program:webui]",
            f"command = {webui_cmd}",
            *common,
            f"stdout_logfile = {home.logs}/webui.log",
            "",
        ]
    names = []
    for slug in managers:
        name = f"arr-{slug}"
        names.append(name)
        parts += [
            f"[program:{name}]",
            f"command = {sys.executable} {home.root}/dummy_manager.py {name}",
            *common,
            f"stdout_logfile = {home.logs}/{name}.log",
            "",
        ]
    if names:
        parts += ["[group:arr]", f"programs = {','.join(names)}", ""]
    conf = home.root / "supervisord.conf"
    conf.write_text("\n".join(parts))
    return conf


def start(
    home: Home, managers: tuple[str, ...] = ("radarr-main", "sonarr-tv"), webui: bool = False
) -> Suite:
    """Start supervisord for ``home`` and wait until every program runs; stop it on failure."""
    conf = write_conf(home, managers, webui)
    supervisord = Path(sys.executable).with_name("supervisord")
    cmd = [str(supervisord) if supervisord.exists() else "supervisord", "-n", "-c", str(conf)]
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    proc = subprocess.Popen(
        cmd, cwd=home.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    suite = Suite(home, proc, home.supervisor_url)
    try:
        names = [f"arr:arr-{m}" for m in managers] + (["webui"] if webui else [])
        suite.wait_running(names)
    except BaseException:
        suite.stop()
        raise
    return suite
