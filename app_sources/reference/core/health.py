"""Dependency checks used by /health/: a real SELECT 1 and a real Redis round-trip."""
import functools
import os
import socket
import threading
import time

import redis
from django.conf import settings
from django.db import connection


@functools.lru_cache(maxsize=1)
def redis_client():
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        socket_timeout=settings.REDIS_TIMEOUT,
        health_check_interval=30,
    )


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    if row != (1,):
        raise RuntimeError(f"SELECT 1 returned {row!r}")


def check_redis():
    client = redis_client()
    if not client.ping():
        raise RuntimeError("PING did not return PONG")
    # One key per process and thread: a health check running at the same time in
    # another gunicorn thread (or Docker's own check) must not overwrite this one's value.
    key = (f"{settings.REDIS_KEY_PREFIX}health:{socket.gethostname()}:"
           f"{os.getpid()}:{threading.get_ident()}")
    value = str(time.time())
    client.set(key, value, ex=60)
    got = client.get(key)
    if got is None or got.decode() != value:
        raise RuntimeError(f"GET {key} returned {got!r}, expected {value!r}")


def run_checks():
    """Return (all_ok, {"database": "ok"|error, "redis": "ok"|error})."""
    results = {}
    for name, check in (("database", check_database), ("redis", check_redis)):
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - report any failure as unhealthy
            if name == "database":
                connection.close()
            results[name] = f"error: {exc.__class__.__name__}: {exc}".strip()[:500]
    return all(v == "ok" for v in results.values()), results
