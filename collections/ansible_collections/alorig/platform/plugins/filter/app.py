# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the app deployment role (alorig_app)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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


class FilterModule(object):
    def filters(self):
        return {"app_services": app_services}
