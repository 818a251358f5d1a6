"""Unit tests of the planning code of alorig.platform.app_state (module_utils app_state) and of
the filter alorig.platform.app_services."""

import copy
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.filter.app import app_services  # noqa: E402
from ansible_collections.alorig.platform.plugins.module_utils.app_state import (  # noqa: E402
    CREATE, NONE, RECREATE, START, UNPAUSE,
    container_action, manifest_problem, migration_lines, tree_manifest,
)

DECLARED = {"name": "psydge_backend", "image": "psydge-backend:abc", "memory_mb": 597,
            "restart_policy": "unless-stopped", "network": "alorig_net", "port": 8012,
            "bind_address": "127.0.0.1"}


def _inspect(**changes):
    info = {
        "Name": "/psydge_backend",
        "Config": {"Image": "psydge-backend:abc",
                   "Labels": {"com.docker.compose.project": "alorig-psydge",
                              "com.docker.compose.service": "psydge_backend"}},
        "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                  "Health": {"Status": "healthy", "Log": []}},
        "HostConfig": {"Memory": 597 * 1024 * 1024, "MemorySwap": 597 * 1024 * 1024,
                       "RestartPolicy": {"Name": "unless-stopped"},
                       "PortBindings": {"8012/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8012"}]}},
        "NetworkSettings": {"Networks": {"alorig_net": {}}},
    }
    for path, value in changes.items():
        target = info
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return info


def test_matching_container_needs_nothing():
    assert container_action(DECLARED, _inspect(), "alorig-psydge") == (NONE, "running")


@pytest.mark.parametrize("changes,action,reason", [
    ({"HostConfig__Memory": 100 * 1024 * 1024}, RECREATE, "memory limit 100 MB, declared 597 MB"),
    ({"HostConfig__MemorySwap": -1}, RECREATE, "memory+swap"),
    ({"HostConfig__RestartPolicy": {"Name": "no"}}, RECREATE, "restart policy 'no'"),
    ({"NetworkSettings__Networks": {"bridge": {}}}, RECREATE, "not attached to alorig_net"),
    ({"Config__Image": "psydge-backend:old"}, RECREATE, "runs image psydge-backend:old"),
    ({"HostConfig__PortBindings": {"8012/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8012"}]}},
     RECREATE, "published as 0.0.0.0:8012"),
    ({"Config__Labels": {}}, RECREATE, "not created by the app's compose project"),
    ({"State__Status": "paused", "State__Paused": True}, UNPAUSE, "paused"),
    ({"State__Status": "exited", "State__Running": False}, START, "exited"),
    ({"State__Status": "restarting", "State__Restarting": True}, RECREATE, "restarting"),
    ({"State__Health": {"Status": "unhealthy", "Log": [{"Output": "boom"}]}}, RECREATE,
     "unhealthy (boom)"),
    ({"State__Status": "dead", "State__Dead": True}, RECREATE, "dead"),
])
def test_drift_kinds(changes, action, reason):
    got_action, got_reason = container_action(DECLARED, _inspect(**changes), "alorig-psydge")
    assert got_action == action
    assert reason in got_reason


def test_missing_container_is_created():
    assert container_action(DECLARED, None, "alorig-psydge") == (CREATE, "missing")


def test_settings_drift_wins_over_state():
    info = _inspect(HostConfig__Memory=1, State__Status="paused", State__Paused=True)
    assert container_action(DECLARED, info, "alorig-psydge")[0] == RECREATE


def test_frontend_manifest(tmp_path):
    root = tmp_path / "static"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<html>")
    (root / "assets" / "app.js").write_text("js")
    manifest = {"release": "r1", "files": tree_manifest(str(root))}
    assert manifest_problem(str(root), manifest, "r1") is None
    assert manifest_problem(str(root), None, "r1") == "never exported (no manifest)"
    assert manifest_problem(str(root), manifest, "r2") == "exported for r1"
    (root / "assets" / "app.js").unlink()
    assert "1 file(s) missing (assets/app.js)" == manifest_problem(str(root), manifest, "r1")
    (root / "assets" / "app.js").write_text("changed")
    assert "changed" in manifest_problem(str(root), manifest, "r1")
    (root / "assets" / "app.js").write_text("js")
    (root / "evil.html").write_text("x")
    assert "not from the release" in manifest_problem(str(root), manifest, "r1")


def test_migration_lines():
    out = "Operations to perform:\n  Applying core.0001_initial... OK\n\n3 static files copied to '/data/static'.\n"
    assert migration_lines(out) == ["Applying core.0001_initial... OK",
                                    "3 static files copied to '/data/static'."]


INSTANCE = {
    "name": "psydge", "image": "psydge-backend", "redis_prefix": "psydge:",
    "hosts": ["psydge.com", "api.psydge.com", "*.x.psydge.com"],
    "api_base": "https://api.psydge.com", "ws_base": "wss://ws.psydge.com",
    "environment": {"FEATURE": 1}, "media": {"uploads": "/data/uploads"},
    "containers": [
        {"name": "psydge_backend", "kind": "backend", "port": 8012, "memory_mb": 597},
        {"name": "psydge_celery_worker", "kind": "celery_worker", "memory_mb": 448,
         "queues": ["celery", "video"], "concurrency": 3},
        {"name": "psydge_celery_beat", "kind": "celery_beat", "memory_mb": 298},
        {"name": "psydge_node", "kind": "node", "port": 8013, "memory_mb": 100,
         "image": "psydge-payload", "command": "node server.js"},
    ],
}
SETTINGS = {"tag": "TAG", "state_dir": "/opt/alorig/apps", "gunicorn_workers": 2,
            "gunicorn_threads": 4, "celery_concurrency": 1, "beat_tick_seconds": 5}


def test_app_services():
    services = dict((s["name"], s) for s in app_services(copy.deepcopy(INSTANCE), SETTINGS))
    backend = services["psydge_backend"]
    assert backend["image"] == "psydge-backend:TAG"
    assert backend["command"] == ["backend"]
    assert backend["volumes"] == {"media": "/data/media", "static": "/data/static"}
    assert backend["binds"] == ["/opt/alorig/apps/psydge/uploads:/data/uploads"]
    env = backend["environment"]
    assert env["DJANGO_ALLOWED_HOSTS"] == ("psydge.com,api.psydge.com,.x.psydge.com,localhost,"
                                           "127.0.0.1,psydge_backend,psydge_node")
    assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == "https://psydge.com,https://api.psydge.com"
    assert env["GUNICORN_THREADS"] == "4" and env["PORT"] == "8012" and env["FEATURE"] == "1"
    worker = services["psydge_celery_worker"]
    assert worker["environment"]["CELERY_QUEUES"] == "celery,video"
    assert worker["environment"]["CELERY_CONCURRENCY"] == "3"
    assert worker["healthcheck"][:2] == ["CMD", "python"]
    assert services["psydge_celery_beat"]["binds"] == []
    node = services["psydge_node"]
    assert node["image"] == "psydge-payload:TAG" and node["command"] == ["node server.js"]
    assert node["healthcheck"] == ["CMD", "alorig-app", "healthcheck", "/health"]
    assert all("DATABASE_URL" not in s["environment"] for s in services.values())
    json.dumps(list(services.values()))
