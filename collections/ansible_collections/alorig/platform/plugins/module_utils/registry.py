# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of the Alorig app registry (``alorig_apps``) and the platform figures.

Pure Python, no Ansible import: used by the filter ``alorig.platform.registry_errors``
(playbooks/validate.yml) and directly by the unit tests.

``validate_registry(apps, platform, secrets, groups=..., host=...)`` returns a list of error
messages: every
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
    ``alorig_ram_headroom_mb``, ``alorig_shared_ram_budget_mb``, ``alorig_os_ram_budget_mb``,
    ``alorig_thresholds``, ``alorig_domains``, and optionally ``alorig_reserved_ports``
    (default ``[]``) and ``alorig_legacy_containers`` (default ``[]``). The content of
    group_vars/all/platform.yml can be passed as it is.
``secrets``
    ``vault_alorig_app_secrets``: app key -> {secret name -> value}; ``None`` means ``{}``.
``groups`` (optional)
    the inventory's groups. Without them every app is on the one host validated (as
    before ``alorig_placement``), and placement values are not checked against hosts.
``host`` (optional)
    the inventory host validated (``inventory_hostname``): the RAM and connection sums
    count the enabled apps ``alorig_placement`` puts on it. ``None``, or a host outside the
    ``alorig_vps`` group (the control node, the backup host), means the group's first host.

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
    PgBouncer upgrade trigger). Optional ``pool_size``: the app's PgBouncer pool (server
    connections) when ``alorig_pgbouncer_enabled``; a positive integer below
    ``connection_limit`` (the rest stays for the direct connections of migrations);
    default half the connection limit, rounded up.
redis
    ``db`` an integer 0-15, unique across apps; ``prefix`` ``^[a-z][a-z0-9_-]*:$``
    (colon-separated segments such as ``igny8:staging:`` are allowed), unique,
    and no app's prefix may be a prefix of another app's prefix (``igny8:`` and
    ``igny8:staging:`` overlap: the Redis ACL pattern ``igny8:*`` would cover both).
    Optional ``cache_ttl``: the default expiry (seconds, a positive integer) of the app's
    Django cache keys; default ``alorig_redis_cache_ttl``.
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
    (dict), memory_mb (positive integer), replicas (celery_worker only, 1-8): the worker
    runs as that many containers, ``<name>``, ``<name>_2``, ... (each name checked like a
    container name), each with the container's memory limit (the budget split counts
    every replica).
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
    ``alorig_shared_ram_budget_mb`` a non-empty dict of positive integers;
    ``alorig_thresholds`` a dict with steady_state_ram_mb, oom_kills, postgres_connections,
    redis_memory_mb, celery_queue_length (integers, oom_kills >= 0, the others > 0; extra
    thresholds must be non-negative numbers); ``alorig_domains`` a non-empty list of unique
    DNS names.
RAM budget
    the enabled apps' ram_budget_mb + every infrastructure budget + the OS budget must not
    exceed ``alorig_host_ram_mb - alorig_ram_headroom_mb``, nor
    ``alorig_thresholds.steady_state_ram_mb`` (the upgrade trigger).
Placement (``alorig_placement``, several VPS hosts)
    optional dict app key -> inventory host of the ``alorig_vps`` group (default ``{}``:
    every app on the group's first host; disabled apps have a placement too). Each key must
    be an app of ``alorig_apps``, each value a host of the group. Every host runs its own
    PostgreSQL, Redis and Caddy: the RAM budget and the connection sum above count only the
    enabled apps placed on the host validated, against that host's own figures
    (``alorig_host_ram_mb`` ...); with more than one VPS host their messages start with
    ``host <name>: ``. Two enabled apps on different hosts must not share a route host
    (DNS points a name at one address). Ports, Redis DB numbers and every other
    reservation stay unique across all hosts, so moving an app never renumbers it.
    ``alorig_placement_together`` (default ``[]``): a list of lists of app keys; the enabled
    apps of each list must be placed on one host (igny8 and igny8_staging: the staging
    refresh copies one database into the other inside one PostgreSQL).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

APP_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
COMPOSE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
PG_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Extension names are quoted identifiers: uuid-ossp, pg_trgm, postgis_topology.
PG_EXTENSION_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
PG_NAME_MAX = 63
REDIS_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_-]*(?::[a-z0-9_-]+)*:$")
CONTAINER_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
CONTAINER_NAME_MAX = 63
SECRET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ROLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
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
OPTIONAL_APP_KEYS = ("description", "environment", "media", "role")
MEDIA_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

SOURCE_KEYS = {
    "local": (("path",), ("dockerfile",)),
    "git": (("repo", "version"), ("path", "dockerfile")),
    "image": (("image",), ()),
}
UNPINNED_GIT_REFS = frozenset(("head", "main", "master", "develop", "trunk", "latest"))

DATABASE_KEYS = (("name", "owner", "extensions", "connection_limit"), ("pool_size",))
RESERVED_DATABASES = frozenset(("postgres", "template0", "template1"))
# Role names PostgreSQL itself refuses or gives a meaning ("role name "public" is reserved").
RESERVED_PG_ROLES = frozenset(("postgres", "public", "none", "current_user", "current_role",
                               "session_user", "user", "alorig_metrics"))
REDIS_KEYS = (("db", "prefix"), ("cache_ttl",))
REDIS_DB_MAX = 15
# Redis users the platform defines itself (redis_prefix: the default user is disabled).
RESERVED_REDIS_USERS = frozenset(("default",))

CONTAINER_KEYS = (("name", "kind"),
                  ("port", "command", "image", "queues", "concurrency", "environment",
                   "memory_mb", "replicas"))
# A Celery worker's replicas: each is a container of its own (<name>, <name>_2, ...).
MAX_REPLICAS = 8
CONTAINER_KINDS_WITH_PORT = ("backend", "channels", "node")
CONTAINER_KINDS_WITHOUT_PORT = ("celery_worker", "celery_beat")
CONTAINER_KINDS = CONTAINER_KINDS_WITH_PORT + CONTAINER_KINDS_WITHOUT_PORT
# The platform's own namespace: its containers (alorig_postgres, alorig_redis,
# alorig_caddy, alorig_portainer, alorig_flower, ...), volumes (alorig_postgres_data),
# compose projects (alorig_infra, alorig_caddy), network (alorig_net), Redis admin user
# (alorig_admin) all start with it, so no app key may.
PLATFORM_NAMESPACE = "alorig"
INFRA_CONTAINERS = frozenset(("alorig_postgres", "alorig_redis", "alorig_caddy",
                              "alorig_portainer", "alorig_flower", "alorig_pgbouncer",
                              "alorig_prometheus", "alorig_alertmanager", "alorig_node_exporter",
                              "alorig_postgres_exporter", "alorig_redis_exporter"))
# Containers the app deployment creates besides the registry's: <app>_<suffix>.
ONE_SHOT_SUFFIXES = ("migrate", "export_frontend", "candidate")
# Compose files the platform writes besides docker-compose.<compose_name>.yml of the apps.
RESERVED_COMPOSE_NAMES = frozenset(("infra", "caddy", "pgbouncer", "monitoring"))
# Roles of the platform that are not app roles.
PLATFORM_ROLES = frozenset(("alorig_app", "alorig_infra", "alorig_monitor", "caddy",
                            "cloudflare_dns", "postgres_db", "redis_prefix", "legacy_prune",
                            "app_migration", "igny8_staging_data", "host_baseline",
                            "pgbouncer", "monitoring"))
# Docker refuses a memory limit below 6 MiB.
DOCKER_MIN_MEMORY_MB = 6
DEFAULT_MEMORY_WEIGHTS = {"backend": 4, "channels": 3, "node": 2, "celery_worker": 3,
                          "celery_beat": 2}

ROUTE_KEYS = (("host", "kind"), ("path", "upstream", "port", "upstream_path", "allow_ips"))
ROUTE_KINDS = ("static", "proxy", "websocket")

REQUIRED_SECRETS = ("db_password", "redis_password")

# Environment variables the platform sets for every app: an app's `environment` must not
# override them, nor point the app at a database, Redis or broker of its own choosing (the
# registry's database and redis keys are the only way, so isolation holds).
PLATFORM_ENV = frozenset((
    "APP_NAME", "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS", "CELERY_BEAT_TICK_SECONDS",
    "CELERY_WORKER_ENABLE_REMOTE_CONTROL", "CELERY_QUEUES", "CELERY_CONCURRENCY",
    "CELERY_WORKER_NAME", "FRONTEND_API_BASE", "FRONTEND_WS_BASE", "PORT",
    "GUNICORN_WORKERS", "GUNICORN_THREADS", "CACHE_DEFAULT_TIMEOUT", "DATABASE_POOLING",
))
CONNECTION_ENV_RE = re.compile(
    r"^(?:DATABASE_|DB_|POSTGRES|PG[A-Z]|REDIS|CELERY_BROKER|CELERY_RESULT|BROKER_|CACHE_URL|"
    r"CACHES?_|CHANNEL_LAYER|AMQP|RABBITMQ)"
)
CONNECTION_VALUE_RE = re.compile(r"(?:postgres(?:ql)?|rediss?|amqps?|redis\+socket)://|"
                                 r"\balorig_(?:postgres|redis)\b", re.IGNORECASE)

PORT_MIN = 1024
PORT_MAX = 65535
INFRA_PORTS = {
    80: "Caddy HTTP",
    6432: "PgBouncer",
    443: "Caddy HTTPS",
    2019: "Caddy admin API",
    5432: "PostgreSQL",
    5555: "Flower",
    6379: "Redis",
    9000: "Portainer",
    9443: "Portainer HTTPS",
    9090: "Prometheus",
    9093: "Alertmanager",
}

REQUIRED_THRESHOLDS = ("steady_state_ram_mb", "oom_kills", "postgres_connections",
                       "redis_memory_mb", "celery_queue_length")
ZERO_ALLOWED_THRESHOLDS = ("oom_kills",)

SECRETS_VAR = "vault_alorig_app_secrets"
# The inventory group of the VPS hosts the apps are placed on.
VPS_GROUP = "alorig_vps"
PLACEMENT_VAR = "alorig_placement"
# Groups of apps that must share a host (a playbook copies between their databases).
TOGETHER_VAR = "alorig_placement_together"
ENVIRONMENTS = ("production", "local")
# A production secret shorter than this is refused (the example vault's placeholders and
# hand-typed words are shorter).
MIN_SECRET_LENGTH = 16
PLACEHOLDER_RE = re.compile(
    r"change[-_ ]?me|changeit|placeholder|example|replace[-_ ]?me|fill[-_ ]?me|^x+$|^todo|"
    r"^secret$|^password$|^passw0rd$|^admin$|^test$|^local-", re.IGNORECASE)

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


def _keyname(value):
    """A key as it appears in a key path: bare when it is a plain name."""
    if isinstance(value, str) and re.match(r"^[A-Za-z0-9_.-]+$", value):
        return value
    return _show(value)


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


def _key(value):
    """A hashable form of a registry value for lookups (lists and dicts are not hashable)."""
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _path_overlaps(a, b):
    """Caddy matches ``path <p>*`` case-insensitively and as a plain string prefix."""
    a, b = a.lower(), b.lower()
    if a == "/" or b == "/":
        return True
    return a.startswith(b) or b.startswith(a)


def _host_covers(wildcard, host):
    """Whether the site ``*.zone`` serves ``host`` (one label, as Caddy and DNS do)."""
    if not wildcard.startswith("*.") or host.startswith("*."):
        return False
    base = wildcard[2:]
    return host.endswith("." + base) and "." not in host[:-len(base) - 1]


def replica_names(name, replicas):
    """The container names of a worker with ``replicas`` replicas: name, name_2, ..."""
    return [name] + ["%s_%d" % (name, i) for i in range(2, replicas + 1)]


def expand_replicas(containers):
    """The containers with each worker's replicas as containers of their own.

    A replica is a copy of its container without ``replicas``, named ``<name>_<i>``
    (i >= 2); the first keeps the name, so scaling up or down never recreates it.
    Callers pass validated input (or skip malformed containers themselves).
    """
    result = []
    for container in containers:
        if not isinstance(container, dict) or "replicas" not in container:
            result.append(container)
            continue
        for name in replica_names(container["name"], container["replicas"]):
            copy_ = dict((k, v) for k, v in container.items() if k != "replicas")
            copy_["name"] = name
            result.append(copy_)
    return result


def memory_split(containers, ram_budget_mb, weights):
    """The memory limit (MB) of each container: ``{name: mb}``.

    A container's explicit ``memory_mb`` is its limit; the rest of ``ram_budget_mb`` is
    split across the other containers in proportion to the weight of their kind (rounded
    down). Callers pass validated input.
    """
    explicit = sum(c["memory_mb"] for c in containers if "memory_mb" in c)
    units = sum(weights[c["kind"]] for c in containers if "memory_mb" not in c)
    result = {}
    for c in containers:
        if "memory_mb" in c:
            result[c["name"]] = c["memory_mb"]
        else:
            result[c["name"]] = int((ram_budget_mb - explicit) * weights[c["kind"]] / units)
    return result


def vps_hosts(groups, group=VPS_GROUP):
    """The hosts of the VPS group, in inventory order (``[]`` when there is none)."""
    if not isinstance(groups, dict):
        return []
    hosts = groups.get(group)
    if not isinstance(hosts, list):
        return []
    return [h for h in hosts if isinstance(h, str)]


def projected_host(groups, host=None):
    """The VPS host a projection (or a validation) is for: ``host`` when it is in the VPS
    group, else the group's first host (the control node, the backup host); None without
    VPS hosts."""
    hosts = vps_hosts(groups)
    if not hosts:
        return None
    return host if isinstance(host, str) and host in hosts else hosts[0]


def placement_of(apps, groups, placement=None):
    """{app: VPS host} of every app of ``apps``: ``placement`` (``alorig_placement``) where
    it names the app, else the first host of the ``alorig_vps`` group of ``groups`` (None
    when the group is empty). Disabled apps have a placement too. The one definition the
    model, the DNS wiring and the playbooks use (filter ``alorig.platform.registry_placement``).
    """
    hosts = vps_hosts(groups)
    default = hosts[0] if hosts else None
    placement = placement if isinstance(placement, dict) else {}
    result = {}
    for app in apps if isinstance(apps, dict) else []:
        value = placement.get(app)
        result[app] = default if value is None else value
    return result


class _Validator:
    def __init__(self, apps, platform, secrets, available_roles=None, vault=None,
                 groups=None, host=None):
        self.apps = apps
        self.vault = vault
        self.groups = groups
        self.host = host
        # app -> VPS host (None: no inventory, every app is on the host validated)
        self.placement = None
        self.here = None
        self.vps_hosts = []
        self.platform = platform if isinstance(platform, dict) else {}
        self.secrets = secrets
        self.available_roles = (None if available_roles is None
                                else set(r for r in available_roles if isinstance(r, str)))
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
        self.route_list = []  # (host, path, app, where) of every well-formed route
        self.app_keys = [k for k in apps if isinstance(k, str)] if isinstance(apps, dict) else []
        self.reserved_ports = []  # (low, high, label)
        self.domains = []
        self.legacy_containers = []  # (index, name)
        self.memory_weights = dict(DEFAULT_MEMORY_WEIGHTS)
        self.environment = "production"
        self.max_connections = None
        self.redis_db_max = REDIS_DB_MAX
        self.host_ram = self.headroom = self.os_ram = self.infra_ram = None
        self.thresholds = {}

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
                         % (app, prefix, _keyname(key), ", ".join(sorted(allowed))))
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

        environment = p.get("alorig_environment", "production")
        if environment not in ENVIRONMENTS:
            self.err("platform: alorig_environment must be one of %s, got %s"
                     % (", ".join(ENVIRONMENTS), _show(environment)))
        else:
            self.environment = environment

        self.host_ram = positive_int("alorig_host_ram_mb")
        self.headroom = positive_int("alorig_ram_headroom_mb", allow_zero=True)
        self.os_ram = positive_int("alorig_os_ram_budget_mb")
        if self.host_ram is not None and self.headroom is not None \
                and self.headroom >= self.host_ram:
            self.err("platform: alorig_ram_headroom_mb %d must be below alorig_host_ram_mb %d"
                     % (self.headroom, self.host_ram))
            self.headroom = None

        infra = p.get("alorig_shared_ram_budget_mb")
        if infra is None:
            self.err("platform: alorig_shared_ram_budget_mb is not defined")
        elif not isinstance(infra, dict) or not infra:
            self.err("platform: alorig_shared_ram_budget_mb must be a non-empty dict "
                     "(service -> MB), got %s" % _typename(infra))
        else:
            total = 0
            for name, value in infra.items():
                if not _is_int(value) or value <= 0:
                    self.err("platform: alorig_shared_ram_budget_mb.%s must be a positive "
                             "integer, got %s" % (_keyname(name), _show(value)))
                    ok = False
                else:
                    total += value
            if ok:
                self.infra_ram = total

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
                             "got %s" % (_keyname(key), _show(value)))
                    continue
                self.thresholds[key] = value

        if "alorig_redis_databases" in p:
            value = p.get("alorig_redis_databases")
            if not _is_int(value) or value < 1 or value > 1024:
                self.err("platform: alorig_redis_databases must be an integer 1-1024, got %s"
                         % _show(value))
            else:
                self.redis_db_max = value - 1

        if "alorig_postgres_max_connections" in p:
            self.max_connections = positive_int("alorig_postgres_max_connections")

        weights = p.get("alorig_container_memory_weights")
        if weights is not None:
            if not isinstance(weights, dict):
                self.err("platform: alorig_container_memory_weights must be a dict of "
                         "container kind -> weight, got %s" % _typename(weights))
            else:
                for kind in weights:
                    if kind not in CONTAINER_KINDS:
                        self.err("platform: alorig_container_memory_weights.%s is not a "
                                 "container kind (%s)" % (_show(kind), ", ".join(CONTAINER_KINDS)))
                for kind in CONTAINER_KINDS:
                    value = weights.get(kind)
                    if kind not in weights:
                        self.err("platform: alorig_container_memory_weights.%s is not defined"
                                 % kind)
                    elif not _is_number(value) or value <= 0:
                        self.err("platform: alorig_container_memory_weights.%s must be a "
                                 "positive number, got %s" % (kind, _show(value)))
                    else:
                        self.memory_weights[kind] = value

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
                label += ": %s" % _show(reason)
            self.reserved_ports.append((low, high, "alorig_reserved_ports[%d] (%s)"
                                        % (index, label)))

        legacy = p.get("alorig_legacy_containers")
        if legacy is None:
            legacy = []
        if not isinstance(legacy, list):
            self.err("platform: alorig_legacy_containers must be a list of container names, "
                     "got %s" % _typename(legacy))
        else:
            for index, name in enumerate(legacy):
                if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
                    self.err("platform: alorig_legacy_containers[%d] %s is not a container name"
                             % (index, _show(name)))
                else:
                    self.legacy_containers.append((index, name))

        self.check_addresses()

    def check_addresses(self):
        """The VPS address every DNS record points at and the admin allowlist."""
        p = self.platform
        production = self.environment == "production"
        if "alorig_vps_public_ipv4" in p:
            value = p["alorig_vps_public_ipv4"]
            address = None
            if value is None:
                self.err("platform: alorig_vps_public_ipv4 is not defined (the VPS's public "
                         "IPv4 address, which every DNS record of the apps points at)")
            elif not isinstance(value, str) or not value.strip():
                self.err("platform: alorig_vps_public_ipv4 must be the VPS's public IPv4 "
                         "address, got %s" % _show(value))
            else:
                try:
                    address = ipaddress.IPv4Address(value.strip())
                except ValueError:
                    self.err("platform: alorig_vps_public_ipv4 %r is not an IPv4 address"
                             % value)
            if address is not None and production and not address.is_global:
                self.err("platform: alorig_vps_public_ipv4 %s is not a public address "
                         "(private, loopback, reserved or documentation range): every DNS "
                         "record of the apps would point at it" % address)
        if "alorig_admin_allowlist" in p:
            allowlist = p["alorig_admin_allowlist"]
            if not isinstance(allowlist, list):
                self.err("platform: alorig_admin_allowlist must be a list of IP addresses or "
                         "CIDR networks, got %s" % _typename(allowlist))
                return
            for index, entry in enumerate(allowlist):
                where = "platform: alorig_admin_allowlist[%d]" % index
                if not isinstance(entry, str):
                    self.err("%s %s must be a string" % (where, _show(entry)))
                    continue
                try:
                    network = ipaddress.ip_network(entry, strict=True)
                except ValueError as exc:
                    self.err("%s %r is not a valid IP address or CIDR network (%s)"
                             % (where, entry, exc))
                    continue
                if network.prefixlen == 0:
                    self.err("%s %r is the whole internet: admin routes would be public"
                             % (where, entry))
                elif production and network.version == 4 and network.prefixlen < 8:
                    self.err("%s %r is wider than a /8 (%d addresses): not an admin allowlist"
                             % (where, entry, network.num_addresses))
                elif production and network.version == 6 and network.prefixlen < 32:
                    self.err("%s %r is wider than a /32: not an admin allowlist"
                             % (where, entry))

    # -- one app ------------------------------------------------------------------
    def check_app(self, app, entry):
        key_ok = isinstance(app, str) and bool(APP_KEY_RE.match(app))
        if not key_ok:
            self.err("app %r: the app key must match %s" % (app, APP_KEY_RE.pattern))
        elif app == PLATFORM_NAMESPACE or app.startswith(PLATFORM_NAMESPACE + "_"):
            self.err("app %r: the app key must not be %r or start with '%s_': that namespace "
                     "holds the platform's own containers, volumes and users"
                     % (app, PLATFORM_NAMESPACE, PLATFORM_NAMESPACE))
        elif app in RESERVED_REDIS_USERS:
            self.err("app %r: the app key names the app's Redis user, and %r is Redis's "
                     "built-in user" % (app, app))
        if not self.check_keys(app, "", entry, REQUIRED_APP_KEYS, OPTIONAL_APP_KEYS):
            return None

        enabled = entry.get("enabled")
        if "enabled" in entry and not isinstance(enabled, bool):
            self.app_err(app, "enabled", "must be true or false, got %s" % _show(enabled))
        enabled = enabled is True

        title = entry.get("title")
        if "title" in entry and not _is_nonempty_str(title):
            self.app_err(app, "title", "must be a non-empty string")

        if "role" in entry:
            self.check_role(app, entry["role"])
        elif key_ok and self.available_roles is not None and app not in self.available_roles:
            self.app_err(app, "role", "is not set and there is no role named %r under roles/ "
                         "(add roles/%s, or set role: to the app role that deploys it)"
                         % (app, app))

        if "environment" in entry:
            self.check_environment(app, "environment", entry["environment"])

        if "media" in entry:
            self.check_media(app, entry["media"])

        compose = entry.get("compose_name")
        if "compose_name" in entry:
            if not isinstance(compose, str) or not COMPOSE_NAME_RE.match(compose):
                self.app_err(app, "compose_name", "%s must match %s"
                             % (_show(compose), COMPOSE_NAME_RE.pattern))
            elif compose in RESERVED_COMPOSE_NAMES:
                self.app_err(app, "compose_name", "%r is the platform's own compose file "
                             "(docker-compose.%s.yml)" % (compose, compose))
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
            if ram_ok:
                self.check_memory(app, entry["containers"], ram)
        if "routes" in entry:
            self.check_routes(app, entry["routes"], container_ports)
        secrets = None
        if "secrets" in entry:
            secrets = self.check_secrets(app, entry["secrets"], enabled)

        return {
            "enabled": enabled,
            "ram": ram if ram_ok else None,
            "connection_limit": connection_limit,
            "secrets": secrets,
        }

    def check_role(self, app, role):
        if not isinstance(role, str) or not ROLE_NAME_RE.match(role):
            self.app_err(app, "role", "%s must be a role name matching %s"
                         % (_show(role), ROLE_NAME_RE.pattern))
        elif role in PLATFORM_ROLES:
            self.app_err(app, "role", "%r is a platform role, not an app role" % role)
        elif self.available_roles is not None and role not in self.available_roles:
            self.app_err(app, "role", "%r is not a role under roles/" % role)

    def check_environment(self, app, path, environment):
        if not isinstance(environment, dict):
            self.app_err(app, path, "must be a dict of variable name -> value, got %s"
                         % _typename(environment))
            return
        for name, value in environment.items():
            where = "%s.%s" % (path, _show(name) if not isinstance(name, str) else name)
            if not isinstance(name, str) or not ENV_NAME_RE.match(name):
                self.app_err(app, path, "%s is not an environment variable name (%s)"
                             % (_show(name), ENV_NAME_RE.pattern))
                continue
            if name in PLATFORM_ENV:
                self.app_err(app, where, "is set by the platform and cannot be overridden")
                continue
            if CONNECTION_ENV_RE.match(name.upper()):
                self.app_err(app, where, "would point the app at a database, Redis or broker "
                             "of its own: connections come from the registry's database and "
                             "redis keys only")
                continue
            if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
                self.app_err(app, where, "must be a string or a number, got %s"
                             % _typename(value))
                continue
            if not isinstance(value, (str, int, float)):
                self.app_err(app, where, "must be a string or a number, got %s"
                             % _typename(value))
                continue
            if isinstance(value, str):
                if _is_template(value):
                    self.app_err(app, where, "is an unrendered template")
                elif CONNECTION_VALUE_RE.search(value):
                    self.app_err(app, where, "holds a connection URL or a shared service's "
                                 "name: connections come from the registry's database and "
                                 "redis keys only")
                elif "\n" in value or "\r" in value:
                    self.app_err(app, where, "must be a single line")

    def check_source(self, app, source):
        if not isinstance(source, dict):
            self.app_err(app, "source", "must be a dict, got %s" % _typename(source))
            return
        kind = source.get("type")
        if _key(kind) not in SOURCE_KEYS:
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
        targets = {}
        for name, path in media.items():
            if not isinstance(name, str) or not MEDIA_NAME_RE.match(name):
                self.app_err(app, "media", "%s is not a directory name matching %s"
                             % (_show(name), MEDIA_NAME_RE.pattern))
                continue
            if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") == "" \
                    or ".." in path.split("/") or ":" in path or _is_template(path):
                self.app_err(app, "media.%s" % name, "must be an absolute path other than /, "
                             "without '..' or ':', got %s" % _show(path))
                continue
            norm = path.rstrip("/")
            if norm in ("/data/media", "/data/static", "/data/beat") or \
                    norm.startswith(("/data/media/", "/data/static/", "/data/beat/")):
                self.app_err(app, "media.%s" % name, "%r is inside a volume the platform "
                             "mounts (/data/media, /data/static, /data/beat)" % path)
            for other, other_path in targets.items():
                if norm == other_path or norm.startswith(other_path + "/") or \
                        other_path.startswith(norm + "/"):
                    self.app_err(app, "media.%s" % name, "%r overlaps media.%s (%r)"
                                 % (path, other, other_path))
            targets[name] = norm

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
                if value in RESERVED_PG_ROLES or value.startswith("pg_"):
                    self.app_err(app, path, "%r is a PostgreSQL system role name" % value)
                    continue
                if value == PLATFORM_NAMESPACE or value.startswith(PLATFORM_NAMESPACE + "_"):
                    self.app_err(app, path, "%r is in the platform's namespace ('%s_')"
                                 % (value, PLATFORM_NAMESPACE))
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
                    if not isinstance(ext, str) or not PG_EXTENSION_RE.match(ext) \
                            or len(ext) > PG_NAME_MAX:
                        self.app_err(app, path, "%s must match %s"
                                     % (_show(ext), PG_EXTENSION_RE.pattern))
                    elif ext in seen:
                        self.app_err(app, path, "%r is listed twice" % ext)
                    else:
                        seen.add(ext)
        limit = database.get("connection_limit")
        if "connection_limit" in database:
            if not _is_int(limit) or limit <= 0:
                self.app_err(app, "database.connection_limit",
                             "must be a positive integer, got %s" % _show(limit))
                return None
            if self.max_connections is not None and limit >= self.max_connections:
                self.app_err(app, "database.connection_limit",
                             "%d is not below alorig_postgres_max_connections %d"
                             % (limit, self.max_connections))
                return None
            if "pool_size" in database:
                self.check_pool_size(app, database["pool_size"], limit)
            return limit
        return None

    def check_pool_size(self, app, pool_size, limit):
        """The PgBouncer pool of the app: below its role's connection limit."""
        if not _is_int(pool_size) or pool_size <= 0:
            self.app_err(app, "database.pool_size", "must be a positive integer, got %s"
                         % _show(pool_size))
        elif pool_size >= limit:
            self.app_err(app, "database.pool_size", "%d is not below database.connection_limit "
                         "%d: PgBouncer's server connections would take every connection the "
                         "app's role may open, leaving none for its migrations (they connect "
                         "directly)" % (pool_size, limit))

    def check_redis(self, app, redis):
        if not self.check_keys(app, "redis", redis, *REDIS_KEYS):
            return
        if "db" in redis:
            db = redis["db"]
            if not _is_int(db) or db < 0 or db > self.redis_db_max:
                self.app_err(app, "redis.db", "%s must be an integer 0-%d (alorig_redis_databases "
                             "%d)" % (_show(db), self.redis_db_max, self.redis_db_max + 1))
            else:
                self.claim(self.redis_dbs, db, app, "redis.db", str(db))
        if "prefix" in redis:
            prefix = redis["prefix"]
            if not isinstance(prefix, str) or not REDIS_PREFIX_RE.match(prefix):
                self.app_err(app, "redis.prefix", "%s must match %s (lower-case, end with ':')"
                             % (_show(prefix), REDIS_PREFIX_RE.pattern))
                return
            if prefix.startswith(PLATFORM_NAMESPACE + ":") or \
                    prefix.startswith(PLATFORM_NAMESPACE + "_"):
                self.app_err(app, "redis.prefix", "%r is in the platform's namespace" % prefix)
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
        if "cache_ttl" in redis:
            ttl = redis["cache_ttl"]
            if not _is_int(ttl) or ttl <= 0:
                self.app_err(app, "redis.cache_ttl", "must be a positive integer (seconds), got "
                             "%s: a cache key without expiry is never evicted under a "
                             "volatile-* policy and fills Redis" % _show(ttl))

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
            if "kind" in container and _key(kind) not in CONTAINER_KINDS:
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
                        and all(isinstance(c, str) and c for c in command))):
                    self.app_err(app, where + ".command", "must be a non-empty string or "
                                 "list of strings")
            if "queues" in container:
                queues = container["queues"]
                if kind is not None and kind != "celery_worker":
                    self.app_err(app, where + ".queues", "only a celery_worker consumes "
                                 "queues (kind %s)" % kind)
                elif not isinstance(queues, list) or not queues or not all(
                        isinstance(q, str) and QUEUE_NAME_RE.match(q) for q in queues):
                    self.app_err(app, where + ".queues", "must be a non-empty list of "
                                 "queue names")
                elif len(set(queues)) != len(queues):
                    self.app_err(app, where + ".queues", "lists a queue twice")
            for key in ("concurrency", "memory_mb"):
                if key in container and (not _is_int(container[key]) or container[key] <= 0):
                    self.app_err(app, "%s.%s" % (where, key), "must be a positive integer, "
                                 "got %s" % _show(container[key]))
            if "replicas" in container:
                replicas = container["replicas"]
                if kind is not None and kind != "celery_worker":
                    self.app_err(app, where + ".replicas", "only a celery_worker runs as "
                                 "replicas (kind %s)" % kind)
                elif not _is_int(replicas) or replicas < 1 or replicas > MAX_REPLICAS:
                    self.app_err(app, where + ".replicas", "must be an integer 1-%d, got %s"
                                 % (MAX_REPLICAS, _show(replicas)))
                elif name_ok:
                    for extra in replica_names(name, replicas)[1:]:
                        self.check_container_name(app, where + ".replicas", extra,
                                                  path=where + ".replicas")
            if "concurrency" in container and kind == "celery_beat":
                self.app_err(app, where + ".concurrency", "must not be set on celery_beat "
                             "(one scheduler per app)")
            if "environment" in container:
                self.check_environment(app, where + ".environment", container["environment"])
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
        beats = [i for i, c in enumerate(containers)
                 if isinstance(c, dict) and c.get("kind") == "celery_beat"]
        if len(beats) > 1:
            self.app_err(app, "containers", "has %d celery_beat containers: one scheduler "
                         "per app, or every periodic task runs twice" % len(beats))
        return result

    def check_memory(self, app, containers, ram):
        """Explicit and computed memory limits of the containers against the app budget."""
        if not isinstance(containers, list):
            return
        valid = [c for c in containers if isinstance(c, dict)
                 and isinstance(c.get("name"), str) and _key(c.get("kind")) in CONTAINER_KINDS
                 and ("memory_mb" not in c or (_is_int(c["memory_mb"]) and c["memory_mb"] > 0))]
        if len(valid) != len(containers):
            return  # reported by check_containers
        if any("replicas" in c and not (_is_int(c["replicas"]) and
                                        1 <= c["replicas"] <= MAX_REPLICAS) for c in valid):
            return  # reported by check_containers
        for index, c in enumerate(valid):
            if "memory_mb" in c:
                if c["memory_mb"] < DOCKER_MIN_MEMORY_MB:
                    self.app_err(app, "containers[%d].memory_mb" % index,
                                 "%d is below Docker's minimum memory limit (%d MB)"
                                 % (c["memory_mb"], DOCKER_MIN_MEMORY_MB))
                    return
                if c["memory_mb"] > ram:
                    self.app_err(app, "containers[%d].memory_mb" % index,
                                 "%d is above the app's ram_budget_mb %d" % (c["memory_mb"], ram))
                    return
        valid = expand_replicas(valid)
        explicit = sum(c["memory_mb"] for c in valid if "memory_mb" in c)
        rest = [c for c in valid if "memory_mb" not in c]
        if explicit > ram or (explicit == ram and rest):
            self.app_err(app, "ram_budget_mb", "%d MB leaves nothing for %s after the explicit "
                         "containers[].memory_mb (%d MB)"
                         % (ram, ", ".join(c["name"] for c in rest) or "the containers",
                            explicit))
            return
        split = memory_split(valid, ram, self.memory_weights)
        for c in valid:
            if split[c["name"]] < DOCKER_MIN_MEMORY_MB:
                index = next(i for i, o in enumerate(containers)
                             if isinstance(o, dict) and c["name"] in
                             replica_names(o.get("name"), o.get("replicas", 1)))
                self.app_err(app, "containers[%d]" % index, "%r would get %d MB of "
                             "ram_budget_mb %d, below Docker's minimum memory limit (%d MB)"
                             % (c["name"], split[c["name"]], ram, DOCKER_MIN_MEMORY_MB))

    def check_container_name(self, app, where, name, path=None):
        path = path or where + ".name"
        if not isinstance(name, str) or not CONTAINER_NAME_RE.match(name):
            self.app_err(app, path, "%s must match %s" % (_show(name), CONTAINER_NAME_RE.pattern))
            return False
        if len(name) > CONTAINER_NAME_MAX:
            self.app_err(app, path, "%r is longer than %d characters" % (name, CONTAINER_NAME_MAX))
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
        if name in INFRA_CONTAINERS or name.startswith(PLATFORM_NAMESPACE + "_"):
            self.app_err(app, path, "%r is in the platform's namespace (shared "
                         "infrastructure containers)" % name)
            ok = False
        for key in self.app_keys:
            for suffix in ONE_SHOT_SUFFIXES:
                if name == "%s_%s" % (key, suffix):
                    self.app_err(app, path, "%r is the name of the %s container the platform "
                                 "creates for app %r" % (name, suffix.replace("_", " "), key))
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
                if self.claim(self.routes, (host, norm.lower()), app, where,
                              "host %r path %r" % (host, norm)):
                    self.route_list.append((host, norm, app, where))
            kind = route.get("kind")
            if "kind" in route and _key(kind) not in ROUTE_KINDS:
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

    def check_route_overlaps(self):
        """Routes of different apps that one request could match: the longer prefix (or
        the exact host under another app's wildcard) would take that app's traffic."""
        routes = self.route_list
        for i, (host, path, app, where) in enumerate(routes):
            for other_host, other_path, other_app, other_where in routes[:i]:
                if other_app == app:
                    continue
                if host == other_host:
                    if path.lower() == other_path.lower():
                        continue  # an exact duplicate is reported by claim()
                    if _path_overlaps(path, other_path):
                        longer, shorter = ((path, other_path) if len(path) > len(other_path)
                                           else (other_path, path))
                        self.app_err(app, where, "host %r path %r overlaps path %r of app %r "
                                     "(%s): requests under %r would go to one app while the "
                                     "other expects them" % (host, path, other_path, other_app,
                                                             other_where, longer))
                elif _host_covers(other_host, host) or _host_covers(host, other_host):
                    wildcard, name = ((other_host, host) if other_host.startswith("*.")
                                      else (host, other_host))
                    if _path_overlaps(path, other_path):
                        self.app_err(app, where, "host %r overlaps host %r of app %r (%s): the "
                                     "wildcard site %r serves %r, which one app would take "
                                     "from the other" % (host, other_host, other_app,
                                                         other_where, wildcard, name))

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
        if not isinstance(upstream, str):
            self.app_err(app, where + ".upstream", "%s must be the name of a container of "
                         "app %r" % (_show(upstream), app))
            return
        if upstream not in container_ports:
            owner = self.container_owner.get(upstream)
            if owner is None:
                # The owner may come later in the registry.
                for other, entry in self.apps.items():
                    if other == app or not isinstance(entry, dict):
                        continue
                    containers = entry.get("containers")
                    for c in containers if isinstance(containers, list) else []:
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
                network = ipaddress.ip_network(entry, strict=True)
            except ValueError as exc:
                self.app_err(app, item, "%r is not a valid IP address or CIDR network (%s)"
                             % (entry, exc))
                continue
            if network.prefixlen == 0:
                self.app_err(app, item, "%r is the whole internet: the allowlist would allow "
                             "everyone" % entry)

    def check_secrets(self, app, names, enabled):
        """Check the secret names; return {name: value} of an enabled app's secrets."""
        if not isinstance(names, list):
            self.app_err(app, "secrets", "must be a list of secret names, got %s"
                         % _typename(names))
            return None
        valid = []
        for index, name in enumerate(names):
            path = "secrets[%d]" % index
            if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
                self.app_err(app, path, "%s must match %s" % (_show(name), SECRET_NAME_RE.pattern))
            elif name in valid:
                self.app_err(app, path, "%r is listed twice" % name)
            elif name not in REQUIRED_SECRETS and name != "django_secret_key" and (
                    name.upper() in PLATFORM_ENV or CONNECTION_ENV_RE.match(name.upper())):
                self.app_err(app, path, "%r would become the environment variable %s, which "
                             "the platform sets" % (name, name.upper()))
            else:
                valid.append(name)
        for name in REQUIRED_SECRETS:
            if name not in valid:
                self.app_err(app, "secrets", "must include %r" % name)
        if not enabled:
            return None
        vault = self.secrets if self.secrets is not None else {}
        if not isinstance(vault, dict):
            return None  # reported once in run()
        app_secrets = vault.get(app)
        if app_secrets is not None and not isinstance(app_secrets, dict):
            self.err("app %r: %s[%r] must be a dict of secret name -> value"
                     % (app, SECRETS_VAR, app))
            return None
        app_secrets = app_secrets or {}
        found = {}
        for name in valid:
            where = "%s[%r].%s" % (SECRETS_VAR, app, name)
            if name not in app_secrets:
                self.err("app %r: secret %r missing from %s[%r]" % (app, name, SECRETS_VAR, app))
                continue
            value = app_secrets[name]
            if _is_int(value) or _is_number(value):
                value = str(value)
            if value is None or (isinstance(value, str) and value.strip() == ""):
                self.err("app %r: secret %r in %s[%r] is empty"
                         % (app, name, SECRETS_VAR, app))
            elif not isinstance(value, str):
                self.err("app %r: secret %r in %s[%r] must be a string, got %s"
                         % (app, name, SECRETS_VAR, app, _typename(value)))
            elif any(c in value for c in "'\n\r"):
                # the app's env file holds it single-quoted (roles/alorig_app)
                self.err("app %r: secret %r in %s[%r] contains a single quote or a "
                         "line break, which the app's env file cannot hold"
                         % (app, name, SECRETS_VAR, app))
            else:
                problem = self.secret_quality(value)
                if problem:
                    self.err("app %r: secret %r in %s[%r] %s" % (app, name, SECRETS_VAR, app,
                                                                problem))
                found[where] = value
        for name in app_secrets:
            if name not in valid and isinstance(name, str) and SECRET_NAME_RE.match(name):
                if name in names:
                    continue
                self.err("app %r: %s[%r] has %r, which the app's secrets list does not name "
                         "(a typo, or add it to secrets)" % (app, SECRETS_VAR, app, name))
        return found

    def secret_quality(self, value):
        """Why a production secret is unfit (never quoting it), or None."""
        if self.environment != "production":
            return None
        return secret_problem(value)

    def check_vault(self, app_secret_values):
        """Infrastructure secrets, and every secret used once (names only in messages)."""
        p = self.platform
        vault = self.vault if isinstance(self.vault, dict) else {}
        required = ["vault_postgres_superuser_password", "vault_redis_admin_password",
                    "vault_cloudflare_api_token"]
        if p.get("alorig_infra_portainer_enabled", False) is True:
            required.append("vault_portainer_admin_password")
        if p.get("alorig_infra_flower_enabled", False) is True:
            required.append("vault_flower_password")
        # the exporters' own logins, while the monitoring stack is on (imported here:
        # monitoring_model builds on this module)
        from ansible_collections.alorig.platform.plugins.module_utils import monitoring_model
        if monitoring_model.enabled(p):
            required += list(monitoring_model.VAULT_SECRETS)
        values = dict(app_secret_values)
        for name in required:
            value = vault.get(name)
            if value is None:
                self.err("vault: %s is not defined" % name)
            elif not isinstance(value, str):
                self.err("vault: %s must be a string, got %s" % (name, _typename(value)))
            elif value.strip() == "":
                self.err("vault: %s is empty" % name)
            elif any(c in value for c in "'\n\r"):
                self.err("vault: %s contains a single quote or a line break, which the "
                         "services' env files cannot hold" % name)
            elif value != value.strip() or any(c.isspace() for c in value) \
                    and name == "vault_cloudflare_api_token":
                self.err("vault: %s has white space (a copy-paste error?)" % name)
            else:
                problem = self.secret_quality(value)
                if problem:
                    self.err("vault: %s %s" % (name, problem))
                values[name] = value
        if self.environment != "production":
            return
        seen = {}
        for where in sorted(values):
            value = values[where]
            if value in seen:
                self.err("vault: %s has the same value as %s: every secret must be "
                         "different" % (where, seen[value]))
            else:
                seen[value] = where

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
            try:
                summaries[app] = self.check_app(app, entry)
            except Exception as exc:  # a safety net: the run must name the app, never crash
                self.err("app %r: could not be checked (%s: %s); fix its malformed values "
                         "reported above or below" % (app, type(exc).__name__, exc))
                summaries[app] = None
        if isinstance(self.secrets, dict):
            for app in self.secrets:
                if app not in self.apps:
                    self.err("vault: %s[%r] belongs to no app of the registry (renamed?)"
                             % (SECRETS_VAR, app))
        self.check_route_overlaps()
        self.check_legacy()
        self.check_placement(summaries)
        self.check_totals(summaries)
        if self.vault is not None:
            values = {}
            for summary in summaries.values():
                if summary and summary.get("secrets"):
                    values.update(summary["secrets"])
            self.check_vault(values)
        return self.errors

    def check_legacy(self):
        """The prune list must never name a container the platform manages."""
        for index, name in self.legacy_containers:
            where = "platform: alorig_legacy_containers[%d] %r" % (index, name)
            if name in INFRA_CONTAINERS or name.startswith(PLATFORM_NAMESPACE + "_"):
                self.err("%s is a container of the shared infrastructure: the prune would "
                         "remove it" % where)
            elif name in self.container_names:
                app, path = self.container_names[name]
                self.app_err(app, path, "%r is listed in alorig_legacy_containers[%d]: the "
                             "prune would remove the app's container" % (name, index))
            else:
                for key in self.app_keys:
                    if any(name == "%s_%s" % (key, s) for s in ONE_SHOT_SUFFIXES):
                        self.err("%s is a container the platform creates for app %r"
                                 % (where, key))

    def check_placement(self, summaries):
        """alorig_placement: apps of the registry on hosts of the VPS group, and the enabled
        apps that share a route host on one host (DNS points a name at one address)."""
        placement = self.platform.get(PLACEMENT_VAR)
        if placement is None:
            placement = {}
        if not isinstance(placement, dict):
            self.err("platform: %s must be a dict of app -> host, got %s"
                     % (PLACEMENT_VAR, _typename(placement)))
            placement = {}
        self.vps_hosts = hosts = vps_hosts(self.groups)
        known = sorted(str(a) for a in self.apps)
        for app, value in placement.items():
            if app not in self.apps:
                self.err("platform: %s.%s: no such app in alorig_apps (apps: %s)"
                         % (PLACEMENT_VAR, _keyname(app), ", ".join(known)))
            elif hosts and (not isinstance(value, str) or value not in hosts):
                # without VPS hosts the inventory's own error says it
                self.app_err(app, "%s.%s" % (PLACEMENT_VAR, _keyname(app)),
                             "%s is not a host of the %s group (hosts: %s)"
                             % (_show(value), VPS_GROUP, ", ".join(hosts)))
        together = self.check_together(known)
        if self.groups is None or not hosts:
            return
        self.here = projected_host(self.groups, self.host)
        self.placement = placement_of(self.apps, self.groups, placement)
        for index, group in together:
            enabled = [a for a in group if summaries.get(a) and summaries[a]["enabled"]]
            for app in enabled[1:]:
                if self.placement.get(app) != self.placement.get(enabled[0]):
                    self.app_err(app, "%s.%s" % (PLACEMENT_VAR, _keyname(app)),
                                 "%s puts it on host %r and app %r on host %r, but %s[%d] (%s) "
                                 "keeps these apps on one host; place them together"
                                 % (PLACEMENT_VAR, self.placement.get(app), enabled[0],
                                    self.placement.get(enabled[0]), TOGETHER_VAR, index,
                                    ", ".join(str(a) for a in group)))
        first = {}  # route host -> (app, where, VPS host) of its first enabled app
        reported = set()
        for name, _path, app, where in self.route_list:
            summary = summaries.get(app)
            vps = self.placement.get(app)
            if not (summary and summary["enabled"]) or vps not in hosts:
                continue
            if name not in first:
                first[name] = (app, where, vps)
                continue
            other, other_where, other_vps = first[name]
            if other_vps != vps and (name, app) not in reported:
                reported.add((name, app))
                self.app_err(app, where + ".host", "%r is also a route host of app %r (%s), "
                             "which %s puts on host %r while app %r is on host %r: DNS points "
                             "a name at one address only; place both apps on one host"
                             % (name, other, other_where, PLACEMENT_VAR, other_vps, app, vps))

    def check_together(self, known):
        """alorig_placement_together: a list of lists of app keys. Returns the valid lists,
        with their index."""
        together = self.platform.get(TOGETHER_VAR)
        if together is None:
            return []
        if not isinstance(together, list):
            self.err("platform: %s must be a list of lists of apps that share a host, got %s"
                     % (TOGETHER_VAR, _typename(together)))
            return []
        valid = []
        for index, group in enumerate(together):
            if not isinstance(group, list) or len(group) < 2:
                self.err("platform: %s[%d] must be a list of at least two apps, got %s"
                         % (TOGETHER_VAR, index, _show(group)))
                continue
            unknown = [a for a in group if not isinstance(a, str) or a not in self.apps]
            if unknown:
                self.err("platform: %s[%d]: no such app in alorig_apps: %s (apps: %s)"
                         % (TOGETHER_VAR, index, ", ".join(_show(a) for a in unknown),
                            ", ".join(known)))
                continue
            valid.append((index, group))
        return valid

    def _placed_here(self, app):
        return self.placement is None or self.placement.get(app) == self.here

    def check_totals(self, summaries):
        # Each VPS host has its own PostgreSQL, Redis and Caddy: the sums count the apps
        # placed on the host validated.
        summaries = dict((app, s) for app, s in summaries.items() if self._placed_here(app))
        where = "host %s: " % self.here if len(self.vps_hosts) > 1 else ""
        enabled = [s for s in summaries.values() if s and s["enabled"]]
        trigger = self.thresholds.get("steady_state_ram_mb")
        if self.host_ram is not None:
            for key in ("steady_state_ram_mb", "redis_memory_mb"):
                value = self.thresholds.get(key)
                if value is not None and value > self.host_ram:
                    self.err("platform: alorig_thresholds.%s %d is above alorig_host_ram_mb "
                             "%d: the alarm could never fire" % (key, value, self.host_ram))
        max_conn = self.thresholds.get("postgres_connections")
        if self.max_connections is not None and max_conn is not None \
                and max_conn >= self.max_connections:
            self.err("platform: alorig_thresholds.postgres_connections %d is not below "
                     "alorig_postgres_max_connections %d: PostgreSQL refuses connections "
                     "before the alarm fires" % (max_conn, self.max_connections))
        if all(s["ram"] is not None for s in enabled) and None not in (
                self.host_ram, self.headroom, self.os_ram, self.infra_ram):
            apps_ram = sum(s["ram"] for s in enabled)
            total = apps_ram + self.infra_ram + self.os_ram
            limit = self.host_ram - self.headroom
            if total > limit:
                self.err(where + "RAM budget: apps %d MB + infrastructure %d MB + OS %d MB = %d MB "
                         "exceeds %d MB (host %d MB - headroom %d MB); largest apps: %s"
                         % (apps_ram, self.infra_ram, self.os_ram, total, limit,
                            self.host_ram, self.headroom, self._largest(summaries)))
            if trigger is not None and total > trigger:
                self.err(where + "RAM budget: planned steady state %d MB (apps %d MB + infrastructure "
                         "%d MB + OS %d MB) exceeds alorig_thresholds.steady_state_ram_mb "
                         "%d MB, the upgrade trigger" % (total, apps_ram, self.infra_ram,
                                                         self.os_ram, trigger))
        if max_conn is not None and all(s["connection_limit"] is not None for s in enabled):
            total_conn = sum(s["connection_limit"] for s in enabled)
            if total_conn > max_conn:
                self.err(where + "database connections: the enabled apps' database.connection_limit "
                         "values sum to %d, above alorig_thresholds.postgres_connections %d"
                         % (total_conn, max_conn))

    @staticmethod
    def _largest(summaries):
        ranked = sorted(((s["ram"], str(app)) for app, s in summaries.items()
                         if s and s["enabled"] and s["ram"] is not None), reverse=True)
        return ", ".join("%s %d MB" % (app, ram) for ram, app in ranked[:3]) or "none"


def secret_problem(value):
    """Why a value is unfit as a production secret (never quoting it), or None."""
    if PLACEHOLDER_RE.search(value):
        return "is a placeholder (like the example vault's): set a real secret"
    if len(value) < MIN_SECRET_LENGTH:
        return "is shorter than %d characters" % MIN_SECRET_LENGTH
    if len(set(value)) < 6:
        return "has fewer than 6 distinct characters"
    return None


def validate_registry(apps, platform, secrets, available_roles=None, vault=None, groups=None,
                      host=None):
    """Return every error of the registry ``apps`` against ``platform`` and ``secrets``.

    See the module docstring for the rules. An empty list means valid. ``available_roles``
    (role names under roles/) checks each app's role; ``vault`` (the infrastructure
    secrets by variable name) checks them and, in production, every secret's quality;
    ``groups`` (the inventory's) checks ``alorig_placement`` against the VPS hosts, and the
    sums count the apps placed on ``host`` (default: the first VPS host).
    """
    return _Validator(apps, platform, secrets, available_roles, vault, groups, host).run()


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


def validate_inventory(groups, group=VPS_GROUP):
    """Errors for the inventory: ``group`` must hold at least one host (the apps are placed
    on its hosts by ``alorig_placement``, by default all on the first)."""
    if not isinstance(groups, dict):
        return ["inventory: groups must be a dict, got %s" % _typename(groups)]
    hosts = groups.get(group) or []
    if not isinstance(hosts, list):
        hosts = []
    if not hosts:
        return ["inventory: group %r must have at least one host, found 0 (the host the "
                "apps run on)" % group]
    return []
