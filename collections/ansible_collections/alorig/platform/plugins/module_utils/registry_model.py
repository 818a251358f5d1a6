# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry model: one object that validates every input and projects every role input.

Pure Python, no Ansible import: the filter ``alorig.platform.registry_model`` calls
:func:`build`, and the unit tests call it directly.

``build(inputs)`` takes one dict:

``apps``
    the registry ``alorig_apps`` (group_vars/all/apps.yml).
``platform``
    the platform settings keyed by their variable names (group_vars/all/platform.yml and
    the inventory): ``alorig_environment``, ``alorig_host_ram_mb``, ...,
    ``alorig_vps_public_ipv4``, ``alorig_admin_allowlist``, the infrastructure switches,
    and ``alorig_placement``: app key -> the host of the VPS group it runs on (default
    ``{}``: every app on the group's first host; see :func:`placement_of`). The per-host
    figures (``alorig_host_ram_mb`` ...) are those of ``host``.
``vault``
    the secrets keyed by their variable names: ``vault_alorig_app_secrets`` and the
    infrastructure ones (``vault_postgres_superuser_password``, ...).
``groups``
    the inventory's groups (the VPS group ``alorig_vps`` must hold at least one host).
    Without them, every app is on the one host projected (no placement).
``host``
    the inventory host the projection is for (``inventory_hostname``). None, or a host
    outside the VPS group (the control node, the backup host), means the group's first
    host. Validation depends on it too: the RAM and connection sums count the apps
    placed on it.
``roles_path``
    the directories roles are looked up in (each app's role must exist).

and returns ``(errors, projection)``: every error (see module_utils ``registry``), and,
when there is none, the projection — every role's input:

``apps``
    app key -> the deployment spec of role alorig_app (no secret) of EVERY app: name,
    title, enabled, registry_enabled, host, placed_here, role, compose_name, image,
    source, ram_budget_mb, containers (each with its memory limit ``memory_mb`` computed
    from the app's budget), hosts, static, api_base, ws_base, database {name, owner},
    redis_prefix, media, environment. ``registry_enabled`` is the registry's ``enabled``,
    ``host`` the VPS host the app is placed on (None without groups), ``placed_here``
    whether that is the host projected; ``enabled`` is both: an app placed on another
    host is disabled here (its role removes its containers and routes from this host and
    keeps its data).
``app_roles``
    [{role, apps}] the app roles in rollout order with the app keys each deploys
    (disabled apps and apps placed elsewhere included: their role removes them).
Every other key holds only the apps enabled AND placed on the host projected (below,
"the enabled apps"):

``app_secret_env``
    enabled app key -> its secret environment (DATABASE_URL, REDIS_URL,
    DJANGO_SECRET_KEY and the app's own secrets).
``postgres_databases`` / ``postgres_passwords``
    [{name, owner, extensions, connection_limit}] of the enabled apps; owner -> password.
``redis_users`` / ``redis_passwords``
    [{name, prefix, channels}] of the enabled apps; user -> password.
``caddy_sites``
    [{host, routes}] of the enabled apps' routes (each route with its ``app``).
``monitor_apps``
    per enabled app, in rollout order: budget, containers, Celery queue keys, the smoke
    tests of its routes through Caddy.
``rollout``
    [{app, title, role}] the enabled apps in rollout order.
``owned``
    what the platform owns on the host for the enabled apps: container names (the
    registry's), databases, database roles, Redis users, Caddy hosts, volumes.
``pgbouncer``
    PgBouncer (module_utils ``services_model``): enabled, host, port, max_client_conn
    and, per enabled app, its database, owner (login) and pool size; the passwords are
    ``postgres_passwords``.
``redis``
    the server's eviction policy and the default cache TTL.
``monitor_actions``
    per monitored threshold, the seed's action and the variable that takes it.
``monitoring``
    the continuous monitoring stack (module_utils ``monitoring_model``): whether it runs,
    its containers, retention, interval, the exporters' login and the queue keys they read,
    the hosts whose certificates are watched, the alert receivers (names; their secrets stay
    in the vault) and the alert rules generated from the thresholds and the apps.
``backup``
    the backups (module_utils ``backup_model``): whether they are on (a host in the
    inventory's ``alorig_backup`` group), that host, the VPS's public key derived from
    the vault's private key, the schedules, the retention, the monitoring ages and,
    per enabled app, its database, owner, media and volumes.
``placement``
    {host: the VPS host projected, hosts: the VPS hosts in inventory order, apps: app key
    -> its VPS host, for every app}; without groups, host None, hosts [] and every app None.

The secret-bearing parts (``app_secret_env``, ``*_passwords``) are separate from
everything else, so loops and labels over the rest never carry a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import os

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote

from ansible_collections.alorig.platform.plugins.module_utils import backup_model
from ansible_collections.alorig.platform.plugins.module_utils import monitoring_model
from ansible_collections.alorig.platform.plugins.module_utils import services_model
from ansible_collections.alorig.platform.plugins.module_utils.registry import (
    DEFAULT_MEMORY_WEIGHTS,
    REQUIRED_SECRETS,
    expand_replicas,
    memory_split,
    placement_of,
    projected_host,
    secret_problem,
    validate_inventory,
    validate_registry,
    vps_hosts,
    _normalise_path,
    _typename,
)

POSTGRES_HOST = "alorig_postgres"
POSTGRES_PORT = 5432
REDIS_HOST = "alorig_redis"
REDIS_PORT = 6379
# The named volumes each container kind mounts (roles/alorig_app).
KIND_VOLUMES = {"backend": ("media", "static"), "celery_worker": ("media",),
                "celery_beat": ("beat",)}

_CACHE = {}
_CACHE_MAX = 16


def _canonical(value):
    """A JSON-able form that tells apart what the model tells apart (keys of any type)."""
    if isinstance(value, dict):
        return ["d"] + sorted([repr(k), _canonical(v)] for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ["l"] + [_canonical(v) for v in value]
    return [type(value).__name__, repr(value)]


def _fingerprint(inputs):
    text = json.dumps(_canonical(inputs), separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def available_roles(roles_path):
    """Names of the roles (directories with tasks/main.yml) under the given paths."""
    if isinstance(roles_path, str):
        roles_path = roles_path.split(os.pathsep)
    names = set()
    for base in roles_path or []:
        if not isinstance(base, str) or not os.path.isdir(base):
            continue
        for name in os.listdir(base):
            if os.path.isfile(os.path.join(base, name, "tasks", "main.yml")):
                names.add(name)
    return names


def errors_of(inputs):
    """Every error of ``inputs`` (see the module docstring), never raising."""
    if not isinstance(inputs, dict):
        return ["registry model: the input must be a dict, got %s" % _typename(inputs)]
    platform = inputs.get("platform")
    if not isinstance(platform, dict):
        return ["registry model: platform must be a dict, got %s" % _typename(platform)]
    vault = inputs.get("vault")
    if vault is not None and not isinstance(vault, dict):
        return ["registry model: vault must be a dict, got %s" % _typename(vault)]
    vault = vault or {}
    roles = None
    if inputs.get("roles_path") is not None:
        roles = available_roles(inputs.get("roles_path"))
    errors = []
    if "groups" in inputs:
        errors += validate_inventory(inputs.get("groups"))
    errors += validate_registry(inputs.get("apps"), platform,
                                vault.get("vault_alorig_app_secrets"), roles,
                                vault=vault if "vault" in inputs else None,
                                groups=inputs.get("groups") if "groups" in inputs else None,
                                host=inputs.get("host"))
    errors += services_model.errors(platform)
    errors += monitoring_model.errors(platform, vault)
    environment = platform.get("alorig_environment") or "production"
    errors += backup_model.errors(platform, vault if "vault" in inputs else {},
                                  inputs.get("groups") or {}, environment,
                                  secret_problem if environment == "production" else None)
    return errors


def build(inputs):
    """``(errors, projection)``; the projection is None when there is an error."""
    key = _fingerprint(inputs)
    if key in _CACHE:
        errors, projection = _CACHE[key]
        return list(errors), copy.deepcopy(projection)
    errors = errors_of(inputs)
    projection = None if errors else project(inputs)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (errors, projection)
    return list(errors), copy.deepcopy(projection)


# -- the projection (valid input only) ---------------------------------------------------

def _url_secret(value):
    return quote(str(value), safe="")


def _backend(entry):
    return next(c for c in entry["containers"] if c["kind"] == "backend")


def _role_of(app, entry):
    return entry.get("role", app)


def _ordered(apps):
    return sorted(apps.items(), key=lambda item: item[1]["rollout_order"])


def with_replicas(entry):
    """The entry with each worker's replicas as containers of their own."""
    entry = dict(entry)
    entry["containers"] = expand_replicas(entry["containers"])
    return entry


def deploy_spec(app, entry, weights, services, host=None, placed_here=True):
    """The app's deployment spec; ``services`` is services_model.project's result; ``host``
    the VPS host the app is placed on, ``placed_here`` whether it is the host projected."""
    memory = memory_split(entry["containers"], entry["ram_budget_mb"], weights)
    containers = []
    for container in entry["containers"]:
        spec = copy.deepcopy(container)
        spec["memory_mb"] = memory[container["name"]]
        containers.append(spec)
    backend = _backend(entry)["name"]
    api = [r for r in entry["routes"] if r["kind"] == "proxy" and not r["host"].startswith("*")
           and r.get("upstream") == backend]
    websockets = [r for r in entry["routes"] if r["kind"] == "websocket"]
    hosts = []
    for route in entry["routes"]:
        if route["host"] not in hosts:
            hosts.append(route["host"])
    return {
        "name": app,
        "title": entry["title"],
        "enabled": entry["enabled"] and placed_here,
        "registry_enabled": entry["enabled"],
        "host": host,
        "placed_here": placed_here,
        "role": _role_of(app, entry),
        "compose_name": entry["compose_name"],
        "image": entry["image"],
        "source": copy.deepcopy(entry["source"]),
        "ram_budget_mb": entry["ram_budget_mb"],
        "containers": containers,
        "hosts": hosts,
        "static": any(r["kind"] == "static" for r in entry["routes"]),
        "api_base": ("https://%s%s" % (api[0]["host"], api[0].get("path", ""))) if api else "",
        "ws_base": ("wss://%s" % websockets[0]["host"]) if websockets else "",
        "database": {"name": entry["database"]["name"], "owner": entry["database"]["owner"],
                     "pooled": services["pgbouncer"]["enabled"]},
        "redis_prefix": entry["redis"]["prefix"],
        "cache_ttl": entry["redis"].get("cache_ttl", services["redis"]["cache_ttl"]),
        "media": copy.deepcopy(entry.get("media") or {}),
        "environment": dict((k, str(v)) for k, v in (entry.get("environment") or {}).items()),
    }


def secret_env(app, entry, secrets, pooled=False):
    """DATABASE_URL goes through PgBouncer when ``pooled``; DATABASE_DIRECT_URL never does
    (migrations, and anything that needs session features)."""
    env = {}
    for name in entry["secrets"]:
        if name in REQUIRED_SECRETS:
            continue
        env["DJANGO_SECRET_KEY" if name == "django_secret_key" else name.upper()] = \
            str(secrets[name])

    def url(host, port):
        return "postgres://%s:%s@%s:%d/%s" % (
            entry["database"]["owner"], _url_secret(secrets["db_password"]), host, port,
            entry["database"]["name"])
    env["DATABASE_DIRECT_URL"] = url(POSTGRES_HOST, POSTGRES_PORT)
    env["DATABASE_URL"] = (url(services_model.PGBOUNCER_HOST, services_model.PGBOUNCER_PORT)
                           if pooled else env["DATABASE_DIRECT_URL"])
    env["REDIS_URL"] = "redis://%s:%s@%s:%d/%d" % (
        app, _url_secret(secrets["redis_password"]), REDIS_HOST, REDIS_PORT,
        entry["redis"]["db"])
    return env


def _smoke_tests(entry):
    kinds = dict((c["name"], c["kind"]) for c in entry["containers"])
    smoke = []
    for route in entry["routes"]:
        path = (route.get("path") or "").rstrip("/")
        kind = kinds.get(route.get("upstream", ""), "static")
        if route["kind"] == "static":
            check = {"path": path + "/", "max_status": 299 if "allow_ips" not in route else 403}
        elif path or "upstream_path" in route:
            check = {"path": path + "/", "max_status": 499}
        elif kind == "node":
            check = {"path": "/health", "max_status": 299}
        else:
            check = {"path": "/health/", "max_status": 299}
        check["host"] = route["host"]
        check["sni"] = "smoke" + route["host"][1:] if route["host"].startswith("*") \
            else route["host"]
        smoke.append(check)
    return smoke


def monitor_app(app, entry):
    queues = ["celery"]
    for container in entry["containers"]:
        for queue in container.get("queues", []):
            if queue not in queues:
                queues.append(queue)
    return {
        "name": app,
        "title": entry["title"],
        "ram_budget_mb": entry["ram_budget_mb"],
        "rollout_order": entry["rollout_order"],
        "containers": [c["name"] for c in entry["containers"]],
        "redis_db": entry["redis"]["db"],
        "queue_keys": [entry["redis"]["prefix"] + q for q in queues],
        "smoke": _smoke_tests(entry),
    }


def project(inputs):
    apps = inputs["apps"]
    platform = inputs["platform"]
    secrets = (inputs.get("vault") or {}).get("vault_alorig_app_secrets") or {}
    weights = dict(DEFAULT_MEMORY_WEIGHTS)
    weights.update(platform.get("alorig_container_memory_weights") or {})
    apps = dict((app, with_replicas(entry)) for app, entry in apps.items())
    ordered = _ordered(apps)
    # Without an inventory every app is here (host and placements None), as with one host.
    groups = inputs.get("groups")
    hosts = vps_hosts(groups)
    here = projected_host(groups, inputs.get("host"))
    placement = placement_of(apps, groups, platform.get("alorig_placement"))

    def placed(app):
        return placement[app] == here

    # Only the apps placed on this host run here: everything below but the specs and
    # the app roles holds them alone.
    here_ordered = [(app, entry) for app, entry in ordered if placed(app)]
    enabled = [(app, entry) for app, entry in here_ordered if entry["enabled"]]
    services = services_model.project(platform, enabled)
    pooled = services["pgbouncer"]["enabled"]

    specs = dict((app, deploy_spec(app, entry, weights, services, placement[app], placed(app)))
                 for app, entry in ordered)
    roles = []
    for app, entry in ordered:
        role = _role_of(app, entry)
        found = next((r for r in roles if r["role"] == role), None)
        if found is None:
            roles.append({"role": role, "apps": [app]})
        else:
            found["apps"].append(app)

    databases, db_passwords, redis_users, redis_passwords = [], {}, [], {}
    app_secret_env = {}
    sites = {}
    site_order = []
    owned = {"containers": [], "databases": [], "database_roles": [], "redis_users": [],
             "caddy_hosts": [], "volumes": [], "compose_files": []}
    # Databases, users and sites keep the registry's order (stable files and diffs).
    for app, entry in apps.items():
        if not entry["enabled"] or not placed(app):
            continue
        app_secrets = secrets.get(app) or {}
        database = entry["database"]
        databases.append({"name": database["name"], "owner": database["owner"],
                          "extensions": list(database.get("extensions") or []),
                          "connection_limit": database["connection_limit"]})
        db_passwords[database["owner"]] = str(app_secrets.get("db_password", ""))
        redis = entry["redis"]
        redis_users.append({"name": app, "prefix": redis["prefix"],
                            "channels": ["%s/%d.celery.pidbox" % (redis["prefix"], redis["db"])]})
        redis_passwords[app] = str(app_secrets.get("redis_password", ""))
        app_secret_env[app] = secret_env(app, entry, app_secrets, pooled)
        for route in entry["routes"]:
            if route["host"] not in sites:
                sites[route["host"]] = []
                site_order.append(route["host"])
            item = copy.deepcopy(route)
            item["app"] = app
            sites[route["host"]].append(item)
        owned["containers"] += [c["name"] for c in entry["containers"]]
        owned["databases"].append(database["name"])
        owned["database_roles"].append(database["owner"])
        owned["redis_users"].append(app)
        owned["compose_files"].append("docker-compose.%s.yml" % entry["compose_name"])
        kinds = set(c["kind"] for c in entry["containers"])
        owned["volumes"] += sorted(set("%s_%s" % (app, v) for k in kinds
                                       for v in KIND_VOLUMES.get(k, ())))
    for route_host in site_order:
        for route in sites[route_host]:
            if "path" in route:
                route["path"] = _normalise_path(route["path"])
    owned["caddy_hosts"] = sorted(site_order)
    for key in owned:
        owned[key] = sorted(owned[key])

    monitor_apps = [monitor_app(app, entry) for app, entry in enabled]
    return {
        "apps": specs,
        "app_roles": roles,
        "app_secret_env": app_secret_env,
        "postgres_databases": databases,
        "postgres_passwords": db_passwords,
        "redis_users": redis_users,
        "redis_passwords": redis_passwords,
        "caddy_sites": [{"host": host, "routes": sites[host]} for host in site_order],
        "monitor_apps": monitor_apps,
        "rollout": [{"app": app, "title": entry["title"], "role": _role_of(app, entry)}
                    for app, entry in enabled],
        "owned": owned,
        "backup": backup_model.project(platform, inputs.get("vault") or {},
                                       inputs.get("groups") or {}, here_ordered, host=here),
        "pgbouncer": services["pgbouncer"],
        "redis": services["redis"],
        "monitor_actions": services_model.monitor_actions(platform),
        "monitoring": monitoring_model.project(platform, monitor_apps),
        "placement": {"host": here, "hosts": hosts, "apps": placement},
    }
