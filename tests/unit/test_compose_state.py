"""Unit tests of the planning code of alorig.platform.compose_state (module_utils
compose_state): each drift kind of a shared service's container, orphans, and the record
of the last start (files changed, a container re-created outside the role)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.module_utils.compose_state import (  # noqa: E402
    CREATE, NONE, RECREATE, START, UNPAUSE, plan, service_action, size_bytes,
)

MB = 1024 * 1024
PROJECT = "alorig_infra"
COMPOSE = {
    "name": PROJECT,
    "services": {
        "redis": {"image": "redis:7", "container_name": "alorig_redis", "restart": "unless-stopped",
                  "mem_limit": "512m", "networks": ["alorig_net"]},
        "flower": {"image": "mher/flower:2.0", "container_name": "alorig_flower"},
    },
    "networks": {"alorig_net": {"name": "alorig_net", "external": True}},
}
IMAGES = {"redis:7": "sha256:" + "a" * 64, "mher/flower:2.0": "sha256:" + "b" * 64}


def _inspect(name="alorig_redis", service="redis", **changes):
    image = "redis:7" if service == "redis" else "mher/flower:2.0"
    info = {
        "Id": name,
        "Name": "/" + name,
        "Image": IMAGES.get(image, "sha256:" + "c" * 64),
        "Config": {"Image": image,
                   "Labels": {"com.docker.compose.project": PROJECT,
                              "com.docker.compose.service": service,
                              "com.docker.compose.config-hash": "h-" + service}},
        "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                  "Health": {"Status": "healthy", "Log": []}},
        "HostConfig": {"Memory": 512 * MB if service == "redis" else 0, "MemorySwap": 1024 * MB,
                       "RestartPolicy": {"Name": "unless-stopped" if service == "redis" else "no"}},
        "NetworkSettings": {"Networks": {"alorig_net" if service == "redis"
                                         else PROJECT + "_default": {}}},
    }
    for path, value in changes.items():
        target = info
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return info


RECORD = {"digest": "d1", "config_hashes": {"redis": "h-redis", "flower": "h-flower"}}


def _plan(containers, record=RECORD, digest="d1", images=IMAGES):
    return plan(PROJECT, COMPOSE, containers, images, record, digest)


def test_converged_project_needs_nothing():
    result = _plan([_inspect(), _inspect("alorig_flower", "flower")])
    assert result == {"containers": [("alorig_flower", NONE, "running"),
                                     ("alorig_redis", NONE, "running")],
                      "orphans": [], "up": None}


@pytest.mark.parametrize("changes,action,reason", [
    ({"HostConfig__Memory": 200 * MB}, RECREATE, "memory limit 200 MB, declared 512 MB"),
    ({"HostConfig__RestartPolicy": {"Name": "always"}}, RECREATE, "restart policy 'always'"),
    ({"NetworkSettings__Networks": {"bridge": {}}}, RECREATE, "not attached to alorig_net"),
    ({"Config__Image": "redis:6"}, RECREATE, "runs image redis:6, declared redis:7"),
    ({"Image": "sha256:" + "f" * 64}, RECREATE, "runs an older build of redis:7"),
    ({"Config__Labels": {}}, RECREATE, "not created by the compose project alorig_infra"),
    ({"State__Status": "paused", "State__Paused": True}, UNPAUSE, "paused"),
    ({"State__Status": "exited", "State__Running": False}, START, "exited"),
    ({"State__Status": "restarting", "State__Restarting": True}, RECREATE, "restarting"),
    ({"State__Health": {"Status": "unhealthy", "Log": [{"Output": "boom"}]}}, RECREATE,
     "unhealthy (boom)"),
    ({"State__Status": "dead", "State__Dead": True}, RECREATE, "dead"),
])
def test_drift_kinds(changes, action, reason):
    got_action, got_reason = service_action(PROJECT, COMPOSE, "redis", _inspect(**changes),
                                            IMAGES["redis:7"])
    assert got_action == action
    assert reason in got_reason


def test_missing_container_and_missing_image():
    assert service_action(PROJECT, COMPOSE, "redis", None, None) == (CREATE, "missing")
    action, reason = service_action(PROJECT, COMPOSE, "redis", _inspect(), None)
    assert (action, reason) == (RECREATE, "image redis:7 is not on the host")


def test_default_network_and_no_memory_limit():
    flower = _inspect("alorig_flower", "flower")
    assert service_action(PROJECT, COMPOSE, "flower", flower, IMAGES["mher/flower:2.0"])[0] == NONE
    limited = _inspect("alorig_flower", "flower", HostConfig__Memory=64 * MB)
    assert service_action(PROJECT, COMPOSE, "flower", limited, IMAGES["mher/flower:2.0"]) == (
        RECREATE, "memory limit 64 MB, declared none")


def test_orphans_are_named_one_shots_are_not():
    old = _inspect("alorig_portainer", "portainer")
    one_shot = _inspect("alorig_infra-run-1", "gone")
    one_shot["Config"]["Labels"]["com.docker.compose.oneoff"] = "True"
    result = _plan([_inspect(), _inspect("alorig_flower", "flower"), old, one_shot])
    assert result["orphans"] == ["alorig_portainer"]


@pytest.mark.parametrize("record,digest,hashes,reason", [
    (None, "d1", {}, "never started by this module"),
    (RECORD, "d2", {}, "its files changed since the last start"),
    # a hand-run `docker compose up` with another file re-created redis
    (RECORD, "d1", {"redis": "h-other"}, "redis re-created outside this role"),
])
def test_the_record_starts_the_project(record, digest, hashes, reason):
    redis = _inspect()
    redis["Config"]["Labels"]["com.docker.compose.config-hash"] = hashes.get("redis", "h-redis")
    result = _plan([redis, _inspect("alorig_flower", "flower")], record=record, digest=digest)
    assert reason in result["up"]
    assert [a for _n, a, _r in result["containers"]] == [NONE, NONE]


@pytest.mark.parametrize("value,expected", [
    ("512m", 512 * MB), ("1g", 1024 * MB), ("1536M", 1536 * MB), (1048576, MB),
    ("2048", 2048), (None, None), ("", None),
])
def test_sizes(value, expected):
    assert size_bytes(value) == expected


def test_a_size_compose_would_refuse_is_an_error():
    with pytest.raises(ValueError):
        size_bytes("lots")
