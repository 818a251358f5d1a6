# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the app deployment role (alorig_app)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: app_services
short_description: The containers of one app as the compose file and the release steps need them
description:
  - From an app's deployment spec (the registry model's projection, containers with their
    memory limits) and the role's settings, each container's image, command, environment
    (without secrets), memory limit, healthcheck, named volumes and bind mounts.
options:
  _input:
    description: The app's deployment spec (C(alorig_app_instance)).
    type: dict
    required: true
  settings:
    description: >-
      C(tag) (the image tag or its placeholder), C(state_dir), C(gunicorn_workers),
      C(gunicorn_threads), C(celery_concurrency), C(beat_tick_seconds).
    type: dict
    required: true
"""

EXAMPLES = r"""
__alorig_app_services: "{{ alorig_app_instance | alorig.platform.app_services(__alorig_app_settings) }}"
"""

RETURN = r"""
_value:
  description: One dict per container (name, kind, image, command, port, memory_mb, healthcheck, volumes, binds, environment).
  type: list
  elements: dict
"""

DEFAULT_COMMANDS = {"backend": ["backend"], "channels": ["channels"], "node": ["payload"],
                    "celery_worker": ["worker"], "celery_beat": ["beat"]}
# Named volumes per container kind: <app>_<name> mounted at the path.
KIND_VOLUMES = {"backend": {"media": "/data/media", "static": "/data/static"},
                "celery_worker": {"media": "/data/media"},
                "celery_beat": {"beat": "/data/beat"}}
REDIS_PING = ("import os, redis; redis.Redis.from_url(os.environ['REDIS_URL'], "
              "socket_timeout=5).ping()")


def common_environment(instance, settings):
    """The environment every container of the app gets (no secret)."""
    hosts = [h[1:] if h.startswith("*") else h for h in instance["hosts"]]
    ported = [c["name"] for c in instance["containers"] if c.get("port")]
    env = {
        "APP_NAME": instance["name"],
        "REDIS_KEY_PREFIX": instance["redis_prefix"],
        "DJANGO_ALLOWED_HOSTS": ",".join(hosts + ["localhost", "127.0.0.1"] + ported),
        "DJANGO_CSRF_TRUSTED_ORIGINS": ",".join("https://" + h for h in instance["hosts"]
                                                if "*" not in h),
        "CELERY_BEAT_TICK_SECONDS": str(settings.get("beat_tick_seconds", 5)),
        "CELERY_WORKER_ENABLE_REMOTE_CONTROL": "false",
        "FRONTEND_API_BASE": instance.get("api_base", ""),
        "FRONTEND_WS_BASE": instance.get("ws_base", ""),
        # Django's cache: the default expiry of the app's keys (Redis evicts only keys
        # with an expiry under the platform's volatile-* policy).
        "CACHE_DEFAULT_TIMEOUT": str(instance.get("cache_ttl", 300)),
        # DATABASE_URL goes through PgBouncer in transaction pooling mode: no server-side
        # cursors, no session state across transactions.
        "DATABASE_POOLING": "transaction" if (instance.get("database") or {}).get("pooled")
        else "none",
    }
    env.update(dict((k, str(v)) for k, v in (instance.get("environment") or {}).items()))
    return env


def app_services(instance, settings):
    name = instance["name"]
    common = common_environment(instance, settings)
    binds = ["%s/%s/%s:%s" % (settings["state_dir"].rstrip("/"), name, media, path)
             for media, path in sorted((instance.get("media") or {}).items())]
    services = []
    for c in instance["containers"]:
        env = dict(common)
        kind = c["kind"]
        if c.get("port"):
            env["PORT"] = str(c["port"])
        if kind == "backend":
            env["GUNICORN_WORKERS"] = str(c.get("concurrency", settings.get("gunicorn_workers", 2)))
            env["GUNICORN_THREADS"] = str(settings.get("gunicorn_threads", 2))
        elif kind == "celery_worker":
            env["CELERY_QUEUES"] = ",".join(c.get("queues") or ["celery"])
            env["CELERY_CONCURRENCY"] = str(c.get("concurrency",
                                                  settings.get("celery_concurrency", 2)))
            env["CELERY_WORKER_NAME"] = c["name"] + "@%h"
        env.update(dict((k, str(v)) for k, v in (c.get("environment") or {}).items()))
        if kind in ("backend", "channels"):
            health = ["CMD", "alorig-app", "healthcheck", "/health/"]
        elif kind == "node":
            health = ["CMD", "alorig-app", "healthcheck", "/health"]
        else:
            health = ["CMD", "python", "-c", REDIS_PING]
        command = c.get("command") or DEFAULT_COMMANDS[kind]
        services.append({
            "name": c["name"],
            "kind": kind,
            "image_name": c.get("image") or instance["image"],
            "image": "%s:%s" % (c.get("image") or instance["image"], settings["tag"]),
            "command": [command] if isinstance(command, str) else list(command),
            "port": c.get("port"),
            "memory_mb": int(c["memory_mb"]),
            "healthcheck": health,
            "volumes": dict(KIND_VOLUMES.get(kind, {})),
            "binds": binds if kind in ("backend", "celery_worker") else [],
            "environment": env,
        })
    return services


KINDS = tuple(DEFAULT_COMMANDS)
DEPLOYMENT_SETTINGS = (
    "tag", "state_dir", "gunicorn_workers", "gunicorn_threads", "celery_concurrency",
    "beat_tick_seconds", "project", "compose_file", "env_file", "restart_policy",
    "bind_address", "network_name", "healthcheck_interval", "healthcheck_timeout",
    "healthcheck_retries", "healthcheck_start_period", "healthcheck_start_interval",
    "compose_dir", "static_root", "media_owner", "release_health_timeout", "managed",
    "secret_env_keys")


def instance_errors(instance, settings):
    """What makes the instance unusable by the role, by key (no value is named)."""
    if not isinstance(instance, dict) or not instance.get("name"):
        return ["alorig_app_instance has no name"]
    errors = []
    if not isinstance(instance.get("enabled"), bool):
        errors.append("enabled is not a boolean")
    compose_name = instance.get("compose_name")
    if not isinstance(compose_name, str) or not compose_name[:1].isalpha() \
            or compose_name != compose_name.lower() \
            or any(not (ch.isalnum() or ch == "-") for ch in compose_name):
        errors.append("compose_name is not lower-case letters, digits and hyphens")
    if not instance.get("image"):
        errors.append("image is empty")
    containers = instance.get("containers") or []
    if not containers:
        errors.append("containers is empty")
    for c in containers:
        if c.get("kind") not in KINDS:
            errors.append("container %s: kind %r is not one of %s"
                          % (c.get("name", "?"), c.get("kind"), ", ".join(KINDS)))
        if c.get("memory_mb") is None:
            errors.append("container %s: memory_mb is missing" % c.get("name", "?"))
    if instance.get("enabled"):
        for key in ("DATABASE_URL", "REDIS_URL"):
            if key not in settings["secret_env_keys"]:
                errors.append("alorig_app_secret_env has no %s for the app" % key)
    if settings["bind_address"] not in ("127.0.0.1", "::1"):
        errors.append("alorig_app_bind_address %s is not loopback" % settings["bind_address"])
    return errors


def _json(value):
    # As Jinja's to_json wrote them (the compose files on converged hosts stay
    # byte for byte the same).
    return json.dumps(value)


def compose_document(instance, services, volume_names, settings):
    """docker-compose.<compose_name>.yml of the app: no secret (env_file), so --diff shows it."""
    name = instance["name"]
    managed = settings["managed"]
    env_base = settings["env_file"]
    database = "pgbouncer" if (instance.get("database") or {}).get("pooled") else "postgres"
    out = [
        "---",
        "# %s" % managed,
        "# %s (role alorig_app):" % instance.get("title", name),
        "# RAM budget %s MB split across the containers." % instance["ram_budget_mb"],
        "# Published ports bind to %s only: Caddy is the public entry." % settings["bind_address"],
        "# Secrets: %s (env_file, mode 0600)." % env_base,
        "name: %s" % settings["project"],
        "",
        "services:",
    ]
    for svc in services:
        out += [
            "  %s:" % svc["name"],
            '    image: "%s"' % svc["image"],
            "    container_name: %s" % svc["name"],
            "    command: %s" % _json(svc["command"]),
            "    restart: %s" % settings["restart_policy"],
            "    env_file: [%s]" % env_base,
            "    environment:",
        ]
        for key, value in sorted(svc["environment"].items()):
            out.append("      %s: %s" % (key, _json(str(value).replace("$", "$$"))))
        if svc["port"]:
            out += ["    ports:",
                    '      - "%s:%s:%s"' % (settings["bind_address"], svc["port"], svc["port"])]
        if svc["volumes"] or svc["binds"]:
            out.append("    volumes:")
            for vol, path in sorted(svc["volumes"].items()):
                out.append('      - "%s_%s:%s"' % (name, vol, path))
            for bind in svc["binds"]:
                out.append('      - "%s"' % bind)
        out += [
            '    mem_limit: "%sm"' % svc["memory_mb"],
            '    memswap_limit: "%sm"' % svc["memory_mb"],
            "    stop_grace_period: 30s",
            "    healthcheck:",
            "      test: %s" % _json(svc["healthcheck"]),
            "      interval: %s" % settings["healthcheck_interval"],
            "      timeout: %s" % settings["healthcheck_timeout"],
            "      retries: %s" % settings["healthcheck_retries"],
            "      start_period: %s" % settings["healthcheck_start_period"],
            "      start_interval: %s" % settings["healthcheck_start_interval"],
            "    labels:",
            '      org.alorig.app: "%s"' % name,
            '      org.alorig.kind: "%s"' % svc["kind"],
            '      org.alorig.memory_mb: "%s"' % svc["memory_mb"],
            "      # Where DATABASE_URL points: PgBouncer is removed only when no container"
            " says pgbouncer.",
            '      org.alorig.database: "%s"' % database,
            "    networks:",
            "      - alorig_net",
        ]
    out += ["", "networks:", "  alorig_net:",
            '    name: "%s"' % settings["network_name"], "    external: true"]
    if volume_names:
        out += ["", "volumes:"]
        for vol in volume_names:
            out += ["  %s_%s:" % (name, vol), "    name: %s_%s" % (name, vol),
                    "    external: true"]
    return "\n".join(out) + "\n"


def env_header(instance, settings):
    """The comment lines above the secrets in <compose_name>.env."""
    return ("# %s\n# Secrets of %s: the env_file of every service in\n"
            "# %s. Single-quoted values are taken literally.\n"
            % (settings["managed"], instance["name"], settings["compose_file"]))


def volume_names_of(services):
    return sorted(set(v for svc in services for v in svc["volumes"]))


def app_deployment(instance, settings):
    """Everything alorig_app derives from one instance, in one evaluation per app."""
    missing = [k for k in DEPLOYMENT_SETTINGS if k not in settings]
    if missing:
        raise AnsibleFilterError("app_deployment: settings lack %s" % ", ".join(missing))
    errors = instance_errors(instance, settings)
    if errors:
        raise AnsibleFilterError(
            "alorig_app: instance %s is incomplete: %s"
            % (instance.get("name", "?") if isinstance(instance, dict) else "?",
               "; ".join(errors)))
    name = instance["name"]
    services = app_services(instance, settings)
    backend = next((svc for svc in services if svc["kind"] == "backend"), None)
    volume_names = volume_names_of(services)
    state_dir = settings["state_dir"].rstrip("/")
    directories = [
        {"path": settings["compose_dir"], "owner": "root", "group": "root", "mode": "0750"},
        {"path": "%s/%s" % (state_dir, name), "owner": "root", "group": "root", "mode": "0750"},
    ]
    directories += [{"path": "%s/%s/%s" % (state_dir, name, media),
                     "owner": settings["media_owner"], "group": settings["media_owner"],
                     "mode": "0755"}
                    for media in sorted(instance.get("media") or {})]
    static_dir = "%s/%s" % (settings["static_root"], name)
    if instance.get("static"):
        directories.append({"path": static_dir, "owner": "root", "group": "root",
                            "mode": "0755"})
    image_names = []
    for image in [instance["image"]] + [c["image"] for c in instance["containers"]
                                        if c.get("image")]:
        if image not in image_names:
            image_names.append(image)
    gate = {}
    if backend is not None:
        gate = {
            "service": backend["name"],
            "image_name": backend["image_name"],
            "command": backend["command"],
            "environment": backend["environment"],
            "volumes": ["%s_%s:%s" % (name, vol, path)
                        for vol, path in backend["volumes"].items()],
            "binds": backend["binds"],
            "memory_mb": backend["memory_mb"],
            "healthcheck": backend["healthcheck"],
            "timeout": int(settings["release_health_timeout"]),
        }
    export = {}
    if instance.get("static"):
        export = {
            "dir": static_dir,
            "command": ["export-frontend", "/export"],
            "environment": {"APP_NAME": name,
                            "FRONTEND_API_BASE": instance.get("api_base"),
                            "FRONTEND_WS_BASE": instance.get("ws_base")},
        }
    return {
        "name": name,
        "services": services,
        "service_summaries": [dict((k, svc[k]) for k in ("name", "image_name", "memory_mb", "port"))
                              for svc in services],
        "backend": backend,
        "volumes": ["%s_%s" % (name, vol) for vol in volume_names],
        "directories": directories,
        "image_names": image_names,
        "gate": gate,
        "export": export,
        "compose": compose_document(instance, services, volume_names, settings),
        "env_header": env_header(instance, settings),
    }


def pick_from(names, mapping):
    """{name: mapping[name]} for each of names ({} for a name the mapping lacks)."""
    mapping = mapping or {}
    return dict((name, mapping.get(name) or {}) for name in names)


def app_failures(result, task, names):
    """The failures of an alorig.platform.app_state run, one entry per app that failed
    ({app, task, msg}); when the module failed before any app (no per-app results), every
    app it was given, with its message."""
    result = result or {}
    apps = result.get("apps") or {}
    failed = [(name, apps[name].get("msg") or "failed") for name in names
              if name in apps and apps[name].get("failed")]
    if not failed and not apps:
        failed = [(name, result.get("msg") or "failed") for name in names]
    return [{"app": name, "task": task, "msg": str(msg)[:1500]} for name, msg in failed]


class FilterModule(object):
    def filters(self):
        return {"app_services": app_services, "app_deployment": app_deployment,
                "pick_from": pick_from, "app_failures": app_failures}
