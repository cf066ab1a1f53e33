"""`qbarr check`: validate config.ini and test every connection, one line per check.

Every qBittorrent ([qBittorrent] and each [qBittorrent-<name>]) is logged in to; every Arr's
system/status is read, and its own download-client list compared with qbarr's config
(:mod:`qbarr.clientcheck`): a disagreement is a ``warn`` line, not a failure."""

from __future__ import annotations

import argparse

from qbarr import clientcheck, store
from qbarr.arr import ArrError, make_client
from qbarr.config import Config
from qbarr.media import ffprobe_path, ffprobe_version
from qbarr.paths import Home
from qbarr.qbittorrent import QbtClient, QbtError

from .common import EX_CONFIG, EX_FAIL, load_or_report, scrubber

NAME = "check"
HELP = (
    "validate config.ini, log in to each qBittorrent, read each Arr's system/status and "
    "compare its download clients with the config"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-only", action="store_true", help="only validate the file")


def line(ok: bool, what: str, detail: str, mark: str | None = None) -> None:
    print(f"{mark or ('ok  ' if ok else 'FAIL')}  {what:<24} {detail}", flush=True)


def check_qbittorrent(cfg: Config, client: str = "qBittorrent") -> tuple[bool, str]:
    q = cfg.client(client)
    try:
        with QbtClient(
            q["URL"], q["Username"], q["Password"], api_key=q["APIKey"], timeout=float(q["Timeout"])
        ) as qbt:
            qbt.login()
            return True, f"{q['URL']}: logged in, qBittorrent {qbt.version()}"
    except (QbtError, ValueError) as exc:
        return False, f"{q['URL']}: {exc}"


def check_arr(cfg: Config, index: int) -> tuple[bool, str, list[str]]:
    """The Arr's status line, and the warnings of its download-client list (a list that
    cannot be read is one warning: the Arr works, qbarr just cannot compare)."""
    inst = cfg.instances[index]
    try:
        with make_client(
            inst.kind, inst.url, inst.api_key, timeout=float(inst.section["Timeout"])
        ) as arr:
            status = arr.system_status()
            try:
                warnings = clientcheck.warnings(cfg, inst, arr.download_clients())
            except ArrError as exc:
                warnings = [f"could not read its download clients: {exc}"]
    except (ArrError, ValueError) as exc:
        return False, f"{inst.url}: {exc}", []
    where = f" (qBittorrent: [{inst.client}])" if len(cfg.clients) > 1 else ""
    detail = f"{inst.url}: {status.get('appName', inst.kind)} {status.get('version', '?')}"
    return True, detail + where, warnings


def check_ffprobe(cfg: Config) -> tuple[bool, str]:
    """Whether ffprobe is on PATH; missing is a failure only when VerifyMedia needs it."""
    needed = [i.name for i in cfg.instances if i.section["Torrent"]["VerifyMedia"]]
    path = ffprobe_path()
    if path is not None:
        return True, f"{path} ({ffprobe_version(path) or 'version unknown'})"
    if needed:
        return False, (
            f"not found on PATH, needed by VerifyMedia of {', '.join(needed)} "
            "(install the ffmpeg package; until then imports go ahead unchecked)"
        )
    return True, "not found on PATH (not needed: no instance has VerifyMedia = true)"


def run(args: argparse.Namespace, home: Home) -> int:
    cfg = load_or_report(home.config, "qbarr check")
    if cfg is None:
        line(False, "config", f"{home.config} (see above)")
        return EX_CONFIG
    names = ", ".join(i.name for i in cfg.instances) or "no Arr instance"
    line(True, "config", f"{home.config}: valid ({names})")
    try:
        line(True, "database", store.describe(store.location(home)))
    except store.BadLocation as exc:
        line(False, "database", str(exc))
        return EX_CONFIG
    probe_ok, probe_detail = check_ffprobe(cfg)
    line(probe_ok, "ffprobe", probe_detail)
    if args.config_only:
        return 0
    scrub = scrubber(cfg).scrub
    failed = not probe_ok
    for client in cfg.clients:
        ok, detail = check_qbittorrent(cfg, client)
        line(ok, client, scrub(detail))
        failed |= not ok
    for index, inst in enumerate(cfg.instances):
        ok, detail, warnings = check_arr(cfg, index)
        line(ok, inst.name, scrub(detail))
        for warning in warnings:
            line(True, inst.name, scrub(warning), mark="warn")
        failed |= not ok
    return EX_FAIL if failed else 0
