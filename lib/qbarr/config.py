"""Loading and validating config.ini.

config.ini is read with configobj (``interpolation=False`` so a ``%`` in a password is
kept verbatim) and validated against ``configspec.ini`` shipped in this package. Fixed
sections are ``[Settings]``, ``[qBittorrent]`` (the default qBittorrent) and ``[WebUI]``;
``[qBittorrent-<name>]`` sections add more qBittorrents (same keys as ``[qBittorrent]``), which
an Arr section picks with ``Client = <name>``; every other top-level section is an Arr
instance named ``Radarr-<name>``, ``Sonarr-<name>`` or ``Lidarr-<name>`` (or with an explicit
``Kind``).

Environment variables ``QBARR__SECTION__KEY`` (or ``QBARR__SECTION__SUB__KEY``) override
values from the file; names match case-insensitively and ``_`` stands for ``-``.

Every problem is reported as one line naming the file, the section, the key, the bad value
and what was expected; :class:`ConfigError` carries all of them at once. A secret (Password,
APIKey, Token) never appears in a problem, not even when its line cannot be parsed.

Two levels of checks, so that every door applies the same ones:

- ``load(path)``: the file itself (syntax, types, URLs, required sections, instance names).
  What each program needs for its own settings.
- ``load(path, suite=True)``: the above plus what the suite as a whole needs to start (the
  web UI has credentials, or auth is off in the allowed way). What ``qbarr check``,
  ``qbarr run``, the web UI program and the web UI's config editor accept.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from configobj import (
    ConfigObj,
    ConfigObjError,
    DuplicateError,
    NestingError,
    flatten_errors,
    get_extra_values,
)
from configobj.validate import Validator, VdtValueError, is_string_list

from qbarr.configchecks import search_problems
from qbarr.configchecks import where as _where
from qbarr.units import parse_duration, parse_size

FIXED_SECTIONS = ("Settings", "qBittorrent", "WebUI", "Notifications")
ARR_KINDS = ("radarr", "sonarr", "lidarr")
# [Notifications] URLs: Apprise URLs carry tokens and passwords in them; [Settings] Database:
# a PostgreSQL URL may carry its password
SECRET_KEYS = frozenset({"password", "apikey", "token", "urls", "database"})
MASK = "********"
ENV_PREFIX = "QBARR__"
EX_CONFIG = 78  # sysexits.h EX_CONFIG: what `qbarr run` / `qbarr check` exit with on a bad file
QBT_DEFAULT_URL = "http://127.0.0.1:8080"  # configspec.ini [qBittorrent] URL's default
DEFAULT_CLIENT = "qBittorrent"  # the [qBittorrent] section: the client of an Arr without Client
CLIENT_PREFIX = "qBittorrent-"  # [qBittorrent-<name>] sections add more qBittorrents
REQUIRED_SECTIONS = {"qBittorrent": "it says where qBittorrent is: URL, Username, Password"}
# Instance (section) names become program names, --instance arguments and process titles:
# letters, digits, space, - _ . only, starting with a letter or digit.
INSTANCE_NAME = re.compile(r"^[^\W_][\w .-]{0,99}$")


class ConfigError(Exception):
    """config.ini cannot be used; ``problems`` holds one clear line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Instance:
    """One Arr instance: a top-level section such as ``[Radarr-4K]``."""

    name: str
    kind: str
    slug: str
    url: str
    api_key: str
    category: str
    section: Mapping[str, Any] = field(repr=False, compare=False)
    client: str = DEFAULT_CLIENT  # the section name of its qBittorrent

    @property
    def program(self) -> str:
        return f"arr-{self.slug}"

    @property
    def search_enabled(self) -> bool:
        return bool(self.section["Search"]["Enabled"])


@dataclass(frozen=True)
class Config:
    """A validated config.ini. ``data`` is the configobj tree with typed values."""

    path: Path
    data: Mapping[str, Any] = field(repr=False)
    instances: tuple[Instance, ...]

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.data["Settings"]

    @property
    def qbittorrent(self) -> Mapping[str, Any]:
        return self.data["qBittorrent"]

    @property
    def webui(self) -> Mapping[str, Any]:
        return self.data["WebUI"]

    @property
    def clients(self) -> tuple[str, ...]:
        """Every qBittorrent's section name: ``qBittorrent`` first, then ``qBittorrent-<name>``."""
        return (DEFAULT_CLIENT, *sorted(n for n in self.data if is_client_section(n)))

    def client(self, name: str = DEFAULT_CLIENT) -> Mapping[str, Any]:
        """The settings of one qBittorrent (by section name)."""
        return self.data[name]

    def instances_of(self, client: str) -> tuple[Instance, ...]:
        """The managed Arr instances whose torrents are in this qBittorrent."""
        return tuple(i for i in self.instances if i.client == client)

    def instance(self, name: str) -> Instance:
        """The instance with this section name (or slug); KeyError names the known ones."""
        for inst in self.instances:
            if name in (inst.name, inst.slug, inst.program):
                return inst
        known = ", ".join(i.name for i in self.instances) or "none"
        raise KeyError(f"no Arr instance {name!r} in {self.path} (known: {known})")


def is_client_section(name: str) -> bool:
    """``[qBittorrent-<name>]``: one more qBittorrent, validated as ``[qBittorrent]`` is."""
    return name.startswith(CLIENT_PREFIX) and len(name) > len(CLIENT_PREFIX)


def spec_section(name: str) -> str:
    """The configspec section that validates a top-level section: ``qBittorrent`` for every
    qBittorrent, the name itself for the other fixed sections, ``__many__`` for an Arr."""
    if name == DEFAULT_CLIENT or is_client_section(name):
        return DEFAULT_CLIENT
    return name if name in FIXED_SECTIONS else "__many__"


def _add_client_specs(cfg: ConfigObj) -> None:
    """Validate every ``[qBittorrent-<name>]`` against ``[qBittorrent]`` (not as an Arr)."""
    spec = cfg.configspec
    for name in cfg.sections:
        if is_client_section(name) and name not in spec:
            spec[name] = spec[DEFAULT_CLIENT].dict()


def spec_path() -> Path:
    return Path(str(resources.files("qbarr") / "configspec.ini"))


def spec_defaults() -> dict[str, Any]:
    """Every default of the configspec, typed as :func:`load` types it (durations in seconds,
    sizes in bytes), as plain dicts: the fixed sections by name, ``"Arr"`` for one Arr section
    (with its ``Torrent``, ``SeedingMode`` and ``Search`` subsections) and ``"Tracker"`` for
    one ``[[[Trackers]]]`` entry. Keys without a default (an Arr's URL, a tracker's Host) are
    absent. Code that needs a default reads it here rather than restating it."""
    cfg = ConfigObj(
        {"Arr": {"Torrent": {"Trackers": {"Tracker": {}}}}},
        configspec=str(spec_path()),
        interpolation=False,
    )
    cfg.validate(_validator(), preserve_errors=True, copy=True)
    data = cfg.dict()
    data["Tracker"] = data["Arr"]["Torrent"].pop("Trackers")["Tracker"]
    return data


def slugify(name: str) -> str:
    """Supervisord-safe program slug: lower case, only ``[a-z0-9._-]``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return slug or "instance"


def _check_duration(value: Any, min: str | None = None, max: str | None = None) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise VdtValueError(value) from exc
    if min is not None and seconds < float(min) and seconds != -1:
        raise VdtValueError(f"{value} (at least {min} seconds)")
    if max is not None and seconds > float(max):
        raise VdtValueError(f"{value} (at most {max} seconds)")
    return seconds


class _Refused(VdtValueError):
    """A value refused with a reason the error line shows (``... is invalid: <reason>``)."""

    def __init__(self, value: Any, reason: str) -> None:
        super().__init__(value)
        self.reason = reason


def _check_url(value: Any, optional: bool = False) -> str:
    """An http(s) URL with a host and, if given, a port from 1 to 65535."""
    if isinstance(value, list):
        raise _Refused(value, "a single URL, not a list (is there a comma in it?)")
    text = str(value).strip()
    if not text and optional:
        return ""
    if any(ch.isspace() for ch in text):
        raise _Refused(value, "it contains whitespace")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not text.lower().startswith(
        ("http://", "https://")
    ):
        raise _Refused(value, "it has no http:// or https:// scheme")
    if not parts.hostname:
        raise _Refused(value, "it has no host")
    hostport = parts.netloc.rpartition("@")[2].rsplit("]", 1)[-1]
    port_text = hostport.rpartition(":")[2] if ":" in hostport else ""
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port_text and (port is None or not 1 <= port <= 65535):
        raise _Refused(value, f"port {port_text} is not a number from 1 to 65535")
    return text


def _check_optional_url(value: Any) -> str:
    return _check_url(value, optional=True)


def _check_string_list(value: Any, min: str | None = None, max: str | None = None) -> list[str]:
    """configobj's string_list, except that an empty value is the empty list (``Key =``, as
    config.ini.example shows it) and a single value a list of one (``Key = .mkv``): both
    were refused as 'not a list' before."""
    if isinstance(value, str):
        value = [value] if value.strip() else []
    return list(is_string_list(value, min, max))


def _check_network_list(value: Any) -> list[str]:
    """A list of IP addresses or CIDR blocks (``10.0.0.2, 172.16.0.0/12``)."""
    items = _check_string_list(value)
    for item in items:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise _Refused(value, f"{item!r} is not an IP address or CIDR block") from None
    return items


def _check_size(value: Any) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise VdtValueError(value) from exc


def _validator() -> Validator:
    return Validator(
        {
            "duration": _check_duration,
            "size": _check_size,
            "string_list": _check_string_list,
            "network_list": _check_network_list,
            "url": _check_url,
            "optional_url": _check_optional_url,
        }
    )


def spec_default(check: str) -> str | None:
    """The default of a configspec check as config.ini spells it: ``2s``, a list joined by
    ``, ``, ``""`` for an empty default; None when the key has none (it is required).
    The one reading of configspec defaults (the README tables and the web UI's form)."""
    default = _validator()._parse_with_caching(check)[3]  # configobj's own check parser
    if default is None:
        return None
    if isinstance(default, list):
        return ", ".join(default)
    return "" if default == "None" else str(default)


def _expected(check: str) -> str:
    """Turn a configspec check into words for an error message."""
    name, _, args = check.partition("(")
    args = re.sub(r",?\s*default=[^,)]*", "", args.rstrip(")")).strip(", ")
    words = {
        "duration": "a duration such as 90, 15m, 2h or 7d",
        "size": "a size such as 500M or 100G (-1 = off)",
        "boolean": "true or false",
        "integer": "a whole number",
        "float": "a number",
        "string": "text",
        "string_list": "a comma-separated list",
        "option": "one of",
        "url": "a URL such as http://127.0.0.1:7878 (http:// or https://, a host, a port)",
        "optional_url": "empty, or a URL such as http://127.0.0.1:5055",
        "network_list": "a comma-separated list of IP addresses or CIDR blocks",
    }.get(name, name)
    if name == "string" and args in ("min=1", ""):
        return "non-empty text" if args else words
    args = args.replace("min=", "at least ").replace("max=", "at most ")
    if name == "duration" and args:
        args = re.sub(r"(at (?:least|most) [0-9.]+)", r"\1 seconds", args)
    return f"{words} ({args})" if args and name != "option" else f"{words} {args}".strip()


def _spec_check(spec: Any, sections: list[str], key: str) -> str:
    node = spec
    for sec in sections:
        node = node.get(sec, node.get("__many__", {})) if hasattr(node, "get") else {}
    check = node.get(key, "") if hasattr(node, "get") else ""
    return check if isinstance(check, str) else ""


def _raw_value(raw: Any, sections: list[str], key: str) -> Any:
    node = raw
    for sec in sections:
        node = node.get(sec, {})
    return node.get(key, None)


def _norm(name: str) -> str:
    return name.lower().replace("-", "_")


def apply_env_overrides(cfg: ConfigObj, env: Mapping[str, str]) -> list[str]:
    """Apply ``QBARR__SECTION__[SUB__]KEY`` overrides; returns the names applied."""
    applied = []
    for var, value in sorted(env.items()):
        if not var.startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX) :].split("__")
        if len(parts) < 2:
            continue
        node: Any = cfg
        spec: Any = cfg.configspec if cfg.configspec is not None else {}
        for part in parts[:-1]:
            known = list(node.sections) + [
                k for k in spec if k != "__many__" and hasattr(spec[k], "sections")
            ]
            match = next((k for k in known if _norm(k) == _norm(part)), None)
            if match is None:
                match = next((s for s in FIXED_SECTIONS if _norm(s) == _norm(part)), part)
            if match not in node:
                node[match] = {}
            node = node[match]
            spec = spec.get(match, spec.get("__many__", {})) if hasattr(spec, "get") else {}
        # the key's spelling: as in the file, else as in the configspec, else as given
        names = list(node.scalars) + [
            k for k in spec if k != "__many__" and not hasattr(spec[k], "sections")
        ]
        key = next((k for k in names if _norm(k) == _norm(parts[-1])), parts[-1])
        check = spec.get(key, "") if hasattr(spec, "get") else ""
        node[key] = _list_value(value) if _is_list_check(check) else value
        applied.append(var)
    return applied


def _is_list_check(check: Any) -> bool:
    return isinstance(check, str) and check.startswith(("string_list", "network_list"))


def _list_value(text: str) -> Any:
    """An environment value for a list setting, split as the same text in the file would be."""
    try:
        return ConfigObj([f"v = {text}"], list_values=True, interpolation=False)["v"]
    except ConfigObjError:
        return text  # validation reports it


def read_raw(path: Path) -> ConfigObj:
    """Parse config.ini without validation; raises ConfigError naming the file."""
    try:
        # utf-8-sig: a BOM (Windows editors write one) is not part of the first line
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found (create one with `qbarr init`)"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [
                f"{path}: line {line}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                "save the file as UTF-8"
            ]
        ) from None
    return parse_text(text, path)


def parse_text(text: str, path: Path) -> ConfigObj:
    """Parse config.ini text (``path`` names it in errors); raises ConfigError."""
    try:
        return ConfigObj(
            text.splitlines(),
            configspec=str(spec_path()),
            interpolation=False,
            encoding="utf-8",
            list_values=True,
            _inspec=False,
        )
    except ConfigObjError as exc:
        errors = getattr(exc, "errors", []) or [exc]
        raise ConfigError([_parse_problem(path, err) for err in errors]) from None


_KEY_LINE = re.compile(r"^\s*([^=\[#\s][^=]*?)\s*=")


def _parse_problem(path: Path, err: Exception) -> str:
    """One line for a configobj parse error. configobj quotes the whole line, which may hold
    a secret: show a key line with a secret's value masked, a section line as it is, and
    any other line (e.g. the second line of a broken password) not at all."""
    number = getattr(err, "line_number", None)
    line = str(getattr(err, "line", "") or "")
    if isinstance(err, DuplicateError):
        what = "a key or section that appears twice in the same section"
    elif isinstance(err, NestingError):
        what = "a section nested deeper than its parent allows"
    elif "multiline" in str(err):
        what = "a value opened with \"\"\" or ''' that is never closed"
    elif "value" in str(err):
        what = "a value that cannot be read (unbalanced quotes?)"
    else:
        what = "neither a [section] header nor a `key = value` line"
    key = _KEY_LINE.match(line)
    if key:
        shown = f"{key.group(1)} = {MASK}" if key.group(1).lower() in SECRET_KEYS else line.strip()
        shown = repr(_mask_url_userinfo(shown))
    elif line.lstrip().startswith("["):
        shown = repr(line.strip())
    else:
        shown = "(the line is not shown: it may hold a secret)"
    where = f"line {number}" if number else "somewhere"
    return f"{path}: {where}: {what}: {shown}"


def _mask_url_userinfo(text: str) -> str:
    """``http://user:pass@host`` -> ``http://user:********@host``."""
    return re.sub(r"(://[^/\s:@]*:)[^/\s@]*@", rf"\1{MASK}@", text)


def load(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    suite: bool = False,
    text: str | None = None,
) -> Config:
    """Read, override from the environment, validate and type config.ini.

    ``suite=True`` adds the checks of the suite as a whole (:func:`suite_problems`): what
    ``qbarr check``, ``qbarr run`` and the web UI accept. ``text`` checks that text as if
    it were the file at ``path`` (the web UI's editor, before it saves).

    Raises:
        ConfigError: with one line per problem.
    """
    path = Path(path)
    cfg = read_raw(path) if text is None else parse_text(text.removeprefix("\ufeff"), path)
    cfg.filename = str(path)
    applied = apply_env_overrides(cfg, os.environ if env is None else env)
    if not cfg.sections and not cfg.scalars and not applied:
        raise ConfigError(
            [
                f"{path}: the file holds no settings (empty, or only comments); "
                "`qbarr init` writes a starter config.ini"
            ]
        )
    missing = [
        f"{_where(path, [name])} section is missing ({why})"
        for name, why in REQUIRED_SECTIONS.items()
        if name not in cfg.sections
    ]
    raw = cfg.dict()
    _add_client_specs(cfg)
    result = cfg.validate(_validator(), preserve_errors=True, copy=True)
    problems = missing + _validation_problems(path, cfg, raw, result)
    problems += _unknown_keys(path, cfg)
    instances, more = _instances(path, cfg)
    problems += more
    problems += _part_checks(path, instances)
    if suite:
        problems += suite_problems(path, cfg["WebUI"])
    if problems:
        raise ConfigError(problems)
    return Config(path=path, data=cfg, instances=tuple(instances))


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def suite_problems(path: Path, webui: Mapping[str, Any]) -> list[str]:
    """What would stop the web UI (and so the suite) from starting safely.

    Auth can only be off on a loopback bind, unless ``AllowInsecureExposure`` accepts the
    risk; with auth on there must be a Token or a Password to log in with.
    """
    if not all(isinstance(webui.get(k), bool) for k in ("AuthDisabled", "AllowInsecureExposure")):
        return []  # an invalid value there is reported already
    host = str(webui["Host"])
    if webui["AuthDisabled"]:
        if is_loopback(host) or webui["AllowInsecureExposure"]:
            return []
        return [
            f"{path}: [WebUI] AuthDisabled = true is refused with Host = {host!r} "
            "(not a loopback address): anyone who reaches the port could restart programs "
            "and edit the config. Bind 127.0.0.1, turn auth back on, or set "
            "AllowInsecureExposure = true to accept the risk."
        ]
    if not webui["Token"] and not webui["Password"]:
        return [
            f"{path}: [WebUI] needs a Token (`qbarr init` generates one) or a Password to log "
            "in with, or AuthDisabled = true (loopback only)"
        ]
    return []


def _part_checks(path: Path, instances: list[Instance]) -> list[str]:
    """Cross-field checks (qbarr.configchecks), one line per problem."""
    return [
        line
        for inst in instances
        for line in search_problems(path, inst.name, inst.kind, inst.section)
    ]


def _validation_problems(path: Path, cfg: ConfigObj, raw: Any, result: Any) -> list[str]:
    if result is True:
        return []
    problems = []
    for sections, key, error in flatten_errors(cfg, result):
        if key is None:
            problems.append(f"{_where(path, sections)} section is missing")
            continue
        check = _spec_check(cfg.configspec, sections, key)
        if error is False:
            problems.append(
                f"{_where(path, sections, key)} is missing (expected {_expected(check)})"
            )
            continue
        value = _raw_value(raw, sections, key)
        reason = f"{error.reason}; " if isinstance(error, _Refused) else ""
        problems.append(
            f"{_where(path, sections, key)} = {_shown(key, value)} is invalid: "
            f"{reason}expected {_expected(check)}"
        )
    return problems


def _shown(key: str, value: Any) -> str:
    if key.lower() in SECRET_KEYS:
        return MASK
    return _mask_url_userinfo(repr(value))


def _unknown_keys(path: Path, cfg: ConfigObj) -> list[str]:
    problems = []
    for sections, name in get_extra_values(cfg):
        if not sections and name in cfg.scalars:
            problems.append(
                f"{path}: {name!r} is outside any section: put it under the section it "
                "belongs to (e.g. [Settings])"
            )
            continue
        if not sections and name not in FIXED_SECTIONS and not is_client_section(name):
            continue  # top-level sections are Arr instances (checked below)
        if len(sections) >= 3 and sections[1] == "Torrent" and sections[2] == "Trackers":
            continue
        problems.append(
            f"{_where(path, list(sections))} has an unknown setting or section {name!r}"
        )
    return problems


def _kind_of(name: str, section: Mapping[str, Any]) -> str | None:
    explicit = section.get("Kind")
    if explicit:
        return str(explicit)
    prefix = name.split("-", 1)[0].lower()
    return prefix if prefix in ARR_KINDS and "-" in name else None


def _instances(path: Path, cfg: ConfigObj) -> tuple[list[Instance], list[str]]:
    instances: list[Instance] = []
    problems: list[str] = []
    owners: dict[str, str] = {}
    slugs: dict[str, str] = {}
    reserved = {cfg["Settings"].get("FailedCategory"), cfg["Settings"].get("RecheckCategory")}
    clients, problems = _clients(path, cfg)
    for name in cfg.sections:
        if name in FIXED_SECTIONS or is_client_section(name):
            continue
        section = cfg[name]
        if not INSTANCE_NAME.match(name):
            problems.append(
                f"{_where(path, [name])}: the section name may only hold letters, digits, "
                "spaces and - _ . (it becomes a program name and a process title)"
            )
            continue
        kind = _kind_of(name, section)
        if kind is None:
            problems.append(
                f"{_where(path, [name])}: unknown Arr kind; name the section Radarr-<name>, "
                "Sonarr-<name> or Lidarr-<name>, or set Kind = radarr|sonarr|lidarr"
            )
            continue
        client, problem = _client_of(path, name, section, clients)
        if problem:
            problems.append(problem)
        category = str(section.get("Category", ""))
        owner = None if problem else owners.get(f"{client}\0{category}")
        if owner is not None:
            problems.append(
                f"{_where(path, [name], 'Category')} = {category!r} is already the category of "
                f"[{owner}] in [{client}]; each instance needs its own category"
            )
        elif category in reserved:
            problems.append(
                f"{_where(path, [name], 'Category')} = {category!r} is reserved by [Settings] "
                "FailedCategory/RecheckCategory"
            )
        owners.setdefault(f"{client}\0{category}", name)
        slug = slugify(name)
        if slug in slugs:
            problems.append(
                f"{_where(path, [name])}: program name arr-{slug} clashes with [{slugs[slug]}]"
            )
        slugs.setdefault(slug, name)
        if not section.get("Managed", True):
            continue
        instances.append(
            Instance(
                name=name,
                kind=kind,
                slug=slug,
                url=str(section.get("URL", "")),
                api_key=str(section.get("APIKey", "")),
                category=category,
                section=section,
                client=client,
            )
        )
    return instances, problems


def _clients(path: Path, cfg: ConfigObj) -> tuple[dict[str, str], list[str]]:
    """Every qBittorrent by the name an Arr's ``Client`` uses (the part after
    ``qBittorrent-``, case-insensitive) -> its section name; and the problems of the names."""
    found = {DEFAULT_CLIENT.lower(): DEFAULT_CLIENT}
    problems = []
    slugs = {slugify(DEFAULT_CLIENT): DEFAULT_CLIENT}
    for name in cfg.sections:
        if not is_client_section(name):
            continue
        short = name[len(CLIENT_PREFIX) :]
        if not INSTANCE_NAME.match(short):
            problems.append(
                f"{_where(path, [name])}: the name after qBittorrent- may only hold letters, "
                "digits, spaces and - _ . (it names the client's lock file)"
            )
            continue
        slug = slugify(name)
        if slug in slugs or short.lower() in found:
            other = slugs.get(slug) or found.get(short.lower())
            problems.append(f"{_where(path, [name])}: the client name clashes with [{other}]")
            continue
        slugs[slug] = found[short.lower()] = name
    return found, problems


def _client_of(
    path: Path, name: str, section: Mapping[str, Any], clients: Mapping[str, str]
) -> tuple[str, str | None]:
    """The section name of an Arr's qBittorrent (``Client = <name>``; empty: ``[qBittorrent]``)
    and the problem when there is no such client."""
    given = str(section.get("Client") or "").strip()
    if not given:
        return DEFAULT_CLIENT, None
    short = given[len(CLIENT_PREFIX) :] if is_client_section(given) else given
    client = clients.get(short.lower())
    if client is not None:
        return client, None
    known = ", ".join(
        "(empty) for [qBittorrent]" if c == DEFAULT_CLIENT else c[len(CLIENT_PREFIX) :]
        for c in clients.values()
    )
    return DEFAULT_CLIENT, (
        f"{_where(path, [name], 'Client')} = {given!r}: no [{CLIENT_PREFIX}{short}] section "
        f"(known clients: {known})"
    )


def masked(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a config tree with every secret replaced by ``MASK`` (empty stays empty)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out[key] = masked(value)
        elif key.lower() in SECRET_KEYS and value:
            out[key] = MASK
        else:
            out[key] = value
    return out


def secrets_of(data: Mapping[str, Any]) -> list[str]:
    """Every non-empty secret value in a config tree (for log scrubbing and tests)."""
    found: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            found += secrets_of(value)
        elif key.lower() in SECRET_KEYS and isinstance(value, (list, tuple)):
            for item in value:
                found += _url_secrets(str(item))
        elif key.lower() in SECRET_KEYS and value:
            found.append(str(value))
            if key.lower() == "database":  # a URL: its password alone may show in an error
                found += [p for p in [urlsplit(str(value)).password] if p]
    return found


def _url_secrets(url: str) -> list[str]:
    """A notification URL, and the parts of it that are secrets on their own (a password,
    a token in its path or query), so that no piece of it reaches a log line either."""
    url = url.strip()
    if not url:
        return []
    found = [url]
    scheme, _, rest = url.partition("://")
    if rest:
        found.append(rest)
        userinfo = rest.split("/", 1)[0].rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        if colon:  # user:password@ (a user name is no secret: "qbarr" must stay readable)
            found += [password] if len(password) >= 4 else []
        elif len(user) >= 8:  # a token in the user part
            found.append(user)
        found += [p for p in re.split(r"[/?&=#]", rest.split("/", 1)[-1]) if len(p) >= 8]
    return found
