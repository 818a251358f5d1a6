# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of the Alorig app registry (``alorig_apps``) and the platform figures.

Pure Python, no Ansible import: used by the filter ``alorig.platform.registry_errors``
(playbooks/validate.yml) and directly by the unit tests.

``validate_registry(apps, platform, secrets)`` returns a list of error messages: every
error found, never only the first; an empty list means the registry is valid. Each message
names the app and the key path inside its entry, and for a collision the other app and
its key path, for example::

    app 'psydge': redis.db 0 is already used by app 'igny8' (redis.db)
    app 'asms': backend_port 8022 is reserved by alorig_reserved_ports[0] (8021-8024: ...)
    app 'asms': secret 'db_password' missing from vault_alorig_app_secrets['asms']
    RAM budget: apps 9000 MB + infrastructure 2560 MB + OS 1024 MB = 12584 MB exceeds ...

Messages never contain a secret value, only secret names.

Inputs
------
``apps``
    the ``alorig_apps`` dict, app key -> entry (see group_vars/all/apps.yml).
``platform``
    a dict keyed by the platform variable names: ``alorig_host_ram_mb``,
    ``alorig_ram_headroom_mb``, ``alorig_infra_ram_budget_mb``, ``alorig_os_ram_budget_mb``,
    ``alorig_thresholds``, ``alorig_domains``, and optionally ``alorig_reserved_ports``
    (default ``[]``) and ``alorig_legacy_containers`` (default ``[]``). The content of
    group_vars/all/platform.yml can be passed as it is.
``secrets``
    ``vault_alorig_app_secrets``: app key -> {secret name -> value}; ``None`` means ``{}``.

Rules
-----
App key
    ``^[a-z][a-z0-9_]{1,30}$``.
Keys of an entry
    required: enabled, title, compose_name, rollout_order, ram_budget_mb, source, image,
    backend_port, database, redis, containers, routes, secrets; optional: description,
    environment, media. Any other key is an error (catches typos such as ``redis_db``). The same
    holds for the keys of source, database, redis, every container and every route.
enabled
    a boolean. Disabled apps are checked like enabled ones and keep their reservations
    (ports, Redis DB and prefix, database, container names, routes), but their secrets are
    not required and they count neither in the RAM sum nor in the connection sum.
title
    a non-empty string.
media
    optional mapping of a media directory name (``^[a-z][a-z0-9-]{0,30}$``) to the absolute
    path where the backend and the Celery workers see it; the host keeps it under the
    app's state directory (``/opt/alorig/apps/<app>/<name>``).
environment
    optional mapping of environment variables given to every container of the app.
compose_name
    ``^[a-z][a-z0-9-]*$``, unique across apps, not ``infra`` (docker-compose.infra.yml
    belongs to the shared infrastructure).
rollout_order
    a positive integer, unique across apps.
ram_budget_mb
    a positive integer.
source
    ``type`` is ``local`` (requires ``path``; optional ``dockerfile``), ``git`` (requires
    ``repo`` and ``version``; optional ``path``, ``dockerfile``) or ``image`` (requires
    ``image``). A git ``version`` must be pinned: a tag or a commit id. Empty values,
    ``HEAD`` and the usual branch names (main, master, develop, trunk, latest) are
    rejected; other branch names cannot be told from tags and are accepted. An ``image``
    source must carry a tag other than ``latest`` or a digest (``name:1.2`` or
    ``name@sha256:...``). A local ``path`` must be relative and must not contain ``..``.
image, containers[].image
    an image name without tag (the deploy tags it): lower-case components separated by
    ``/``, each ``[a-z0-9]+([._-][a-z0-9]+)*``.
backend_port, containers[].port
    integers in 1024-65535, unique across all apps (a backend container's port is the same
    reservation as its app's backend_port), not used by the shared infrastructure (80, 443,
    2019 Caddy admin, 5432, 6379, 5555 Flower, 9000 and 9443 Portainer) and not in
    ``alorig_reserved_ports``. Entries of ``alorig_reserved_ports``: an integer, a range
    string ``"8021-8024"``, or a dict ``{ports: <int or range>, reason: <text>}``.
database
    ``name`` ``^[a-z][a-z0-9_]*$`` at most 63 characters, unique across apps, not
    postgres/template0/template1; ``owner`` (the app's role) same pattern and length,
    unique across apps, not ``postgres`` and not ``pg_*``; ``extensions`` a list of
    unique extension names (same pattern); ``connection_limit`` a positive integer. The
    connection limits of the enabled apps must sum to at most
    ``alorig_thresholds.postgres_connections`` (so that the apps alone can never trip the
    PgBouncer upgrade trigger).
redis
    ``db`` an integer 0-15, unique across apps; ``prefix`` ``^[a-z][a-z0-9_-]*:$``
    (colon-separated segments such as ``igny8:staging:`` are allowed), unique,
    and no app's prefix may be a prefix of another app's prefix (``igny8:`` and
    ``igny8:staging:`` overlap: the Redis ACL pattern ``igny8:*`` would cover both).
containers
    a non-empty list. ``name`` ``^[a-z][a-z0-9_-]*$``, unique across all apps, starting
    with ``<app key>_``, and not looking like another app's container (when a longer app
    key also prefixes the name, e.g. ``igny8_staging_x`` in app ``igny8``), not the name of
    a shared service (alorig_postgres, alorig_redis, alorig_caddy, portainer, flower) nor
    of a legacy container in ``alorig_legacy_containers`` (the prune step would remove it).
    ``kind`` one of backend, celery_worker, celery_beat, channels, node. backend, channels
    and node require a ``port``; celery_worker and celery_beat must not have one. Exactly
    one container is the backend, and its port equals backend_port. Optional keys:
    command, image, queues (list of names), concurrency (positive integer), environment
    (dict), memory_mb (positive integer).
routes
    a list (may be empty). ``host`` a lower-case DNS name with at least two labels,
    optionally starting with ``*.``, belonging to one of ``alorig_domains`` (equal to a
    zone or under it). ``path`` optional (default ``/``), starts with ``/``; trailing
    slashes are ignored when comparing. (host, path) is unique across all apps.
    ``kind`` static, proxy or websocket. proxy and websocket require ``upstream``, the
    name of a container of the same app, and ``port`` equal to that container's port;
    optional ``upstream_path`` starting with ``/``. static routes take none of upstream,
    port, upstream_path. ``allow_ips`` optional list of IP addresses or CIDR networks
    (host bits must be zero); an unrendered Jinja string is an error.
secrets
    a list of unique names ``^[a-z][a-z0-9_]*$`` that includes ``db_password`` and
    ``redis_password`` (every app has a database role and a Redis ACL user). For an
    enabled app each name must exist in ``vault_alorig_app_secrets[<app>]`` with a
    non-empty value.
Platform
    ``alorig_host_ram_mb``, ``alorig_os_ram_budget_mb`` positive integers;
    ``alorig_ram_headroom_mb`` an integer >= 0 and below the host RAM;
    ``alorig_infra_ram_budget_mb`` a non-empty dict of positive integers;
    ``alorig_thresholds`` a dict with steady_state_ram_mb, oom_kills, postgres_connections,
    redis_memory_mb, celery_queue_length (integers, oom_kills >= 0, the others > 0; extra
    thresholds must be non-negative numbers); ``alorig_domains`` a non-empty list of unique
    DNS names.
RAM budget
    the enabled apps' ram_budget_mb + every infrastructure budget + the OS budget must not
    exceed ``alorig_host_ram_mb - alorig_ram_headroom_mb``, nor
    ``alorig_thresholds.steady_state_ram_mb`` (the upgrade trigger).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

APP_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
COMPOSE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
PG_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PG_NAME_MAX = 63
REDIS_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_-]*(?::[a-z0-9_-]+)*:$")
CONTAINER_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
SECRET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
IMAGE_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
PINNED_IMAGE_RE = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@sha256:[0-9a-f]{64})$"
)
DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ROUTE_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

REQUIRED_APP_KEYS = (
    "enabled", "title", "compose_name", "rollout_order", "ram_budget_mb", "source",
    "image", "backend_port", "database", "redis", "containers", "routes", "secrets",
)
OPTIONAL_APP_KEYS = ("description", "environment", "media")
MEDIA_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

SOURCE_KEYS = {
    "local": (("path",), ("dockerfile",)),
    "git": (("repo", "version"), ("path", "dockerfile")),
    "image": (("image",), ()),
}
UNPINNED_GIT_REFS = frozenset(("head", "main", "master", "develop", "trunk", "latest"))

DATABASE_KEYS = (("name", "owner", "extensions", "connection_limit"), ())
RESERVED_DATABASES = frozenset(("postgres", "template0", "template1"))
REDIS_KEYS = (("db", "prefix"), ())
REDIS_DB_MAX = 15

CONTAINER_KEYS = (("name", "kind"),
                  ("port", "command", "image", "queues", "concurrency", "environment",
                   "memory_mb"))
CONTAINER_KINDS_WITH_PORT = ("backend", "channels", "node")
CONTAINER_KINDS_WITHOUT_PORT = ("celery_worker", "celery_beat")
CONTAINER_KINDS = CONTAINER_KINDS_WITH_PORT + CONTAINER_KINDS_WITHOUT_PORT
INFRA_CONTAINERS = frozenset(("alorig_postgres", "alorig_redis", "alorig_caddy",
                              "portainer", "flower"))

ROUTE_KEYS = (("host", "kind"), ("path", "upstream", "port", "upstream_path", "allow_ips"))
ROUTE_KINDS = ("static", "proxy", "websocket")

REQUIRED_SECRETS = ("db_password", "redis_password")

PORT_MIN = 1024
PORT_MAX = 65535
INFRA_PORTS = {
    80: "Caddy HTTP",
    443: "Caddy HTTPS",
    2019: "Caddy admin API",
    5432: "PostgreSQL",
    5555: "Flower",
    6379: "Redis",
    9000: "Portainer",
    9443: "Portainer HTTPS",
}

REQUIRED_THRESHOLDS = ("steady_state_ram_mb", "oom_kills", "postgres_connections",
                       "redis_memory_mb", "celery_queue_length")
ZERO_ALLOWED_THRESHOLDS = ("oom_kills",)

SECRETS_VAR = "vault_alorig_app_secrets"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _is_nonempty_str(value):
    return isinstance(value, str) and value.strip() != ""


def _typename(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _show(value):
    """A short representation of a registry value (never called on secrets)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _normalise_path(path):
    if path is None:
        return "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


def _dns_name_problem(name, allow_wildcard):
    """Why ``name`` is not a well-formed lower-case DNS name, or None."""
    if not isinstance(name, str) or not name:
        return "is not a non-empty string"
    if _is_template(name):
        return "is an unrendered template"
    bare = name
    if name.startswith("*."):
        if not allow_wildcard:
            return "must not be a wildcard"
        bare = name[2:]
    if len(bare) > 253:
        return "is longer than 253 characters"
    labels = bare.split(".")
    if len(labels) < 2:
        return "needs at least two labels (name.tld)"
    for label in labels:
        if not DNS_LABEL_RE.match(label):
            return "has an invalid label %r (lower-case letters, digits and inner '-')" % label
    if labels[-1].isdigit():
        return "has a numeric top-level label"
    return None


def _parse_port_range(value):
    """(low, high) from an int or a "low-high" / "port" string, or None."""
    if _is_int(value):
        return value, value
    if isinstance(value, str):
        match = re.match(r"^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$", value)
        if match:
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else low
            return low, high
    return None


class _Validator:
    def __init__(self, apps, platform, secrets):
        self.apps = apps
        self.platform = platform if isinstance(platform, dict) else {}
        self.secrets = secrets
        self.errors = []
        # Cross-app reservations: value -> (app, key path).
        self.ports = {}
        self.redis_dbs = {}
        self.redis_prefixes = []  # (prefix, app, path)
        self.databases = {}
        self.owners = {}
        self.compose_names = {}
        self.rollout_orders = {}
        self.container_names = {}
        self.container_owner = {}  # container name -> app (every app, for upstreams)
        self.routes = {}
        self.app_keys = [k for k in apps if isinstance(k, str)] if isinstance(apps, dict) else []
        self.reserved_ports = []  # (low, high, label)
        self.domains = []
        self.legacy_containers = set()

    # -- helpers --------------------------------------------------------------
    def err(self, message):
        self.errors.append(message)

    def app_err(self, app, path, problem):
        self.err("app %r: %s %s" % (app, path, problem))

    def check_keys(self, app, where, mapping, required, optional):
        """Report missing and unknown keys; return False if ``mapping`` is not a dict."""
        label = where + " " if where else ""
        if not isinstance(mapping, dict):
            if where:
                self.app_err(app, where, "must be a dict, got %s" % _typename(mapping))
            else:
                self.err("app %r: entry must be a dict, got %s" % (app, _typename(mapping)))
            return False
        prefix = where + "." if where else ""
        for key in required:
            if key not in mapping:
                self.err("app %r: %smissing required key %r" % (app, label, key))
        allowed = set(required) | set(optional)
        for key in mapping:
            if key not in allowed:
                self.err("app %r: %s%s is an unknown key (allowed: %s)"
                         % (app, prefix, key, ", ".join(sorted(allowed))))
        return True

    def claim(self, table, value, app, path, what):
        """Reserve ``value`` for (app, path) in ``table``; report an existing owner."""
        owner = table.get(value)
        if owner is not None:
            self.app_err(app, path, "%s is already used by app %r (%s)"
                         % (what, owner[0], owner[1]))
            return False
        table[value] = (app, path)
        return True

    # -- platform ---------------------------------------------------------------
    def check_platform(self):
        p = self.platform
        ok = True

        def positive_int(name, allow_zero=False):
            value = p.get(name)
            if value is None:
                self.err("platform: %s is not defined" % name)
                return None
            if not _is_int(value) or value < 0 or (value == 0 and not allow_zero):
                self.err("platform: %s must be a %s integer, got %s"
                         % (name, "non-negative" if allow_zero else "positive", _show(value)))
                return None
            return value

        self.host_ram = positive_int("alorig_host_ram_mb")
        self.headroom = positive_int("alorig_ram_headroom_mb", allow_zero=True)
        self.os_ram = positive_int("alorig_os_ram_budget_mb")
        if self.host_ram is not None and self.headroom is not None \
                and self.headroom >= self.host_ram:
            self.err("platform: alorig_ram_headroom_mb %d must be below alorig_host_ram_mb %d"
                     % (self.headroom, self.host_ram))
            self.headroom = None

        self.infra_ram = None
        infra = p.get("alorig_infra_ram_budget_mb")
        if infra is None:
            self.err("platform: alorig_infra_ram_budget_mb is not defined")
        elif not isinstance(infra, dict) or not infra:
            self.err("platform: alorig_infra_ram_budget_mb must be a non-empty dict "
                     "(service -> MB), got %s" % _typename(infra))
        else:
            total = 0
            for name, value in infra.items():
                if not _is_int(value) or value <= 0:
                    self.err("platform: alorig_infra_ram_budget_mb.%s must be a positive "
                             "integer, got %s" % (name, _show(value)))
                    ok = False
                else:
                    total += value
            if ok:
                self.infra_ram = total

        self.thresholds = {}
        thresholds = p.get("alorig_thresholds")
        if thresholds is None:
            self.err("platform: alorig_thresholds is not defined")
        elif not isinstance(thresholds, dict):
            self.err("platform: alorig_thresholds must be a dict, got %s"
                     % _typename(thresholds))
        else:
            for key in REQUIRED_THRESHOLDS:
                if key not in thresholds:
                    self.err("platform: alorig_thresholds.%s is not defined" % key)
            for key, value in thresholds.items():
                if key in REQUIRED_THRESHOLDS:
                    zero_ok = key in ZERO_ALLOWED_THRESHOLDS
                    if not _is_int(value) or value < 0 or (value == 0 and not zero_ok):
                        self.err("platform: alorig_thresholds.%s must be a %s integer, got %s"
                                 % (key, "non-negative" if zero_ok else "positive",
                                    _show(value)))
                        continue
                elif not _is_number(value) or value < 0:
                    self.err("platform: alorig_thresholds.%s must be a non-negative number, "
                             "got %s" % (key, _show(value)))
                    continue
                self.thresholds[key] = value

        domains = p.get("alorig_domains")
        if domains is None:
            self.err("platform: alorig_domains is not defined")
        elif not isinstance(domains, list) or not domains:
            self.err("platform: alorig_domains must be a non-empty list of DNS zones, got %s"
                     % _typename(domains))
        else:
            seen = set()
            for index, domain in enumerate(domains):
                problem = _dns_name_problem(domain, allow_wildcard=False)
                if problem:
                    self.err("platform: alorig_domains[%d] %s %s" % (index, _show(domain), problem))
                    continue
                if domain in seen:
                    self.err("platform: alorig_domains[%d] %r is listed twice" % (index, domain))
                seen.add(domain)
                self.domains.append(domain)

        reserved = p.get("alorig_reserved_ports")
        if reserved is None:
            reserved = []
        if not isinstance(reserved, list):
            self.err("platform: alorig_reserved_ports must be a list, got %s"
                     % _typename(reserved))
            reserved = []
        for index, entry in enumerate(reserved):
            reason = None
            value = entry
            if isinstance(entry, dict):
                value = entry.get("ports", entry.get("port"))
                reason = entry.get("reason")
            parsed = _parse_port_range(value)
            if parsed is None or parsed[0] > parsed[1] or parsed[0] < 1 or parsed[1] > PORT_MAX:
                self.err("platform: alorig_reserved_ports[%d] %s is not a port, a "
                         "'low-high' range or {ports: ..., reason: ...}" % (index, _show(entry)))
                continue
            low, high = parsed
            label = "%d" % low if low == high else "%d-%d" % (low, high)
            if reason:
                label += ": %s" % reason
            self.reserved_ports.append((low, high, "alorig_reserved_ports[%d] (%s)"
                                        % (index, label)))

        legacy = p.get("alorig_legacy_containers")
        if legacy is None:
            legacy = []
        if not isinstance(legacy, list) or not all(isinstance(x, str) for x in legacy):
            self.err("platform: alorig_legacy_containers must be a list of container names")
        else:
            self.legacy_containers = set(legacy)

    # -- one app ------------------------------------------------------------------
    def check_app(self, app, entry):
        if not isinstance(app, str) or not APP_KEY_RE.match(app):
            self.err("app %r: the app key must match %s" % (app, APP_KEY_RE.pattern))
        if not self.check_keys(app, "", entry, REQUIRED_APP_KEYS, OPTIONAL_APP_KEYS):
            return None

        enabled = entry.get("enabled")
        if "enabled" in entry and not isinstance(enabled, bool):
            self.app_err(app, "enabled", "must be true or false, got %s" % _show(enabled))
        enabled = enabled is True

        title = entry.get("title")
        if "title" in entry and not _is_nonempty_str(title):
            self.app_err(app, "title", "must be a non-empty string")

        if "environment" in entry and not isinstance(entry["environment"], dict):
            self.app_err(app, "environment", "must be a dict")

        if "media" in entry:
            self.check_media(app, entry["media"])

        compose = entry.get("compose_name")
        if "compose_name" in entry:
            if not isinstance(compose, str) or not COMPOSE_NAME_RE.match(compose):
                self.app_err(app, "compose_name", "%s must match %s"
                             % (_show(compose), COMPOSE_NAME_RE.pattern))
            elif compose == "infra":
                self.app_err(app, "compose_name", "'infra' is the shared infrastructure's "
                             "compose file (docker-compose.infra.yml)")
            else:
                self.claim(self.compose_names, compose, app, "compose_name", repr(compose))

        order = entry.get("rollout_order")
        if "rollout_order" in entry:
            if not _is_int(order) or order <= 0:
                self.app_err(app, "rollout_order", "must be a positive integer, got %s"
                             % _show(order))
            else:
                self.claim(self.rollout_orders, order, app, "rollout_order", str(order))

        ram = entry.get("ram_budget_mb")
        ram_ok = _is_int(ram) and ram > 0
        if "ram_budget_mb" in entry and not ram_ok:
            self.app_err(app, "ram_budget_mb", "must be a positive integer, got %s" % _show(ram))

        if "source" in entry:
            self.check_source(app, entry["source"])

        if "image" in entry:
            self.check_image_name(app, "image", entry["image"])

        backend_port = entry.get("backend_port")
        backend_port_ok = "backend_port" in entry and self.check_port(
            app, "backend_port", backend_port)
        if backend_port_ok:
            self.claim(self.ports, backend_port, app, "backend_port", "%d" % backend_port)

        connection_limit = None
        if "database" in entry:
            connection_limit = self.check_database(app, entry["database"])
        if "redis" in entry:
            self.check_redis(app, entry["redis"])

        container_ports = {}
        if "containers" in entry:
            container_ports = self.check_containers(
                app, entry["containers"], backend_port if _is_int(backend_port) else None)
        if "routes" in entry:
            self.check_routes(app, entry["routes"], container_ports)
        if "secrets" in entry:
            self.check_secrets(app, entry["secrets"], enabled)

        return {
            "enabled": enabled,
            "ram": ram if ram_ok else None,
            "connection_limit": connection_limit,
        }

    def check_source(self, app, source):
        if not isinstance(source, dict):
            self.app_err(app, "source", "must be a dict, got %s" % _typename(source))
            return
        kind = source.get("type")
        if kind not in SOURCE_KEYS:
            self.app_err(app, "source.type", "%s must be one of %s"
                         % (_show(kind), ", ".join(sorted(SOURCE_KEYS))))
            return
        required, optional = SOURCE_KEYS[kind]
        self.check_keys(app, "source", source, ("type",) + required, optional)
        for key in required + optional:
            if key in source and not _is_nonempty_str(source[key]):
                self.app_err(app, "source.%s" % key, "must be a non-empty string")
        if kind == "local" and _is_nonempty_str(source.get("path")):
            path = source["path"]
            if path.startswith("/") or ".." in path.split("/"):
                self.app_err(app, "source.path", "%r must be relative to the repository "
                             "and must not contain '..'" % path)
        if kind == "git" and "version" in source:
            version = source.get("version")
            if _is_nonempty_str(version) and version.strip().lower() in UNPINNED_GIT_REFS:
                self.app_err(app, "source.version", "%r is not pinned: use a tag or a "
                             "commit id" % version)
        if kind == "image" and _is_nonempty_str(source.get("image")):
            match = PINNED_IMAGE_RE.match(source["image"])
            if not match or match.group("tag") == "latest":
                self.app_err(app, "source.image", "%r must be an image reference pinned "
                             "to a tag other than 'latest' or to a sha256 digest"
                             % source["image"])

    def check_media(self, app, media):
        if not isinstance(media, dict) or not media:
            self.app_err(app, "media", "must be a non-empty mapping of a directory name "
                         "to its absolute path in the containers, got %s" % _show(media))
            return
        for name, path in media.items():
            if not isinstance(name, str) or not MEDIA_NAME_RE.match(name):
                self.app_err(app, "media", "%s is not a directory name matching %s"
                             % (_show(name), MEDIA_NAME_RE.pattern))
            if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") == "":
                self.app_err(app, "media.%s" % name, "must be an absolute path other than /, "
                             "got %s" % _show(path))

    def check_image_name(self, app, path, image):
        if not isinstance(image, str) or not IMAGE_NAME_RE.match(image):
            self.app_err(app, path, "%s must be an image name without tag "
                         "(lower-case, e.g. 'igny8-backend')" % _show(image))

    def check_port(self, app, path, port):
        """Range, infrastructure and reserved checks of one port; True when usable."""
        if not _is_int(port):
            self.app_err(app, path, "must be an integer, got %s" % _show(port))
            return False
        if port in INFRA_PORTS:
            self.app_err(app, path, "%d is used by the shared infrastructure (%s)"
                         % (port, INFRA_PORTS[port]))
            return False
        if port < PORT_MIN or port > PORT_MAX:
            self.app_err(app, path, "%d is outside %d-%d" % (port, PORT_MIN, PORT_MAX))
            return False
        usable = True
        for low, high, label in self.reserved_ports:
            if low <= port <= high:
                self.app_err(app, path, "%d is reserved by %s" % (port, label))
                usable = False
        return usable

    def check_database(self, app, database):
        if not self.check_keys(app, "database", database, *DATABASE_KEYS):
            return None
        for key in ("name", "owner"):
            if key not in database:
                continue
            value = database[key]
            path = "database.%s" % key
            if not isinstance(value, str) or not PG_NAME_RE.match(value):
                self.app_err(app, path, "%s must match %s" % (_show(value), PG_NAME_RE.pattern))
                continue
            if len(value) > PG_NAME_MAX:
                self.app_err(app, path, "%r is longer than %d characters" % (value, PG_NAME_MAX))
                continue
            if key == "name":
                if value in RESERVED_DATABASES:
                    self.app_err(app, path, "%r is a PostgreSQL system database" % value)
                    continue
                self.claim(self.databases, value, app, path, repr(value))
            else:
                if value == "postgres" or value.startswith("pg_"):
                    self.app_err(app, path, "%r is a PostgreSQL system role name" % value)
                    continue
                self.claim(self.owners, value, app, path, repr(value))
        if "extensions" in database:
            extensions = database["extensions"]
            if not isinstance(extensions, list):
                self.app_err(app, "database.extensions", "must be a list, got %s"
                             % _typename(extensions))
            else:
                seen = set()
                for index, ext in enumerate(extensions):
                    path = "database.extensions[%d]" % index
                    if not isinstance(ext, str) or not PG_NAME_RE.match(ext):
                        self.app_err(app, path, "%s must match %s"
                                     % (_show(ext), PG_NAME_RE.pattern))
                    elif ext in seen:
                        self.app_err(app, path, "%r is listed twice" % ext)
                    seen.add(ext)
        limit = database.get("connection_limit")
        if "connection_limit" in database:
            if not _is_int(limit) or limit <= 0:
                self.app_err(app, "database.connection_limit",
                             "must be a positive integer, got %s" % _show(limit))
                return None
            return limit
        return None

    def check_redis(self, app, redis):
        if not self.check_keys(app, "redis", redis, *REDIS_KEYS):
            return
        if "db" in redis:
            db = redis["db"]
            if not _is_int(db) or db < 0 or db > REDIS_DB_MAX:
                self.app_err(app, "redis.db", "%s must be an integer 0-%d"
                             % (_show(db), REDIS_DB_MAX))
            else:
                self.claim(self.redis_dbs, db, app, "redis.db", str(db))
        if "prefix" in redis:
            prefix = redis["prefix"]
            if not isinstance(prefix, str) or not REDIS_PREFIX_RE.match(prefix):
                self.app_err(app, "redis.prefix", "%s must match %s (lower-case, end with ':')"
                             % (_show(prefix), REDIS_PREFIX_RE.pattern))
                return
            for other, other_app, other_path in self.redis_prefixes:
                if other == prefix:
                    self.app_err(app, "redis.prefix", "%r is already used by app %r (%s)"
                                 % (prefix, other_app, other_path))
                    return
                if prefix.startswith(other) or other.startswith(prefix):
                    self.app_err(app, "redis.prefix",
                                 "%r overlaps prefix %r of app %r (%s): the ACL key pattern "
                                 "'%s*' would cover the other app's keys"
                                 % (prefix, other, other_app, other_path,
                                    min(prefix, other, key=len)))
                    return
            self.redis_prefixes.append((prefix, app, "redis.prefix"))

    def check_containers(self, app, containers, backend_port):
        """Check the containers; return {name: (kind, port)} of this app."""
        result = {}
        if not isinstance(containers, list) or not containers:
            self.app_err(app, "containers", "must be a non-empty list, got %s"
                         % (_typename(containers) if not isinstance(containers, list)
                            else "an empty list"))
            return result
        backends = []
        app_ports = {}
        if backend_port is not None:
            app_ports[backend_port] = "backend_port"
        for index, container in enumerate(containers):
            where = "containers[%d]" % index
            if not self.check_keys(app, where, container, *CONTAINER_KEYS):
                continue
            name = container.get("name")
            kind = container.get("kind")
            name_ok = False
            if "name" in container:
                name_ok = self.check_container_name(app, where, name)
            if "kind" in container and kind not in CONTAINER_KINDS:
                self.app_err(app, where + ".kind", "%s must be one of %s"
                             % (_show(kind), ", ".join(CONTAINER_KINDS)))
                kind = None
            port = container.get("port")
            has_port = "port" in container
            port_ok = False
            if kind in CONTAINER_KINDS_WITH_PORT and not has_port:
                self.app_err(app, where, "missing required key 'port' (kind %s)" % kind)
            elif kind in CONTAINER_KINDS_WITHOUT_PORT and has_port:
                self.app_err(app, where + ".port", "must not be set: a %s container serves "
                             "no port" % kind)
            elif has_port:
                path = where + ".port"
                if kind == "backend" and _is_int(port) and port == backend_port:
                    port_ok = True  # the same reservation as backend_port
                elif self.check_port(app, path, port):
                    port_ok = True
                    if port in app_ports:
                        self.app_err(app, path, "%d is already used by app %r (%s)"
                                     % (port, app, app_ports[port]))
                    else:
                        app_ports[port] = path
                        self.claim(self.ports, port, app, path, "%d" % port)
            if kind == "backend":
                backends.append((where, port if has_port else None))
            if "image" in container:
                self.check_image_name(app, where + ".image", container["image"])
            if "command" in container:
                command = container["command"]
                if not (_is_nonempty_str(command) or (
                        isinstance(command, list) and command
                        and all(isinstance(c, str) for c in command))):
                    self.app_err(app, where + ".command", "must be a non-empty string or "
                                 "list of strings")
            if "queues" in container:
                queues = container["queues"]
                if not isinstance(queues, list) or not queues or not all(
                        isinstance(q, str) and QUEUE_NAME_RE.match(q) for q in queues):
                    self.app_err(app, where + ".queues", "must be a non-empty list of "
                                 "queue names")
            for key in ("concurrency", "memory_mb"):
                if key in container and (not _is_int(container[key]) or container[key] <= 0):
                    self.app_err(app, "%s.%s" % (where, key), "must be a positive integer, "
                                 "got %s" % _show(container[key]))
            if "environment" in container and not isinstance(container["environment"], dict):
                self.app_err(app, where + ".environment", "must be a dict")
            if name_ok:
                result[name] = (kind, port if port_ok or (has_port and _is_int(port)) else None)
        if not backends:
            self.app_err(app, "containers", "has no container of kind backend (exactly one "
                         "is required)")
        elif len(backends) > 1:
            self.app_err(app, "containers", "has %d containers of kind backend (%s); exactly "
                         "one is required" % (len(backends), ", ".join(w for w, _ in backends)))
        else:
            where, port = backends[0]
            if backend_port is not None and _is_int(port) and port != backend_port:
                self.app_err(app, where + ".port", "%d does not match backend_port %d"
                             % (port, backend_port))
        return result

    def check_container_name(self, app, where, name):
        path = where + ".name"
        if not isinstance(name, str) or not CONTAINER_NAME_RE.match(name):
            self.app_err(app, path, "%s must match %s" % (_show(name), CONTAINER_NAME_RE.pattern))
            return False
        ok = True
        if not name.startswith(str(app) + "_"):
            self.app_err(app, path, "%r must start with the app key ('%s_')" % (name, app))
            ok = False
        else:
            owners = [k for k in self.app_keys if name.startswith(k + "_")]
            closest = max(owners, key=len) if owners else app
            if closest != app:
                self.app_err(app, path, "%r looks like a container of app %r" % (name, closest))
                ok = False
        if name in INFRA_CONTAINERS:
            self.app_err(app, path, "%r is the name of a shared infrastructure container" % name)
            ok = False
        if name in self.legacy_containers:
            self.app_err(app, path, "%r is a legacy container listed in "
                         "alorig_legacy_containers (the prune step would remove it)" % name)
            ok = False
        if not self.claim(self.container_names, name, app, path, repr(name)):
            return False
        self.container_owner[name] = app
        return ok

    def check_routes(self, app, routes, container_ports):
        if not isinstance(routes, list):
            self.app_err(app, "routes", "must be a list, got %s" % _typename(routes))
            return
        for index, route in enumerate(routes):
            where = "routes[%d]" % index
            if not self.check_keys(app, where, route, *ROUTE_KEYS):
                continue
            host = route.get("host")
            host_ok = False
            if "host" in route:
                problem = _dns_name_problem(host, allow_wildcard=True)
                if problem:
                    self.app_err(app, where + ".host", "%s %s" % (_show(host), problem))
                else:
                    host_ok = True
                    bare = host[2:] if host.startswith("*.") else host
                    if self.domains and not any(
                            bare == d or bare.endswith("." + d) for d in self.domains):
                        self.app_err(app, where + ".host", "%r is not in any zone of "
                                     "alorig_domains (%s)" % (host, ", ".join(self.domains)))
            path = route.get("path")
            path_ok = True
            if "path" in route:
                if not isinstance(path, str) or not ROUTE_PATH_RE.match(path):
                    self.app_err(app, where + ".path", "%s must start with '/' and contain "
                                 "only URL path characters" % _show(path))
                    path_ok = False
            if host_ok and path_ok:
                norm = _normalise_path(path)
                self.claim(self.routes, (host, norm), app, where,
                           "host %r path %r" % (host, norm))
            kind = route.get("kind")
            if "kind" in route and kind not in ROUTE_KINDS:
                self.app_err(app, where + ".kind", "%s must be one of %s"
                             % (_show(kind), ", ".join(ROUTE_KINDS)))
            elif kind == "static":
                for key in ("upstream", "port", "upstream_path"):
                    if key in route:
                        self.app_err(app, "%s.%s" % (where, key), "must not be set on a "
                                     "static route")
            elif kind in ("proxy", "websocket"):
                self.check_upstream(app, where, route, container_ports)
            if "allow_ips" in route:
                self.check_allow_ips(app, where + ".allow_ips", route["allow_ips"])

    def check_upstream(self, app, where, route, container_ports):
        for key in ("upstream", "port"):
            if key not in route:
                self.app_err(app, where, "missing required key %r (kind %s)"
                             % (key, route.get("kind")))
        if "upstream_path" in route:
            upath = route["upstream_path"]
            if not isinstance(upath, str) or not ROUTE_PATH_RE.match(upath):
                self.app_err(app, where + ".upstream_path", "%s must start with '/'"
                             % _show(upath))
        if "upstream" not in route:
            return
        upstream = route["upstream"]
        port = route.get("port")
        if "port" in route and not _is_int(port):
            self.app_err(app, where + ".port", "must be an integer, got %s" % _show(port))
            port = None
        if upstream not in container_ports:
            owner = self.container_owner.get(upstream) if isinstance(upstream, str) else None
            if owner is None and isinstance(upstream, str):
                # The owner may come later in the registry.
                for other, entry in self.apps.items():
                    if other == app or not isinstance(entry, dict):
                        continue
                    for c in entry.get("containers") or []:
                        if isinstance(c, dict) and c.get("name") == upstream:
                            owner = other
            if owner is not None and owner != app:
                self.app_err(app, where + ".upstream", "%r is a container of app %r, not of "
                             "app %r" % (upstream, owner, app))
            else:
                self.app_err(app, where + ".upstream", "%s is not a container of app %r "
                             "(containers: %s)" % (_show(upstream), app,
                                                   ", ".join(sorted(container_ports)) or "none"))
            return
        kind, cport = container_ports[upstream]
        if cport is None:
            self.app_err(app, where + ".upstream", "%r serves no port (kind %s)"
                         % (upstream, kind))
        elif port is not None and port != cport:
            self.app_err(app, where + ".port", "%d does not match port %d of container %r"
                         % (port, cport, upstream))

    def check_allow_ips(self, app, path, allow_ips):
        if _is_template(allow_ips):
            self.app_err(app, path, "is an unrendered template %r: render it before "
                         "validation" % allow_ips)
            return
        if not isinstance(allow_ips, list):
            self.app_err(app, path, "must be a list of IP addresses or CIDR networks, got %s"
                         % _typename(allow_ips))
            return
        for index, entry in enumerate(allow_ips):
            item = "%s[%d]" % (path, index)
            if not isinstance(entry, str):
                self.app_err(app, item, "%s must be a string" % _show(entry))
                continue
            try:
                if "/" in entry:
                    ipaddress.ip_network(entry, strict=True)
                else:
                    ipaddress.ip_address(entry)
            except ValueError as exc:
                self.app_err(app, item, "%r is not a valid IP address or CIDR network (%s)"
                             % (entry, exc))

    def check_secrets(self, app, names, enabled):
        if not isinstance(names, list):
            self.app_err(app, "secrets", "must be a list of secret names, got %s"
                         % _typename(names))
            return
        valid = []
        for index, name in enumerate(names):
            path = "secrets[%d]" % index
            if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
                self.app_err(app, path, "%s must match %s" % (_show(name), SECRET_NAME_RE.pattern))
            elif name in valid:
                self.app_err(app, path, "%r is listed twice" % name)
            else:
                valid.append(name)
        for name in REQUIRED_SECRETS:
            if name not in valid:
                self.app_err(app, "secrets", "must include %r" % name)
        if not enabled:
            return
        vault = self.secrets if self.secrets is not None else {}
        if not isinstance(vault, dict):
            return  # reported once in run()
        app_secrets = vault.get(app)
        if app_secrets is not None and not isinstance(app_secrets, dict):
            self.err("app %r: %s[%r] must be a dict of secret name -> value"
                     % (app, SECRETS_VAR, app))
            return
        app_secrets = app_secrets or {}
        for name in valid:
            if name not in app_secrets:
                self.err("app %r: secret %r missing from %s[%r]" % (app, name, SECRETS_VAR, app))
            else:
                value = app_secrets[name]
                if value is None or (isinstance(value, str) and value.strip() == ""):
                    self.err("app %r: secret %r in %s[%r] is empty"
                             % (app, name, SECRETS_VAR, app))
                elif isinstance(value, str) and any(c in value for c in "'\n\r"):
                    # the app's env file holds it single-quoted (roles/alorig_app)
                    self.err("app %r: secret %r in %s[%r] contains a single quote or a "
                             "line break, which the app's env file cannot hold"
                             % (app, name, SECRETS_VAR, app))

    # -- everything ----------------------------------------------------------------
    def run(self):
        self.check_platform()
        if not isinstance(self.apps, dict):
            self.err("alorig_apps must be a dict of app key -> entry, got %s"
                     % _typename(self.apps))
            return self.errors
        if not self.apps:
            self.err("alorig_apps is empty: the registry defines no app")
        if self.secrets is not None and not isinstance(self.secrets, dict):
            self.err("%s must be a dict of app key -> secrets, got %s"
                     % (SECRETS_VAR, _typename(self.secrets)))
        summaries = {}
        for app, entry in self.apps.items():
            summaries[app] = self.check_app(app, entry)
        self.check_totals(summaries)
        return self.errors

    def check_totals(self, summaries):
        enabled = [s for s in summaries.values() if s and s["enabled"]]
        if all(s["ram"] is not None for s in enabled) and None not in (
                self.host_ram, self.headroom, self.os_ram, self.infra_ram):
            apps_ram = sum(s["ram"] for s in enabled)
            total = apps_ram + self.infra_ram + self.os_ram
            limit = self.host_ram - self.headroom
            if total > limit:
                self.err("RAM budget: apps %d MB + infrastructure %d MB + OS %d MB = %d MB "
                         "exceeds %d MB (host %d MB - headroom %d MB); largest apps: %s"
                         % (apps_ram, self.infra_ram, self.os_ram, total, limit,
                            self.host_ram, self.headroom, self._largest(summaries)))
            trigger = self.thresholds.get("steady_state_ram_mb")
            if trigger is not None and total > trigger:
                self.err("RAM budget: planned steady state %d MB (apps %d MB + infrastructure "
                         "%d MB + OS %d MB) exceeds alorig_thresholds.steady_state_ram_mb "
                         "%d MB, the upgrade trigger" % (total, apps_ram, self.infra_ram,
                                                         self.os_ram, trigger))
        max_conn = self.thresholds.get("postgres_connections")
        if max_conn is not None and all(s["connection_limit"] is not None for s in enabled):
            total_conn = sum(s["connection_limit"] for s in enabled)
            if total_conn > max_conn:
                self.err("database connections: the enabled apps' database.connection_limit "
                         "values sum to %d, above alorig_thresholds.postgres_connections %d"
                         % (total_conn, max_conn))

    @staticmethod
    def _largest(summaries):
        ranked = sorted(((s["ram"], app) for app, s in summaries.items()
                         if s and s["enabled"] and s["ram"] is not None), reverse=True)
        return ", ".join("%s %d MB" % (app, ram) for ram, app in ranked[:3]) or "none"


def validate_registry(apps, platform, secrets):
    """Return every error of the registry ``apps`` against ``platform`` and ``secrets``.

    See the module docstring for the rules. An empty list means valid.
    """
    return _Validator(apps, platform, secrets).run()


def validate_infra_secrets(values):
    """Errors for missing or empty infrastructure secrets.

    ``values`` maps a variable name (e.g. ``vault_postgres_superuser_password``) to its
    value, ``None`` when undefined. Messages name the variable, never the value.
    """
    errors = []
    for name in sorted(values or {}):
        value = values[name]
        if value is None:
            errors.append("vault: %s is not defined" % name)
        elif isinstance(value, str) and value.strip() == "":
            errors.append("vault: %s is empty" % name)
    return errors


def validate_inventory(groups, group="alorig_vps"):
    """Errors for the inventory: ``group`` must hold exactly one host."""
    hosts = list((groups or {}).get(group) or [])
    if len(hosts) != 1:
        return ["inventory: group %r must have exactly one host, found %d%s"
                % (group, len(hosts), (" (%s)" % ", ".join(hosts)) if hosts else "")]
    return []
