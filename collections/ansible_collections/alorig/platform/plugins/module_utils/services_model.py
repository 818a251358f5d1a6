# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seeds' upgrade-trigger actions as platform switches: the part of the registry model
that validates and projects them (pure Python, no Ansible import).

Seed 001 §10 pairs each monitoring threshold with an action. The actions the platform
can take for the operator are switches in the platform settings (group_vars/all/platform.yml
or the inventory):

``alorig_pgbouncer_enabled`` (bool, default false)
    PgBouncer in transaction pooling mode on ``alorig_net`` (container ``alorig_pgbouncer``,
    port 6432); every app's ``DATABASE_URL`` points at it and ``DATABASE_DIRECT_URL`` at
    PostgreSQL (migrations and anything needing session features). Needs
    ``alorig_shared_ram_budget_mb.pgbouncer``.
``alorig_pgbouncer_max_client_conn`` (positive integer, default 1000)
    the client connections PgBouncer accepts (all apps together).
``alorig_redis_maxmemory_policy`` (default ``volatile-lru``)
    Redis's eviction policy. Every app uses Redis as its Celery broker, whose queue keys
    have no expiry: the ``volatile-*`` policies evict only keys with an expiry (the Django
    cache, Celery's results), ``noeviction`` refuses writes when Redis is full. The
    ``allkeys-*`` policies would evict queued tasks (lost work) and are refused.
``alorig_redis_cache_ttl`` (positive integer, seconds, default 300, Django's own)
    the default expiry of every app's cache keys (per app: ``redis.cache_ttl``).

Per app (module_utils ``registry`` validates them): ``database.pool_size``,
``redis.cache_ttl``, and a Celery worker's ``concurrency``, ``replicas`` and ``queues``.

:func:`monitor_actions` maps each monitored threshold to the seed's action and the
variable that takes it, for the monitoring's messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.alorig.platform.plugins.module_utils.registry import _is_int

PGBOUNCER_HOST = "alorig_pgbouncer"
PGBOUNCER_PORT = 6432
DEFAULT_MAX_CLIENT_CONN = 1000
DEFAULT_CACHE_TTL = 300
DEFAULT_POLICY = "volatile-lru"
# Redis 7's policies: the volatile-* ones and noeviction never touch a key without expiry.
SAFE_POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                 "noeviction")
BROKER_EVICTING_POLICIES = ("allkeys-lru", "allkeys-lfu", "allkeys-random")


# `-e alorig_pgbouncer_enabled=true` arrives as the string "true": the words YAML and
# Ansible's `bool` read as booleans are accepted, anything else is an error.
BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def as_int(value):
    """An integer, or a string of digits (`-e name=2000`), as an int; None otherwise."""
    if _is_int(value):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_bool(value):
    """True/False for a boolean or a boolean word, None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return BOOL_WORDS.get(value.strip().lower())
    return None


def settings(platform):
    """The switches with their defaults (validated input)."""
    def get(name, default):
        value = platform.get(name)
        return default if value is None else value
    return {
        "pgbouncer_enabled": bool(as_bool(get("alorig_pgbouncer_enabled", False))),
        "max_client_conn": as_int(get("alorig_pgbouncer_max_client_conn",
                                      DEFAULT_MAX_CLIENT_CONN)),
        "maxmemory_policy": get("alorig_redis_maxmemory_policy", DEFAULT_POLICY),
        "cache_ttl": as_int(get("alorig_redis_cache_ttl", DEFAULT_CACHE_TTL)),
    }


def errors(platform):
    """Every error of the switches (messages name the variable)."""
    found = []
    enabled = platform.get("alorig_pgbouncer_enabled")
    if enabled is not None and as_bool(enabled) is None:
        found.append("platform: alorig_pgbouncer_enabled must be true or false, got %r"
                     % (enabled,))
    enabled = as_bool(enabled)
    conn = platform.get("alorig_pgbouncer_max_client_conn")
    if conn is not None and (as_int(conn) is None or as_int(conn) <= 0):
        found.append("platform: alorig_pgbouncer_max_client_conn must be a positive integer, "
                     "got %r" % (conn,))
    if enabled is True:
        budget = platform.get("alorig_shared_ram_budget_mb")
        if isinstance(budget, dict) and "pgbouncer" not in budget:
            found.append("platform: alorig_pgbouncer_enabled is true but "
                         "alorig_shared_ram_budget_mb.pgbouncer is not defined (PgBouncer's "
                         "memory limit, counted in the RAM budget)")
    policy = platform.get("alorig_redis_maxmemory_policy")
    if policy is not None:
        if policy in BROKER_EVICTING_POLICIES:
            found.append("platform: alorig_redis_maxmemory_policy %s would evict the apps' "
                         "Celery broker keys (queued tasks have no expiry and would be lost); "
                         "use one of %s" % (policy, ", ".join(SAFE_POLICIES)))
        elif policy not in SAFE_POLICIES:
            found.append("platform: alorig_redis_maxmemory_policy %r is not a Redis eviction "
                         "policy; use one of %s" % (policy, ", ".join(SAFE_POLICIES)))
    ttl = platform.get("alorig_redis_cache_ttl")
    if ttl is not None and (as_int(ttl) is None or as_int(ttl) <= 0):
        found.append("platform: alorig_redis_cache_ttl must be a positive integer (seconds), "
                     "got %r" % (ttl,))
    return found


def pool_size(database):
    """The app's PgBouncer pool: its own, or half its connection limit rounded up."""
    if "pool_size" in database:
        return database["pool_size"]
    return (database["connection_limit"] + 1) // 2


def project(platform, enabled):
    """``{"pgbouncer": {...}, "redis": {...}}`` for the enabled apps ``[(app, entry)]``."""
    values = settings(platform)
    return {
        "pgbouncer": {
            "enabled": values["pgbouncer_enabled"],
            "host": PGBOUNCER_HOST,
            "port": PGBOUNCER_PORT,
            "max_client_conn": values["max_client_conn"],
            "databases": [{"app": app, "name": entry["database"]["name"],
                           "owner": entry["database"]["owner"],
                           "pool_size": pool_size(entry["database"])}
                          for app, entry in enabled],
        },
        "redis": {"maxmemory_policy": values["maxmemory_policy"],
                  "cache_ttl": values["cache_ttl"]},
    }


def monitor_actions(platform):
    """Per monitored threshold: the seed's action and what the operator sets to take it."""
    values = settings(platform)
    if values["pgbouncer_enabled"]:
        postgres = ("PgBouncer is on: lower the busiest apps' database.pool_size, or raise "
                    "alorig_postgres_max_connections with the server's memory")
    else:
        postgres = ("add PgBouncer connection pooling: set alorig_pgbouncer_enabled: true "
                    "(per app database.pool_size) and converge")
    return {
        "postgres_connections": postgres,
        "celery_queue_length": (
            "add a worker or split queues: raise the app's celery_worker replicas or "
            "concurrency in alorig_apps, or add a celery_worker with its own queues"),
        "redis_memory_mb": (
            "review TTLs and eviction: lower the apps' redis.cache_ttl "
            "(alorig_redis_cache_ttl %ds now), check alorig_redis_maxmemory_policy (%s now; "
            "volatile-* evicts only keys with an expiry)"
            % (values["cache_ttl"], values["maxmemory_policy"])),
        "oom_kills": (
            "reduce workers: lower the killed container's concurrency or replicas in "
            "alorig_apps, or raise its app's ram_budget_mb"),
        "app_ram_p95_mb": (
            "the app runs above its budget: lower its workers (concurrency, replicas) or raise "
            "its ram_budget_mb in alorig_apps (the RAM sum must still fit)"),
        "steady_state_ram_mb": (
            "upgrade the VPS or move an app to its own host (seed 001 §10); meanwhile "
            "reduce workers (concurrency, replicas) of the largest apps"),
    }
